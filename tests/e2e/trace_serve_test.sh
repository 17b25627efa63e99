#!/usr/bin/env bash
# `conndoctor serve --trace` in a network namespace of its own: a scrape passes
# `promtool check metrics`, conndoctor_trace_up is 1, and connects refused inside the namespace
# appear in conndoctor_connect_failures_total with their exact count, labelled by comm and
# destination (not pid). After SIGTERM nothing stays attached.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/serve_lib.sh"
source "$here/trace_lib.sh"
command -v promtool >/dev/null || serve_skip "no promtool (scripts/install-deps.sh installs prometheus)"
tools=${TOOLS_DIR:-$(dirname "$CONNDOCTOR")/tools}
connfail=$tools/cdtool-connfail
[[ -x $connfail ]] || serve_skip "load tool $connfail is not built"
trace_require
serve_in_netns "$@"

"$CONNDOCTOR" serve --trace --listen 127.0.0.1:9877 --min-interval 0 --no-processes \
  2>"$SERVE_TMP/serve.err" &
serve_pid=$!
SERVE_PIDS+=("$serve_pid")
wait_for_http /healthz 15 || serve_fail "serve did not come up: $(cat "$SERVE_TMP/serve.err")"
"$connfail" --to 127.0.0.1:9 --count 6 >"$SERVE_TMP/connfail.txt" || serve_fail "connfail failed"
refused=$(awk '$1 == "ECONNREFUSED" {print $2}' "$SERVE_TMP/connfail.txt")
[[ $refused -eq 6 ]] || serve_fail "the client saw $(cat "$SERVE_TMP/connfail.txt")"
http_get /metrics
[[ "$HTTP_STATUS" == 200 ]] || serve_fail "/metrics answered $HTTP_STATUS"
printf '%s\n' "$HTTP_BODY" >"$SERVE_TMP/metrics.txt"
promtool check metrics <"$SERVE_TMP/metrics.txt" >"$SERVE_TMP/lint.txt" 2>&1 ||
  serve_fail "promtool check metrics: $(head -20 "$SERVE_TMP/lint.txt")"
grep -q '^conndoctor_trace_up 1$' "$SERVE_TMP/metrics.txt" ||
  serve_fail "conndoctor_trace_up is not 1: $(grep trace_up "$SERVE_TMP/metrics.txt")"
line='conndoctor_connect_failures_total{errno="ECONNREFUSED",comm="cd-connfail",destination="127.0.0.1:9"} 6'
grep -qF "$line" "$SERVE_TMP/metrics.txt" ||
  serve_fail "no '$line': $(grep connect_failures "$SERVE_TMP/metrics.txt")"
kill -TERM "$serve_pid"
wait "$serve_pid"
trace_assert_detached "serve --trace and SIGTERM"
echo "ok: serve --trace exports the 6 refused connects; promtool accepts the scrape"
