#!/usr/bin/env bash
# conndoctor trace leaves nothing attached: after a normal end, after SIGTERM (which still
# writes the report), and after SIGKILL (nothing is pinned: the kernel drops the programs with
# their last fd). Without the privileges to trace it exits 3 with one line and no stdout.
set -uo pipefail
source "$(dirname "$0")/trace_lib.sh"
trace_require
TMP=$(mktemp -d)
trap 'kill -KILL ${TRACE_PID:-} 2>/dev/null; rm -rf "$TMP"' EXIT

# A normal end after --duration.
"$CONNDOCTOR" trace --duration 0.5 --json >"$TMP/normal.json" 2>"$TMP/normal.err"
rc=$?
[[ $rc -eq 0 ]] || { echo "FAIL: trace --duration 0.5 exited $rc: $(cat "$TMP/normal.err")"; exit 1; }
python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); assert t["schema"]=="conndoctor/trace/v1" and t["interrupted"] is False, t' \
  "$TMP/normal.json" || { echo "FAIL: the normal report"; exit 1; }
trace_assert_detached "a normal end"

# SIGTERM ends early and still reports.
TRACE_OUT=$TMP/term.json
trace_start "$TRACE_OUT" --duration 600
trace_stop TERM
python3 -c 'import json,sys; t=json.load(open(sys.argv[1])); assert t["interrupted"] is True, t' \
  "$TRACE_OUT" || { echo "FAIL: no complete report after SIGTERM"; exit 1; }
trace_assert_detached "SIGTERM"

# SIGKILL: no chance to clean up, and still nothing stays.
TRACE_OUT=$TMP/kill.json
trace_start "$TRACE_OUT" --duration 600
kill -KILL "$TRACE_PID"
wait "$TRACE_PID" 2>/dev/null
trace_assert_detached "SIGKILL"

# Not permitted: exit 3, one line on stderr, nothing on stdout.
if command -v setpriv >/dev/null; then
  setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
    "$CONNDOCTOR" trace --duration 1 --json >"$TMP/np.out" 2>"$TMP/np.err"
  rc=$?
  if [[ $rc -ne 3 || -s "$TMP/np.out" || $(wc -l <"$TMP/np.err") -ne 1 ]]; then
    echo "FAIL: unprivileged trace: exit $rc, stdout $(wc -c <"$TMP/np.out") bytes, stderr: $(cat "$TMP/np.err")"
    exit 1
  fi
  echo "unprivileged: $(cat "$TMP/np.err")"
  trace_assert_detached "an unprivileged attempt"
fi
echo "ok: nothing attached after a normal end, SIGTERM and SIGKILL"
