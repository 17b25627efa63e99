#!/usr/bin/env bash
# lab fd-exhaustion: a server at its own soft fd limit (64), accept() fails with EMFILE:
# file_descriptors critical, naming its pid and comm.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
lab_run fd-exhaustion
lab_check '
pid = observed_pid("cdlab-fdhog")
expect(any("EMFILE" in o for o in observed), "the generator saw no EMFILE")
fd = findings("file_descriptors", "critical")
expect(fd, "no critical file_descriptors finding")
expect(any(f["evidence"].get("pid") == pid and f["evidence"].get("comm") == "cdlab-fdhog" for f in fd),
       "finding does not name pid %d / cdlab-fdhog" % pid)
'
lab_assert_no_leftovers
