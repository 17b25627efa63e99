#!/usr/bin/env bash
# The flight recorder's cost (issue 11): in a throwaway namespace holding N established sockets
# (cdtool-popgen, as bench/run.sh builds it), cdtool-history_bench collects and records SAMPLES
# samples the way `watch` does and prints the medians: the collection's and the sample write's
# CPU and wall time, and how many bytes the database grows by per sample (→ MiB/day at
# --every 10s).
#
#   bench/history.sh [--sockets 200000] [--samples 30] [--build DIR]
#
# Needs root (ip netns). Nothing outside the namespace changes; it and popgen go away on exit.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
sockets=200000
samples=30
build="$repo/build"
while (($#)); do
  case $1 in
    --sockets) sockets=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    *) echo "bench: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
popgen=$build/tools/cdtool-popgen
tool=$build/tools/cdtool-history_bench
for t in "$popgen" "$tool"; do
  [[ -x $t ]] || { echo "bench: missing $t (cmake --build $build --target cdtool-popgen cdtool-history_bench)" >&2; exit 1; }
done
ns=cdhist-bench-$$
tmp=$(mktemp -d)
popgen_pid=
cleanup() {
  if [[ -n $popgen_pid ]]; then
    kill -TERM "$popgen_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$popgen_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$popgen_pid" 2>/dev/null
    wait "$popgen_pid" 2>/dev/null
  fi
  ip netns del "$ns" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ip netns add "$ns" || exit 1
ip -n "$ns" link set lo up
ip netns exec "$ns" sh -c 'echo "10000 65535" >/proc/sys/net/ipv4/ip_local_port_range &&
  echo 65535 >/proc/sys/net/core/somaxconn && echo 65535 >/proc/sys/net/ipv4/tcp_max_syn_backlog'
ip netns exec "$ns" nice -n 5 "$popgen" --sockets "$sockets" --churn-rate 100 \
  --ready-file "$tmp/ready" >"$tmp/popgen.log" 2>&1 &
popgen_pid=$!
until [[ -s $tmp/ready ]]; do
  kill -0 "$popgen_pid" 2>/dev/null || { echo "bench: popgen failed: $(tail -3 "$tmp/popgen.log")" >&2; exit 1; }
  sleep 1
done
echo "bench: $sockets sockets ready ($(cat "$tmp/ready") popgen processes)" >&2
ip netns exec "$ns" "$tool" "$tmp/history.db" "$samples"
