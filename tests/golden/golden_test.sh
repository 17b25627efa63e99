#!/usr/bin/env bash
# Byte-for-byte outputs on the recorded fixtures: every text, JSON and metrics rendering of
# check, explain, rules and serve, compared with tests/golden/expected/. Guards refactors
# ("behaviour unchanged"); a deliberate change of output regenerates the files with
#   CONNDOCTOR=build/conndoctor bash tests/golden/golden_test.sh --update
# and the diff is reviewed in the commit like any other change.
set -euo pipefail
# The English outputs whatever the caller's locale (--lang defaults from LC_ALL/LC_MESSAGES/LANG).
export LC_ALL=C
unset LANGUAGE LC_MESSAGES LANG
here=$(cd "$(dirname "$0")" && pwd)
fix=${FIXTURES:-$here/../fixtures}
bin=${CONNDOCTOR:?CONNDOCTOR must name the conndoctor binary}
expected=$here/expected
update=0
[[ ${1:-} == --update ]] && update=1

out=$(mktemp -d)
serve_pid=
cleanup() {
  [[ -n $serve_pid ]] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
  rm -rf "$out"
}
trap cleanup EXIT

host=$fix/proc/host_6_18
# name | arguments (word-split; fixture paths have no spaces)
cases=()
for d in ports_exhausted server_time_wait close_wait_leak accept_queue_full; do
  base="check --interval 0 --proc-root $host --sock-diag-dump $fix/dumps/$d.nldump --color never"
  cases+=("check_${d}_text|$base")
  cases+=("check_${d}_verbose|$base -v")
  cases+=("check_${d}_json|$base --json")
done
ct="check --interval 0 --proc-root $host --sock-diag-dump $fix/dumps/ports_exhausted.nldump --conntrack-dump $fix/conntrack/snat_router.nfdump --color never"
cases+=("check_snat_router_text|$ct")
cases+=("check_snat_router_json|$ct --json")
cases+=("check_old_kernel_json|check --interval 0 --proc-root $fix/proc/old_kernel_4_19 --sock-diag-dump $fix/dumps/ports_exhausted.nldump --json")
cases+=("check_old_kernel_text|check --interval 0 --proc-root $fix/proc/old_kernel_4_19 --sock-diag-dump $fix/dumps/ports_exhausted.nldump --color never")
for q in "EADDRNOTAVAIL" "too many open files" "tcp_tw_recycle" "nf_conntrack: table full, dropping packet" "ECONNREFUSED" "time_wait"; do
  slug=$(tr -c 'a-zA-Z0-9\n' '_' <<<"$q")
  cases+=("explain_${slug}_text|explain|$q")
  cases+=("explain_${slug}_json|explain --json|$q")
done
cases+=("rules|rules")
cases+=("lab_list|lab list")
# Simplified Chinese (po/zh_CN.po): the same runs with --lang zh; JSON stays English (checked
# below against the English file).
for d in ports_exhausted close_wait_leak accept_queue_full; do
  base="check --interval 0 --proc-root $host --sock-diag-dump $fix/dumps/$d.nldump --color never"
  cases+=("check_${d}_text_zh|$base --lang zh")
done
cases+=("check_snat_router_text_zh|$ct --lang zh")
cases+=("check_ports_exhausted_json_zh|check --interval 0 --proc-root $host --sock-diag-dump $fix/dumps/ports_exhausted.nldump --color never --json --lang zh")
for q in "EADDRNOTAVAIL" "too many open files"; do
  slug=$(tr -c 'a-zA-Z0-9\n' '_' <<<"$q")
  cases+=("explain_${slug}_text_zh|explain --lang zh|$q")
done
cases+=("lab_list_zh|lab list --lang zh")

run_case() {  # name, args, [one quoted argument]
  local name=$1 args=$2 extra=${3-}
  local rc=0
  if [[ -n $extra ]]; then
    # shellcheck disable=SC2086
    "$bin" $args "$extra" >"$out/$name.out" 2>/dev/null || rc=$?
  else
    # shellcheck disable=SC2086
    "$bin" $args >"$out/$name.out" 2>/dev/null || rc=$?
  fi
  echo "exit $rc" >>"$out/$name.out"
}

for c in "${cases[@]}"; do
  IFS='|' read -r name args extra <<<"$c"
  run_case "$name" "$args" "$extra"
done

# Metrics and /report through a real serve on a loopback port the kernel picks; the two
# figures that measure the scrape itself vary from run to run and are left out.
for d in ports_exhausted close_wait_leak accept_queue_full; do
  "$bin" serve --listen 127.0.0.1:0 --proc-root "$host" --sock-diag-dump "$fix/dumps/$d.nldump" \
    2>"$out/serve.err" &
  serve_pid=$!
  port=
  for _ in $(seq 100); do
    port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$out/serve.err")
    [[ -n $port ]] && break
    sleep 0.05
  done
  [[ -n $port ]] || { echo "golden: serve did not start: $(cat "$out/serve.err")" >&2; exit 1; }
  curl -sf "http://127.0.0.1:$port/metrics" |
    grep -v -e '^conndoctor_scrape_duration_seconds ' -e '^conndoctor_scrape_age_seconds ' \
      >"$out/serve_${d}_metrics.out"
  curl -sf "http://127.0.0.1:$port/report" >"$out/serve_${d}_report.out"
  kill "$serve_pid" && wait "$serve_pid" 2>/dev/null || true
  serve_pid=
done

# What describes the machine and the moment, not the fixture, is masked.
for f in "$out"/*.out; do
  sed -i -E -e 's/"(hostname|kernel|generated_at)": "[^"]*"/"\1": "*"/' "$f"
done
# --lang zh leaves JSON in English, byte for byte.
if ! cmp -s "$out/check_ports_exhausted_json.out" "$out/check_ports_exhausted_json_zh.out"; then
  echo "golden: check --json --lang zh differs from check --json:"
  diff -u "$out/check_ports_exhausted_json.out" "$out/check_ports_exhausted_json_zh.out" | head -20
  exit 1
fi

if ((update)); then
  rm -rf "$expected" && mkdir -p "$expected" && cp "$out"/*.out "$expected"/
  echo "golden: wrote $(ls "$expected" | wc -l) files to $expected"
  exit 0
fi

fail=0
for f in "$expected"/*.out; do
  n=$(basename "$f")
  if [[ ! -f $out/$n ]]; then
    echo "golden: $n: not produced"; fail=1
  elif ! cmp -s "$f" "$out/$n"; then
    echo "golden: $n differs:"; diff -u "$f" "$out/$n" | head -40 || true; fail=1
  fi
done
for f in "$out"/*.out; do
  [[ -f $expected/$(basename "$f") ]] || { echo "golden: $(basename "$f") has no expected file (run with --update)"; fail=1; }
done
((fail == 0)) && echo "golden: $(ls "$expected" | wc -l) outputs identical"
exit $fail
