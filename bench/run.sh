#!/usr/bin/env bash
# Benchmark: fills a throwaway network namespace with N established sockets (cdtool-popgen),
# then times, pair by pair in one run, the raw sock_diag floor (cdtool-rawdump) against
# conndoctor check (with and without attribution), ss, lsof, the article's pipeline and one
# /metrics scrape of a running `conndoctor serve` (issue 17: a scrape costs no more than a
# check). Prints a markdown table (medians, ratios, peak RSS) and writes it to the output
# directory.
#
#   bench/run.sh [--sockets "200000 1000000"] [--reps 5] [--build DIR] [--out DIR]
#                [--slow-limit SECONDS] [--churn-rate 100] [--perf] [--ns-prefix cdbench]
#
# Needs root (ip netns), ss, lsof, GNU time (/usr/bin/time); scripts/install-deps.sh --bench.
# Nothing outside the namespace is changed; the namespace and popgen go away on exit/INT/TERM.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

sockets_list="200000"
reps=5
build="$repo/build"
out=""
slow_limit=900  # seconds one run of one command may take before it is stopped
churn_rate=100
perf=0
inner=0
ns_name=""
ns_prefix=cdbench  # the namespace is PREFIX-PID-N
while (($#)); do
  case $1 in
    --sockets) sockets_list=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --out) mkdir -p "$2" && out=$(cd "$2" && pwd); shift 2 ;;
    --slow-limit) slow_limit=$2; shift 2 ;;
    --churn-rate) churn_rate=$2; shift 2 ;;
    --perf) perf=1; shift ;;
    --ns-prefix) ns_prefix=$2; shift 2 ;;
    --inner) inner=1; ns_name=$2; shift 2 ;;  # internal: the timing half, inside the namespace
    *) echo "bench: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
out=${out:-$build/bench}
mkdir -p "$out"

conndoctor=$build/conndoctor
popgen=$build/tools/cdtool-popgen
rawdump=$build/tools/cdtool-rawdump

die() { echo "bench: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# Inner half: runs inside the namespace, so that no command pays for `ip netns exec`.
# ---------------------------------------------------------------------------------------------

# One timed run: "wall_s cpu_s peak_rss_kib" (the exit status is in GNU time's file). Every command goes through the same
# timeout + GNU time wrappers, so their (~2 ms) overhead is the same on both sides of a ratio.
# CPU = user + sys of the command and its children (bash's `time`, ms resolution): on a shared
# machine the wall time also counts waiting for a CPU, the CPU time does not.
measure() {
  local cmd=$1 tmp=$2 rc rss real user sys
  local -a argv
  if [[ $cmd == *'|'* ]]; then argv=(bash -c "$cmd"); else read -ra argv <<<"$cmd"; fi
  local TIMEFORMAT='%3R %3U %3S'
  rm -f "$tmp/rss"
  # GNU time outside timeout: a command stopped at the limit is still reaped by timeout, so its
  # CPU time and RSS reach GNU time and bash's `time` (the other way round they are lost).
  { time /usr/bin/time -f %M -o "$tmp/rss" timeout --kill-after=10 "$slow_limit" "${argv[@]}" \
      >/dev/null 2>"$tmp/stderr"; } 2>"$tmp/time"
  read -r real user sys <"$tmp/time"
  rss=$(tail -n 1 "$tmp/rss" 2>/dev/null)
  [[ $rss =~ ^[0-9]+$ ]] || rss=0
  printf '%s %s %s\n' "$real" "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.3f", u + s }')" "$rss"
}

# One /metrics scrape of the serve started by run_inner (its pid $2, port $3): "wall_s cpu_s
# peak_rss_kib exit". CPU is the exporter's own user + sys over the scrape (/proc/PID/stat,
# clock ticks); peak RSS is its VmHWM since it started (every scrape so far included).
serve_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
measure_scrape() {
  local tmp=$1 pid=$2 port=$3 t0 t1 c0 c1 rc hz rss
  hz=$(getconf CLK_TCK)
  c0=$(serve_ticks "$pid")
  t0=$EPOCHREALTIME
  curl -sf -o /dev/null --max-time "$slow_limit" "http://127.0.0.1:$port/metrics" 2>"$tmp/stderr"
  rc=$?
  t1=$EPOCHREALTIME
  c1=$(serve_ticks "$pid")
  rss=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
  awk -v a="$t0" -v b="$t1" -v c0="$c0" -v c1="$c1" -v hz="$hz" -v rss="${rss:-0}" -v rc="$rc" \
    'BEGIN { printf "%.3f %.3f %d %d\n", b - a, (c1 - c0) / hz, rss, rc }'
}

run_inner() {
  local n=$1 tmp samples
  tmp=$(mktemp -d /tmp/cdbench-inner.XXXXXX)
  samples=$out/samples-$n.tsv
  : >"$samples"

  # Pair order matters to summarize.awk: ss -tanp is the 5th, lsof the 6th. "check
  # (attribution)" is the default, --fd-scan auto (the BPF fd scan at these sizes, when
  # permitted; the report's file_descriptors.fd_scan says which ran); the 7th pair is the
  # /proc/PID/fd fallback an unprivileged or BPF-less host gets; the 8th, one /metrics scrape
  # of a serve that has already loaded its BPF fd scan (measured apart: measure_scrape).
  local -a names=("check --no-attribution" "check (attribution)" "ss -tan" "ss -tan \| awk \| sort \| uniq -c" "ss -tanp" "lsof -nP -iTCP" "check (attribution) --fd-scan procfs")
  local -a cmds=(
    "$conndoctor check --json --interval 0 --no-attribution"
    "$conndoctor check --json --interval 0"
    "ss -tan"
    "ss -tan | awk 'NR>1{print \$1}' | sort | uniq -c"
    "ss -tanp"
    "lsof -nP -iTCP"
    "$conndoctor check --json --interval 0 --fd-scan procfs"
  )
  local floor="$rawdump"

  # The exporter for the scrape pair: every scrape collects (--min-interval 0), with the
  # defaults of check (attribution, --fd-scan auto). Port 9911 of this namespace only.
  local serve_port=9911 i
  "$conndoctor" serve --listen "127.0.0.1:$serve_port" --min-interval 0 >/dev/null \
    2>"$out/serve-$n.log" &
  serve_pid=$!  # global: the EXIT trap of the inner half stops it
  trap 'kill -TERM "$serve_pid" 2>/dev/null' EXIT
  for i in $(seq 600); do
    curl -sf -o /dev/null "http://127.0.0.1:$serve_port/healthz" && break
    kill -0 "$serve_pid" 2>/dev/null || { echo "bench: serve failed: $(tail -n 2 "$out/serve-$n.log")" >&2; return 1; }
    sleep 0.5
  done
  curl -sf -o /dev/null "http://127.0.0.1:$serve_port/metrics"  # warm-up scrape (not timed)
  names+=("serve: one /metrics scrape")
  cmds+=("@scrape")

  # Warm-up (not timed): page cache for the binaries, /proc dentries for the fd scan.
  $floor >/dev/null
  $conndoctor check --json --interval 0 >"$out/check-$n.json" 2>/dev/null
  local population fd_scan
  population=$($floor)
  fd_scan=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["resources"]["file_descriptors"]["fd_scan"])' "$out/check-$n.json" 2>/dev/null || echo '?')

  local i r max_reps wall cpu rss rc
  for i in "${!names[@]}"; do
    max_reps=$reps
    for ((r = 1; r <= max_reps; r++)); do
      for kind in floor cmd; do
        local c=$floor
        [[ $kind == cmd ]] && c=${cmds[$i]}
        if [[ $c == "@scrape" ]]; then
          read -r wall cpu rss rc < <(measure_scrape "$tmp" "$serve_pid" "$serve_port")
          ((rc == 28)) && rc=124  # curl: timed out
          ((rc != 0 && rc != 124)) && rc=3
        else
        read -r wall cpu rss < <(measure "$c" "$tmp")
        # `time` reports the status of the pipeline's last command: take it from GNU time.
        rc=0
        grep -q 'exited with non-zero status\|Command terminated by signal' "$tmp/rss" 2>/dev/null &&
          rc=$(grep -o '[0-9]\+' <<<"$(grep 'status\|signal' "$tmp/rss")" | head -n 1)
        grep -q 'Command terminated by signal' "$tmp/rss" 2>/dev/null && rc=$((128 + rc))
        [[ -s $tmp/rss ]] || rc=124
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$kind" "$r" "$wall" "$cpu" "$rss" "$rc" >>"$samples"
      done
      if [[ ${cmds[$i]} == "$conndoctor"* || ${cmds[$i]} == "@scrape" ]] && ((rc >= 3)); then
        echo "bench: '${names[$i]}' failed (exit $rc): $(head -c 300 "$tmp/stderr")" >&2
        kill -TERM "$serve_pid" 2>/dev/null
        wait "$serve_pid" 2>/dev/null
        rm -rf "$tmp"
        return 1
      fi
      if ((rc == 124 || rc == 137)); then
        echo "bench: '${names[$i]}' stopped after ${slow_limit}s" >&2
        break
      fi
      # Slow reference tools: fewer repetitions (a median of 3, or 1 run past two minutes).
      if awk -v w="$wall" 'BEGIN { exit !(w > 120) }'; then max_reps=1
      elif awk -v w="$wall" 'BEGIN { exit !(w > 20) }' && ((max_reps > 3)); then max_reps=3; fi
    done
    echo "bench: N=$n ${names[$i]}: done" >&2
  done
  kill -TERM "$serve_pid" 2>/dev/null
  wait "$serve_pid" 2>/dev/null

  local joined
  joined=$(printf '%s\t' "${names[@]}")
  {
    echo "### N = $n established sockets"
    echo
    echo "Population (cdtool-rawdump): \`$population\`; $(cat "$out/procs-$n" 2>/dev/null || echo '?') popgen processes."
    echo "Default attribution ran with fd_scan = $fd_scan (from the warm-up report)."
    echo "Kernel $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end;"
    echo "conndoctor $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$repo" diff --quiet 2>/dev/null || echo '+dirty'), $(date -u +%Y-%m-%dT%H:%MZ)."
    echo
    awk -v names="${joined%$'\t'}" -v limit="$slow_limit" -f "$here/summarize.awk" "$samples"
    echo
  } >"$out/results-$n.md"

  if ((perf)) && command -v perf >/dev/null; then
    # cpu-clock: hardware counters are not exposed in this VM (perf stat -e instructions fails).
    local mode
    for mode in no-attribution attribution; do
      local extra=()
      [[ $mode == no-attribution ]] && extra=(--no-attribution)
      perf record -q -e cpu-clock -F 4000 -o "$out/perf-$n-$mode.data" -- \
        "$conndoctor" check --json --interval 0 "${extra[@]}" >/dev/null 2>&1
      perf report -i "$out/perf-$n-$mode.data" --stdio --no-children --percent-limit 0.5 \
        --sort dso,symbol 2>/dev/null | grep -v '^#' | grep -v '^$' | cut -c1-120 \
        >"$out/perf-$n-$mode.txt"
    done
  fi
  rm -rf "$tmp"
  return 0
}

if ((inner)); then
  for n in $sockets_list; do run_inner "$n" || exit 1; done
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# Outer half: the namespace and the population.
# ---------------------------------------------------------------------------------------------
[[ $(id -u) -eq 0 ]] || die "needs root (ip netns add)"
for t in "$conndoctor" "$popgen" "$rawdump"; do
  [[ -x $t ]] || die "missing $t (build: cmake --build $build --target conndoctor cdtool-popgen cdtool-rawdump)"
done
for t in ss lsof ip /usr/bin/time timeout; do
  command -v "$t" >/dev/null || die "missing $t (scripts/install-deps.sh --bench)"
done

ns=""
popgen_pid=""
cleanup() {
  if [[ -n $popgen_pid ]]; then
    kill -TERM "$popgen_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$popgen_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$popgen_pid" 2>/dev/null
    wait "$popgen_pid" 2>/dev/null
    popgen_pid=""
  fi
  if [[ -n $ns ]]; then
    ip netns del "$ns" 2>/dev/null
    ns=""
  fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

echo "bench: free memory before: $(free -m | awk '/^Mem:/ { print $7 }') MiB available" >&2
for n in $sockets_list; do
  ns=$ns_prefix-$$-$n
  ip netns add "$ns" || die "cannot create network namespace $ns"
  ip -n "$ns" link set lo up
  # Inside the namespace only: a wide port range (no tuple runs short), a deep accept queue
  # so that popgen's connects never wait for a SYN retransmit.
  ip netns exec "$ns" sh -c 'echo "10000 65535" >/proc/sys/net/ipv4/ip_local_port_range &&
    echo 65535 >/proc/sys/net/core/somaxconn &&
    echo 65535 >/proc/sys/net/ipv4/tcp_max_syn_backlog' || die "cannot set namespace sysctls"

  rm -f "$out/ready-$n"
  t0=$EPOCHREALTIME
  ip netns exec "$ns" nice -n 5 "$popgen" --sockets "$n" --churn-rate "$churn_rate" \
    --ready-file "$out/ready-$n" >"$out/popgen-$n.log" 2>&1 &
  popgen_pid=$!
  until [[ -s $out/ready-$n ]]; do
    kill -0 "$popgen_pid" 2>/dev/null || die "popgen failed: $(tail -n 3 "$out/popgen-$n.log")"
    sleep 1
  done
  cp "$out/ready-$n" "$out/procs-$n"
  echo "bench: N=$n population ready in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s; $(free -m | awk '/^Mem:/ { print $7 }') MiB available" >&2
  sleep 5  # let the TIME_WAIT churn run a little

  ip netns exec "$ns" bash "$0" --inner "$ns" --sockets "$n" --reps "$reps" --build "$build" \
    --out "$out" --slow-limit "$slow_limit" $( ((perf)) && echo --perf) || die "timing failed for N=$n"
  cat "$out/results-$n.md"
  cleanup
  # Let the namespace's sockets be freed before the next population.
  sleep 5
done
cat "$out"/results-*.md >"$out/results.md" 2>/dev/null
echo "bench: results in $out/results.md" >&2
