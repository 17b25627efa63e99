#!/usr/bin/env bash
# Cost of `conndoctor trace`: a loopback connection storm (cdtool-storm: connect + close as
# fast as the machine allows) in a throwaway namespace, alternating runs without and with the
# tracer attached (`conndoctor trace --all-netns`, so that every event on the host passes
# through the programs), and the ratio of the medians. Also the tracer's map memory (bpftool
# map list: memlock) and its peak RSS (VmHWM).
#
#   bench/trace_cost.sh [--reps 7] [--seconds 5] [--build DIR]
#
# Needs root and bpftool. Run it on an idle
# machine: the figure is a ratio of two throughputs, and any other load skews it.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
reps=7
seconds=5
build="$repo/build"
while (($#)); do
  case $1 in
    --reps) reps=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    *) echo "usage: $0 [--reps N] [--seconds S] [--build DIR]" >&2; exit 2 ;;
  esac
done
cd="$build/conndoctor"
storm="$build/tools/cdtool-storm"
[[ -x $cd && -x $storm ]] || { echo "build conndoctor and cdtool-storm first" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 2; }

ns=cdbench-trace-$$
tmp=$(mktemp -d)
tracer=""
cleanup() {
  [[ -n $tracer ]] && kill -INT "$tracer" 2>/dev/null && wait "$tracer" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
ip netns add "$ns" && ip -n "$ns" link set lo up || exit 1

start_tracer() {
  "$cd" trace --all-netns --duration 3600 --json >"$tmp/trace.json" 2>"$tmp/trace.err" &
  tracer=$!
  for ((i = 0; i < 200; i++)); do
    [[ $(bpftool prog list | grep -c ' name cdt_') -ge 4 ]] && return 0
    sleep 0.05
  done
  echo "the tracer did not attach: $(cat "$tmp/trace.err")" >&2
  exit 1
}
stop_tracer() {
  awk '/^VmHWM/ {print $2}' "/proc/$tracer/status" >"$tmp/rss"  # peak RSS, KiB
  kill -INT "$tracer"
  wait "$tracer"
  tracer=""
}

without=()
with=()
for ((r = 1; r <= reps; r++)); do
  w=$(ip netns exec "$ns" "$storm" --seconds "$seconds" | awk '{print $8}')
  without+=("$w")
  start_tracer
  if ((r == 1)); then
    bpftool map list | awk '/name (failures|churn|drops|syn_retrans|conns|async_pending) /{m=1; next} m && /memlock/ {for (i=1;i<=NF;i++) if ($i=="memlock") s+=$(i+1); m=0} END {print s}' \
      >"$tmp/memlock"
  fi
  t=$(ip netns exec "$ns" "$storm" --seconds "$seconds" | awk '{print $8}')
  with+=("$t")
  stop_tracer
  echo "round $r: without $w/s, with tracer $t/s" >&2
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
m0=$(median "${without[@]}")
m1=$(median "${with[@]}")
echo "| storm (connect+close on loopback, ${seconds} s x ${reps}) | connections/s (median) |"
echo "|---|---|"
echo "| without the tracer | $m0 |"
echo "| with \`conndoctor trace --all-netns\` | $m1 |"
echo "| ratio with/without | $(awk -v a="$m1" -v b="$m0" 'BEGIN {printf "%.3f", a / b}') |"
echo
echo "tracer maps memlock: $(cat "$tmp/memlock" 2>/dev/null) (bytes, bpftool map list); tracer peak RSS: $(cat "$tmp/rss" 2>/dev/null | tail -1) KiB"
# bcc's tcpconnect/tcplife (Debian bpfcc-tools) side by side, when they can run here: they
# compile their programs against the running kernel's headers at start.
for tool in tcpconnect-bpfcc tcplife-bpfcc; do
  if ! command -v "$tool" >/dev/null; then
    echo "$tool: not installed (scripts/install-deps.sh --bench installs bpfcc-tools)"
    continue
  fi
  timeout 30 "$tool" >"$tmp/bcc.out" 2>&1 &
  bcc=$!
  sleep 5
  if ! kill -0 "$bcc" 2>/dev/null; then
    echo "$tool: cannot run here: $(grep -m1 -iE 'unable|error|cannot' "$tmp/bcc.out" || head -1 "$tmp/bcc.out")"
    continue
  fi
  b=$(ip netns exec "$ns" "$storm" --seconds "$seconds" | awk '{print $8}')
  kill -INT "$bcc" 2>/dev/null
  wait "$bcc" 2>/dev/null
  echo "| with \`$tool\` | $b |"
done
echo "command: bench/trace_cost.sh --reps $reps --seconds $seconds; kernel $(uname -r), $(nproc) CPUs"
