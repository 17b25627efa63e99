#!/usr/bin/env bash
# lab fd-leak: a process leaks fds at a steady pace, far below its soft limit when diagnosed:
# file_descriptors critical from the two-reading forecast, naming the leaker, with
# seconds_to_exhaustion within a minute.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
lab_run fd-leak
lab_check '
fd = findings("file_descriptors", "critical", "application")
expect(fd, "no critical file_descriptors finding")
ev = fd[0]["evidence"]
expect(ev.get("comm") == "cdlab-leaker", "leaker not named: %r" % ev.get("comm"))
expect(ev.get("pid") == observed_pid("cdlab-leaker"), "pid is not the leaker pid")
expect(ev.get("soft_limit") == 2048, "its own soft limit not used: %r" % ev.get("soft_limit"))
expect((ev.get("growth_per_s") or 0) > 0, "no fd growth measured: %r" % ev.get("growth_per_s"))
ste = ev.get("seconds_to_exhaustion")
expect(ste is not None and 0 < ste <= 60, "no forecast within 60 s: %r" % ste)
expect(ev.get("open") < 0.9 * ev.get("soft_limit"), "already at the 90 percent line: the forecast was not the reason")
'
lab_assert_no_leftovers
