#!/usr/bin/env bash
# lab idle: an empty namespace: status ok, exit 0.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
lab_run idle
lab_check '
expect(r["status"] == "ok" and rc == 0, "idle is not ok")
expect(not findings(severity=["warning", "critical"]), "warning or critical finding in an idle namespace")
'
lab_assert_no_leftovers
