#!/usr/bin/env bash
# `conndoctor serve` on loopback in a network namespace of its own: `promtool check metrics`
# accepts a live scrape, /report is the check JSON, auth and bad configurations behave, the
# alert rules pass `promtool check rules` and `promtool test rules`, and every metric that the
# rules and the dashboard use is a documented one.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/serve_lib.sh"
command -v promtool >/dev/null || serve_skip "no promtool (scripts/install-deps.sh installs prometheus)"
SOURCE_DIR=${SOURCE_DIR:-$(cd "$here/../.." && pwd)}
serve_in_netns "$@"

# 1. A live scrape passes promtool's exposition checks and lints.
"$CONNDOCTOR" serve --listen 127.0.0.1:9877 --min-interval 0 2>"$SERVE_TMP/serve.err" &
SERVE_PIDS+=($!)
serve_pid=$!
wait_for_http /healthz 15 || serve_fail "serve did not come up: $(cat "$SERVE_TMP/serve.err")"
http_get /metrics
[[ "$HTTP_STATUS" == 200 ]] || serve_fail "/metrics answered $HTTP_STATUS"
printf '%s\n' "$HTTP_BODY" >"$SERVE_TMP/metrics.txt"
if ! promtool check metrics <"$SERVE_TMP/metrics.txt" >"$SERVE_TMP/lint.txt" 2>&1; then
  serve_fail "promtool check metrics: $(head -20 "$SERVE_TMP/lint.txt")"
fi
grep -q '^conndoctor_up 1$' "$SERVE_TMP/metrics.txt" || serve_fail "conndoctor_up is not 1"
grep -q '^conndoctor_tcp_sockets{state="LISTEN"} [1-9]' "$SERVE_TMP/metrics.txt" ||
  serve_fail "the exporter's own listener is not counted"
http_get /report
[[ "$HTTP_STATUS" == 200 ]] || serve_fail "/report answered $HTTP_STATUS"
grep -q '"schema": "conndoctor/report/v1"' <<<"$HTTP_BODY" || serve_fail "/report is not the v1 JSON"

# Every exported family is documented.
for name in $(grep -o '^# TYPE conndoctor_[a-z0-9_]*' "$SERVE_TMP/metrics.txt" | awk '{print $3}'); do
  grep -q "\`$name\`" "$SOURCE_DIR/docs/metrics.md" || serve_fail "$name is not in docs/metrics.md"
done

# 2. SIGTERM stops it gracefully (exit 0).
kill -TERM "$serve_pid"
wait "$serve_pid"
rc=$?
[[ $rc -eq 0 ]] || serve_fail "serve exited $rc on SIGTERM"
grep -q 'stopped (SIGTERM)' "$SERVE_TMP/serve.err" || serve_fail "no graceful stop message"

# 3. Auth from a file; bad configurations are refused with one line and exit 3.
printf '# scrape token\nbearer e2e-token-0123456789abcdef\n' >"$SERVE_TMP/auth"
chmod 600 "$SERVE_TMP/auth"
"$CONNDOCTOR" serve --listen 127.0.0.1:9877 --auth-file "$SERVE_TMP/auth" 2>"$SERVE_TMP/serve2.err" &
SERVE_PIDS+=($!)
wait_for_http /healthz 15 || serve_fail "serve with auth did not come up"
http_get /metrics
[[ "$HTTP_STATUS" == 401 ]] || serve_fail "/metrics without a token answered $HTTP_STATUS"
http_get /metrics "Authorization: Bearer e2e-token-0123456789abcdef"
[[ "$HTTP_STATUS" == 200 ]] || serve_fail "/metrics with the token answered $HTTP_STATUS"

refused() {  # expected-text args...
  local expect=$1 out rc
  shift
  out=$(timeout 10 "$CONNDOCTOR" serve "$@" 2>&1 >/dev/null)
  rc=$?
  [[ $rc -eq 3 ]] || serve_fail "serve $* exited $rc, want 3"
  [[ $(wc -l <<<"$out") -eq 1 ]] || serve_fail "serve $*: not one line: $out"
  grep -q -- "$expect" <<<"$out" || serve_fail "serve $*: '$out' does not say '$expect'"
}
chmod 644 "$SERVE_TMP/auth"
refused "readable or writable by every user" --listen 127.0.0.1:9878 --auth-file "$SERVE_TMP/auth"
refused "No such file" --listen 127.0.0.1:9878 --auth-file "$SERVE_TMP/absent"
refused "both --tls-cert and --tls-key" --listen 127.0.0.1:9878 --tls-cert "$SERVE_TMP/auth"
refused "not an IP address" --listen localhost:9878
refused "Address already in use" --listen 127.0.0.1:9877

# 4. The alert rules: syntax, unit tests, and the metric names they use.
rules=$SOURCE_DIR/deploy/prometheus
promtool check rules "$rules/conndoctor-rules.yml" >"$SERVE_TMP/rules.txt" 2>&1 ||
  serve_fail "promtool check rules: $(cat "$SERVE_TMP/rules.txt")"
(cd "$rules" && promtool test rules conndoctor-rules.test.yml) >"$SERVE_TMP/rtest.txt" 2>&1 ||
  serve_fail "promtool test rules: $(head -40 "$SERVE_TMP/rtest.txt")"
for f in "$rules/conndoctor-rules.yml" "$SOURCE_DIR/deploy/grafana/conndoctor-dashboard.json"; do
  for name in $(grep -o 'conndoctor_[a-z0-9_]*' "$f" | sort -u); do
    grep -q "\`$name\`" "$SOURCE_DIR/docs/metrics.md" || serve_fail "$(basename "$f") uses $name, which is not exported"
  done
done
echo "ok: promtool accepts the exposition and the rules; auth and bad configs behave"
