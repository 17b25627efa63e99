#!/usr/bin/env bash
# Load test of `conndoctor serve`. 50 concurrent clients (cdtool-httpload) hammer /metrics on
# loopback, inside a network namespace that this script creates, for a bounded time. The
# exporter's RSS, thread count and fd count are sampled every 0.5 s. Three phases:
#   1. keep-alive clients;
#   2. a new connection per request;
#   3. keep-alive clients plus slow clients that send half a request and then nothing.
# Prints one markdown row per phase and writes them, with the samples, to the output directory.
#
#   bench/serve_load.sh [--build DIR] [--seconds 20] [--clients 50] [--slow 20] [--out DIR]
#                       [--min-interval 5]
#
# Needs root (unshare -n). Nothing outside the namespace is touched. Everything this script
# starts ends on exit, INT or TERM. The exit status is 0 when no response was lost, threads
# and fds stayed flat, and RSS grew by less than 32 MiB in every phase.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
build="$repo/build"
seconds=20
clients=50
slow=20
min_interval=5
out=""
while (($#)); do
  case $1 in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --slow) slow=$2; shift 2 ;;
    --min-interval) min_interval=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --inner) inner=1; shift ;;
    *) echo "serve_load: unknown option $1" >&2; exit 2 ;;
  esac
done
conndoctor=$build/conndoctor
load=$build/tools/cdtool-httpload
[[ -x "$conndoctor" && -x "$load" ]] || { echo "serve_load: build conndoctor and cdtool-httpload in $build first" >&2; exit 2; }
((seconds > 0 && seconds <= 300)) || { echo "serve_load: --seconds 1..300" >&2; exit 2; }

if [[ "${inner:-0}" != 1 ]]; then
  [[ $(id -u) -eq 0 ]] || { echo "serve_load: needs root (unshare -n)" >&2; exit 2; }
  out=${out:-$(mktemp -d /tmp/serve-load.XXXXXX)}
  mkdir -p "$out"
  exec timeout -k 10 $((seconds * 3 + 60)) unshare -n bash "$0" --inner --build "$build" \
    --seconds "$seconds" --clients "$clients" --slow "$slow" --min-interval "$min_interval" --out "$out"
fi

ip link set lo up
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT
trap 'exit 143' TERM INT

"$conndoctor" serve --listen 127.0.0.1:9877 --min-interval "$min_interval" 2>"$out/serve.err" &
serve=$!
pids+=($serve)
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/9877) 2>/dev/null && break
  sleep 0.1
done

# sample FILE: one "t rss_kib threads fds" line every 0.5 s until killed.
sample() {
  local t=0
  while kill -0 "$serve" 2>/dev/null; do
    echo "$t $(awk '/^VmRSS/ {print $2}' /proc/$serve/status) $(awk '/^Threads/ {print $2}' /proc/$serve/status) $(ls /proc/$serve/fd | wc -l)"
    sleep 0.5
    t=$((t + 1))
  done >"$1"
}

fail=0
"$load" --port 9877 --clients 1 --seconds 1 >/dev/null
sleep 0.5
baseline_fds=$(ls /proc/$serve/fd | wc -l)
echo "| phase | clients | s | responses | lost | req/s | p50 ms | p99 ms | max ms | RSS KiB start → peak → end | threads min–max | fds start → max → end |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
phase() {  # name, then cdtool-httpload options
  local name=$1
  shift
  # Warm-up: one scrape, so that RSS includes the first collection and its analysis.
  "$load" --port 9877 --clients 1 --seconds 1 >/dev/null
  sample "$out/$name.samples" &
  local sampler=$!
  local result
  result=$("$load" --port 9877 --clients "$clients" --seconds "$seconds" "$@")
  sleep 1
  kill "$sampler"
  wait "$sampler" 2>/dev/null
  echo "$result" >"$out/$name.result"
  get() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" <<<" $result"; }
  local rss_start rss_peak rss_end thr_min thr_max fd_start fd_max fd_end lost
  read -r rss_start rss_peak rss_end thr_min thr_max fd_start fd_max fd_end < <(awk '
    NR == 1 {rs = $2; f0 = $4; tmin = $3; tmax = $3; rp = $2; fm = $4}
    {if ($2 > rp) rp = $2; if ($3 < tmin) tmin = $3; if ($3 > tmax) tmax = $3; if ($4 > fm) fm = $4; re = $2; fe = $4}
    END {print rs, rp, re, tmin, tmax, f0, fm, fe}' "$out/$name.samples")
  lost=$(($(get errors) + $(get bad_status)))
  echo "| $name | $clients | $seconds | $(get ok) | $lost | $(get rps) | $(get p50_ms) | $(get p99_ms) | $(get max_ms) | $rss_start → $rss_peak → $rss_end | $thr_min–$thr_max | $fd_start → $fd_max → $fd_end |"
  [[ "$name" == slow* ]] && echo "  (slow clients: $(get idle), dropped by the server's read timeout: $(get idle_dropped))"
  # Flat: no thread appears under load, and fds return to where they were. Responses are lost
  # only if a client got an error or a non-200.
  ((lost == 0)) || fail=1
  ((thr_max == thr_min)) || fail=1
  ((fd_end <= baseline_fds)) || fail=1  # every connection's fd given back
  ((rss_peak - rss_start < 32768)) || fail=1  # KiB: bounded, whatever the phase
}
phase keep-alive
phase new-connection --new-connection
phase slow-clients --idle "$slow"
exec 3<>/dev/tcp/127.0.0.1/9877
printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3
echo "exporter counters: $(grep -E '^conndoctor_(collections|scrapes|scrapes_shared)_total ' <&3 | tr '\n' ' ')"
exec 3<&-
echo "samples and results: $out"
exit $fail
