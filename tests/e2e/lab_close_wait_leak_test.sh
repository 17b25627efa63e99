#!/usr/bin/env bash
# lab close-wait-leak: a server never closes after the peer's FIN: close_wait, application,
# naming the server's pid.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
lab_run close-wait-leak
lab_check '
pid = observed_pid("cdlab-server")
expect(r["resources"]["sockets"]["by_state"]["CLOSE_WAIT"] >= 500, "CLOSE_WAIT did not pile up")
cw = findings("close_wait", ["warning", "critical"], "application")
expect(cw, "no application-layer close_wait finding")
expect(any(f["evidence"].get("pid") == pid for f in cw), "close_wait finding does not name pid %d" % pid)
'
lab_assert_no_leftovers
