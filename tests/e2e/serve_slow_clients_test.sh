#!/usr/bin/env bash
# Slow and hostile clients cannot stall `conndoctor serve` (loopback, in a network namespace of
# its own). Functional checks, no timing assertions (the latency figures are in
# bench/serve_slow.sh and docs/benchmarks.md):
# 1. clients that trickle a never-ending request header, one byte every 0.5 s (well within the
#    2 s read timeout, so a per-read timeout would never end them), are disconnected by the
#    whole-request deadline, while concurrent scrapes are all answered 200;
# 2. with --max-connections reached, a new client is answered 503 "too many connections", and
#    is served again once the holders leave;
# 3. afterwards the exporter is back to its idle number of fds.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/serve_lib.sh"
TOOLS_DIR=${TOOLS_DIR:-$(dirname "$CONNDOCTOR")/tools}
load=$TOOLS_DIR/cdtool-httpload
[[ -x "$load" ]] || serve_skip "cdtool-httpload not built at $load"
command -v ss >/dev/null || serve_skip "no ss (iproute2)"
SERVE_TEST_TIMEOUT=120 serve_in_netns "$@"

fds_of() { ls "/proc/$1/fd" | wc -l; }

# 1. Trickling clients and scrapers together.
"$CONNDOCTOR" serve --listen 127.0.0.1:9877 --min-interval 1 --read-timeout 2 \
  2>"$SERVE_TMP/serve.err" &
SERVE_PIDS+=($!)
serve=$!
wait_for_http /healthz 20 || serve_fail "serve did not come up: $(cat "$SERVE_TMP/serve.err")"
http_get /metrics
[[ "$HTTP_STATUS" == 200 ]] || serve_fail "/metrics answered $HTTP_STATUS"
sleep 1
idle_fds=$(fds_of "$serve")

result=$("$load" --port 9877 --clients 4 --trickle 6 --trickle-ms 500 --timeout 10 --seconds 8)
echo "load: $result"
get() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" <<<" $result"; }
(($(get ok) > 0)) || serve_fail "no scrape answered while slow clients were connected"
(($(get errors) == 0 && $(get bad_status) == 0)) ||
  serve_fail "scrapes lost while slow clients were connected: $(get errors) errors, $(get bad_status) not 200"
# Each of the 6 trickling clients runs for 7 s against a 2 s deadline: the server must have
# ended some of their connections, however regularly they sent.
(($(get trickle_dropped) >= 6)) ||
  serve_fail "trickling clients were not disconnected: $(get trickle_dropped) of $(get trickle_connections) connections ended by the server"
echo "trickling: $(get trickle_dropped) of $(get trickle_connections) connections ended by the server; $(get ok) scrapes answered 200"

# 2. The connection cap: 4 connections, each halfway through a request, read timeout 60 s.
"$CONNDOCTOR" serve --listen 127.0.0.1:9878 --max-connections 4 --read-timeout 60 \
  2>"$SERVE_TMP/serve-cap.err" &
SERVE_PIDS+=($!)
capped=$!
SERVE_PORT=9878 wait_for_http /healthz 20 || serve_fail "capped serve did not come up"
cap_idle=$(fds_of "$capped")
for fd in 5 6 7 8; do
  eval "exec $fd<>/dev/tcp/127.0.0.1/9878" || serve_fail "holder $fd could not connect"
  printf 'GET /metr' >&"$fd"
done
# Until the exporter holds all four (each is an fd of its own).
for _ in $(seq 100); do
  (($(fds_of "$capped") >= cap_idle + 4)) && break
  sleep 0.1
done
(($(fds_of "$capped") >= cap_idle + 4)) || serve_fail "the exporter did not accept the 4 holders"
SERVE_PORT=9878 http_get /metrics
[[ "$HTTP_STATUS" == 503 ]] || serve_fail "past the cap: /metrics answered $HTTP_STATUS, want 503"
grep -q "too many connections (limit 4)" <<<"$HTTP_BODY" || serve_fail "503 without the reason: $HTTP_BODY"
echo "cap reached: $HTTP_STATUS $HTTP_BODY"
for fd in 5 6 7 8; do eval "exec $fd>&-"; done
ok=0
for _ in $(seq 50); do
  SERVE_PORT=9878 http_get /metrics
  [[ "$HTTP_STATUS" == 200 ]] && { ok=1; break; }
  sleep 0.1
done
((ok)) || serve_fail "below the cap again, /metrics still answered $HTTP_STATUS"

# 3. Back to idle: every connection's fd given back.
for pid_idle in "$serve:$idle_fds" "$capped:$cap_idle"; do
  pid=${pid_idle%:*} want=${pid_idle#*:}
  for _ in $(seq 100); do
    (($(fds_of "$pid") <= want)) && break
    sleep 0.1
  done
  (($(fds_of "$pid") <= want)) || serve_fail "serve $pid holds $(fds_of "$pid") fds, $want when idle"
done
echo "ok: trickling clients cut by the deadline, scrapes answered, 503 past the cap, fds back to idle"
