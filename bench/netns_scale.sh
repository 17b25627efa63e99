#!/usr/bin/env bash
# Benchmark (issue 13): `check --all-netns` on a node whose sockets are spread over many
# network namespaces. For each K of --namespaces, spreads --sockets established sockets over K
# throwaway namespaces (cdtool-popgen in each), then times, alternating, in one run:
#
#   one-pass       conndoctor check --all-netns --netns-scan one-pass --json --interval 0
#   per-namespace  conndoctor check --all-netns --netns-scan per-namespace --json --interval 0
#   ss loop        for ns in <the K namespaces>; do ip netns exec $ns ss -tan; done >/dev/null
#                  (what users do today)
#
# against the floor: one raw sock_diag dump (cdtool-rawdump) of all the sockets held in a single
# namespace, measured with K=1 in the same run. Prints a markdown table of medians and ratios.
#
#   bench/netns_scale.sh [--sockets 200000] [--namespaces "1 10 50 200"] [--reps 3]
#                        [--build DIR] [--out DIR]
#
# Needs root (ip netns) and GNU time. Only namespaces it creates (cdbench-nsscale-PID-K-I) are
# changed (their port range, somaxconn); they and every popgen go away on exit/INT/TERM.
# `check --all-netns` also reads the host's own namespace and any other that exists: run it on
# an otherwise idle machine.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

sockets=200000
ns_list="1 10 50 200"
reps=3
build="$repo/build"
out=""
while (($#)); do
  case $1 in
    --sockets) sockets=$2; shift 2 ;;
    --namespaces) ns_list=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --out) mkdir -p "$2" && out=$(cd "$2" && pwd); shift 2 ;;
    *) echo "bench: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
out=${out:-$build/bench-netns}
mkdir -p "$out"
conndoctor=$build/conndoctor
popgen=$build/tools/cdtool-popgen
rawdump=$build/tools/cdtool-rawdump
die() { echo "bench: $*" >&2; exit 1; }
for t in "$conndoctor" "$popgen" "$rawdump"; do
  [[ -x $t ]] || die "missing $t (cmake --build $build --target conndoctor cdtool-popgen cdtool-rawdump)"
done
[[ -x /usr/bin/time ]] || die "missing GNU time (scripts/install-deps.sh --bench)"
((EUID == 0)) || die "needs root (ip netns)"

prefix="cdbench-nsscale-$$"
popgens=()
namespaces=()
cleanup() {
  local p n
  for p in "${popgens[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${popgens[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  popgens=()
  for n in "${namespaces[@]}"; do ip netns del "$n" 2>/dev/null; done
  namespaces=()
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# "wall_s cpu_s" of one run of a shell command line.
measure() {
  local f="$out/time.txt"
  /usr/bin/time -f '%e %U %S' -o "$f" bash -c "$1" >/dev/null 2>>"$out/stderr.log"
  # GNU time writes "Command exited with non-zero status N" first when check's verdict is not ok
  tail -n 1 "$f" | awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

populate() {  # K: spread $sockets over K namespaces and wait until every popgen is ready
  local k=$1 per=$(($sockets / $1)) i n
  for ((i = 0; i < k; i++)); do
    n=$prefix-$k-$i
    ip netns add "$n" || die "cannot create namespace $n"
    namespaces+=("$n")
    ip -n "$n" link set lo up
    ip netns exec "$n" sh -c 'echo "10000 65535" >/proc/sys/net/ipv4/ip_local_port_range &&
      echo 65535 >/proc/sys/net/core/somaxconn &&
      echo 65535 >/proc/sys/net/ipv4/tcp_max_syn_backlog' || die "namespace sysctls"
    rm -f "$out/ready-$k-$i"
    ip netns exec "$n" nice -n 5 "$popgen" --sockets "$per" --churn-rate 0 --parallel 1 \
      --ready-file "$out/ready-$k-$i" >"$out/popgen-$k-$i.log" 2>&1 &
    popgens+=($!)
    # Not all at once: 200 fill-ups in parallel would only fight over 2 cores.
    if ((i % 8 == 7)); then wait_ready "$k" $((i + 1)); fi
  done
  wait_ready "$k" "$k"
}
wait_ready() {  # K N: the first N popgens of K are ready
  local k=$1 n=$2 i
  for ((i = 0; i < n; i++)); do
    until [[ -s $out/ready-$k-$i ]]; do
      kill -0 "${popgens[$i]}" 2>/dev/null || die "popgen $k-$i failed: $(tail -n 3 "$out/popgen-$k-$i.log")"
      sleep 0.2
    done
  done
}

table="$out/results.md"
{
  echo "| namespaces | sockets each | one-pass (s, wall / CPU) | × floor | per-namespace (s) | × floor | ss loop (s) | × floor |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$table"
floor_wall=""
for k in $ns_list; do
  echo "bench: K=$k: filling $k namespaces with $sockets sockets" >&2
  t0=$EPOCHREALTIME
  populate "$k"
  echo "bench: K=$k ready in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s" >&2
  loop="for n in ${namespaces[*]}; do ip netns exec \$n ss -tan; done"
  one="$conndoctor check --all-netns --netns-scan one-pass --json --interval 0"
  per="$conndoctor check --all-netns --netns-scan per-namespace --json --interval 0"
  # Warm-up (not timed), and the proof that both modes saw every socket.
  $one >"$out/one-$k.json" 2>"$out/one-$k.err" || true
  $per >"$out/per-$k.json" 2>"$out/per-$k.err" || true
  python3 - "$out/one-$k.json" "$out/per-$k.json" "$prefix-$k-" <<'PY' || die "K=$k: the two modes disagree"
import json, sys
def est(path):
    doc = json.load(open(path))
    n = {}
    for ns in doc["namespaces"]:
        if (ns["name"] or "").startswith(sys.argv[3]):
            n[ns["name"]] = ns["report"]["resources"]["sockets"]["by_state"].get("ESTABLISHED", 0)
    return n
a, b = est(sys.argv[1]), est(sys.argv[2])
assert a == b, "one-pass and per-namespace differ"
print("bench: both modes count %d ESTABLISHED sockets in %d namespaces" % (sum(a.values()), len(a)), file=sys.stderr)
PY
  : >"$out/raw-$k.txt"
  for ((r = 1; r <= reps; r++)); do
    if ((k == 1)); then
      echo "floor $(ip netns exec "${namespaces[0]}" /usr/bin/time -f '%e %U %S' "$rawdump" 2>&1 >/dev/null | tail -n 1 | awk '{ printf "%.3f %.3f", $1, $2 + $3 }')" >>"$out/raw-$k.txt"
    fi
    echo "one $(measure "$one")" >>"$out/raw-$k.txt"
    echo "per $(measure "$per")" >>"$out/raw-$k.txt"
    echo "loop $(measure "$loop")" >>"$out/raw-$k.txt"
  done
  if ((k == 1)); then floor_wall=$(awk '$1 == "floor" { print $2 }' "$out/raw-$k.txt" | median); fi
  m() { awk -v w="$1" '$1 == w { print $2 }' "$out/raw-$k.txt" | median; }
  c() { awk -v w="$1" '$1 == w { print $3 }' "$out/raw-$k.txt" | median; }
  x() { awk -v a="$1" -v f="${floor_wall:-0}" 'BEGIN { if (f > 0) printf "%.2f", a / f; else print "?" }'; }
  echo "| $k | $(($sockets / k)) | $(m one) / $(c one) | $(x "$(m one)") | $(m per) | $(x "$(m per)") | $(m loop) | $(x "$(m loop)") |" >>"$table"
  tail -n 1 "$table" >&2
  cleanup
  sleep 3
done
echo >>"$table"
echo "Floor: one raw sock_diag dump of all $sockets sockets in one namespace (cdtool-rawdump, K=1): ${floor_wall:-?} s (median of $reps)." >>"$table"
cat "$table"
