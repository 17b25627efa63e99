#!/usr/bin/env bash
# lab server-close: the server closes first, TIME_WAIT lands on the server side: a time_wait
# finding in the application layer (keep-alive), and no port exhaustion.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
lab_run server-close
lab_check '
expect(r["resources"]["sockets"]["time_wait_server"] >= 1000, "fewer than 1,000 server-side TIME_WAIT")
tw = findings("time_wait", ["warning", "critical"], "application")
expect(tw, "no application-layer time_wait finding")
expect(not findings("ephemeral_ports", ["warning", "critical"]), "port finding for server-side TIME_WAIT")
plan = " ".join(c for f in tw for s in f["remediation"] for c in s["commands"])
expect("tcp_tw_reuse" not in plan, "tw_reuse recommended for server-side TIME_WAIT")
'
lab_assert_no_leftovers
