#!/usr/bin/env bash
# Slow and hostile clients against `conndoctor serve`: N trickling clients (each sends one byte
# of a never-ending request header every --trickle-ms, below any per-read timeout, and
# reconnects when the server drops it) plus M concurrent scrapers of /metrics (keep-alive,
# each scrape lost if not answered within --timeout s, Prometheus' default scrape timeout).
# On loopback, inside a network namespace this script creates, for a bounded time.
#
# The exporter's RSS, thread count and fd count are sampled every 0.5 s: idle before the
# load, the peak during it, and again --settle s after it ended. Prints one markdown row and
# writes it, the samples and the load tool's result to the output directory.
#
#   bench/serve_slow.sh [--build DIR] [--seconds 30] [--trickle 200] [--scrapers 50]
#                       [--trickle-ms 1000] [--timeout 10] [--settle 5] [--out DIR]
#                       [-- extra `conndoctor serve` options]
#
# Needs root (unshare -n). Nothing outside the namespace is touched; everything this script
# starts ends on exit, INT or TERM. Exit status 0 when every scrape was answered 200 within
# 2 s (max), threads and fds were back to their idle values after the load, and RSS within
# 4 MiB of its idle value.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
build="$repo/build"
seconds=30
trickle=200
scrapers=50
trickle_ms=1000
timeout_s=10
settle=5
out=""
inner=0
serve_opts=()
while (($#)); do
  case $1 in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --trickle) trickle=$2; shift 2 ;;
    --scrapers) scrapers=$2; shift 2 ;;
    --trickle-ms) trickle_ms=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --settle) settle=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --inner) inner=1; shift ;;
    --) shift; serve_opts=("$@"); break ;;
    *) echo "serve_slow: unknown option $1" >&2; exit 2 ;;
  esac
done
conndoctor=$build/conndoctor
load=$build/tools/cdtool-httpload
[[ -x "$conndoctor" && -x "$load" ]] || { echo "serve_slow: build conndoctor and cdtool-httpload in $build first" >&2; exit 2; }
((seconds > 0 && seconds <= 300)) || { echo "serve_slow: --seconds 1..300" >&2; exit 2; }
((settle >= 0 && settle <= 60)) || { echo "serve_slow: --settle 0..60" >&2; exit 2; }

if ((inner == 0)); then
  [[ $(id -u) -eq 0 ]] || { echo "serve_slow: needs root (unshare -n)" >&2; exit 2; }
  out=${out:-$(mktemp -d /tmp/serve-slow.XXXXXX)}
  mkdir -p "$out"
  exec timeout -k 10 $((seconds + settle + timeout_s + 60)) unshare -n bash "$0" --inner \
    --build "$build" --seconds "$seconds" --trickle "$trickle" --scrapers "$scrapers" \
    --trickle-ms "$trickle_ms" --timeout "$timeout_s" --settle "$settle" --out "$out" \
    -- "${serve_opts[@]}"
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

"$conndoctor" serve --listen 127.0.0.1:9877 "${serve_opts[@]}" 2>"$out/serve.err" &
serve=$!
pids+=($serve)
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/9877) 2>/dev/null && break
  sleep 0.1
done

# probe: "rss_kib threads fds" of the exporter now.
probe() {
  echo "$(awk '/^VmRSS/ {print $2}' /proc/$serve/status) $(awk '/^Threads/ {print $2}' /proc/$serve/status) $(ls /proc/$serve/fd | wc -l)"
}
# One scrape first, so that idle RSS includes a collection and its analysis.
"$load" --port 9877 --clients 1 --seconds 1 >/dev/null
sleep 1
read -r rss_idle thr_idle fd_idle < <(probe)

(while kill -0 "$serve" 2>/dev/null; do probe; sleep 0.5; done) >"$out/samples" &
sampler=$!
result=$("$load" --port 9877 --clients "$scrapers" --trickle "$trickle" --trickle-ms "$trickle_ms" \
  --timeout "$timeout_s" --seconds "$seconds")
kill "$sampler"
wait "$sampler" 2>/dev/null
sleep "$settle"
read -r rss_after thr_after fd_after < <(probe)
echo "$result" >"$out/result"
read -r rss_peak thr_max fd_max < <(awk '
  {if ($1 > r) r = $1; if ($2 > t) t = $2; if ($3 > f) f = $3}
  END {print r, t, f}' "$out/samples")

get() { sed -n "s/.* $1=\\([^ ]*\\).*/\\1/p" <<<" $result"; }
lost=$(($(get errors) + $(get bad_status)))
echo "| trickling | scrapers | s | scrapes ok | lost | p50 ms | p99 ms | max ms | trickling conns dropped by the server | longest held s | threads idle → max → after | fds idle → max → after | RSS KiB idle → peak → after |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
held_s=$(awk -v ms="$(get trickle_max_held_ms)" 'BEGIN {printf "%.1f", ms / 1000}')
echo "| $trickle | $scrapers | $seconds | $(get ok) | $lost | $(get p50_ms) | $(get p99_ms) | $(get max_ms) | $(get trickle_dropped) of $(get trickle_connections) | $held_s | $thr_idle → $thr_max → $thr_after | $fd_idle → $fd_max → $fd_after | $rss_idle → $rss_peak → $rss_after |"
echo "load tool: $result"
echo "samples and results: $out"
fail=0
((lost == 0)) || { echo "serve_slow: $lost scrapes lost"; fail=1; }
awk -v m="$(get max_ms)" 'BEGIN {exit !(m + 0 <= 2000)}' || { echo "serve_slow: slowest scrape $(get max_ms) ms > 2000 ms"; fail=1; }
((thr_after == thr_idle)) || { echo "serve_slow: threads $thr_after after, $thr_idle idle"; fail=1; }
((fd_after <= fd_idle)) || { echo "serve_slow: fds $fd_after after, $fd_idle idle"; fail=1; }
((rss_after - rss_idle < 4096)) || { echo "serve_slow: RSS $rss_after KiB after, $rss_idle KiB idle"; fail=1; }
exit $fail
