#!/usr/bin/env bash
# Bad input gets one line on stderr naming what is wrong, exit 3, and nothing on stdout:
# unknown flags, bad values, unreadable or malformed fixtures, a truncated netlink dump.
set -uo pipefail
: "${CONNDOCTOR:?path of the conndoctor binary}" "${FIXTURES:?fixtures dir}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect_error NAME PATTERN -- ARGS...: exit 3, empty stdout, exactly one stderr line matching.
expect_error() {
  local name=$1 pattern=$2
  shift 3
  "$CONNDOCTOR" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  local rc=$?
  local lines
  lines=$(wc -l <"$tmp/err")
  if [[ $rc -ne 3 || -s "$tmp/out" || $lines -ne 1 ]] || ! grep -qiE -- "$pattern" "$tmp/err"; then
    echo "FAIL $name: rc=$rc stdout=$(wc -c <"$tmp/out")B stderr($lines lines): $(head -3 "$tmp/err")"
    failures=$((failures + 1))
  else
    echo "ok   $name: $(cat "$tmp/err")"
  fi
}

proc=$FIXTURES/proc/host_6_18
dump=$FIXTURES/dumps/ports_exhausted.nldump

expect_error unknown-flag 'bogus' -- check --bogus
expect_error unknown-subcommand 'frobnicate' -- frobnicate
expect_error negative-interval 'interval' -- check --interval -1
expect_error non-number-interval 'interval' -- check --interval soon
expect_error missing-proc-root 'proc-root|directory' -- check --proc-root "$tmp/nope"
expect_error missing-dump 'sock-diag-dump|file' -- check --sock-diag-dump "$tmp/nope.bin"
expect_error explain-unknown 'explain|match|recogni' -- explain "the printer is on fire"
expect_error explain-empty 'text|required' -- explain
expect_error lab-unknown-scenario 'scenario|no-such' -- lab run no-such-scenario
expect_error bad-fd-scan "fd-scan: 'nope' is not one of auto, bpf, procfs" -- check --fd-scan nope
expect_error bad-color "color: 'pink' is not one of auto, always, never" -- check --color pink
expect_error record-and-replay 'excludes' -- check --record-dump "$tmp/r.bin" --sock-diag-dump "$0"

# A malformed fixture: /proc/net/snmp with a value line that does not match its header.
mkdir -p "$tmp/bad"
cp -r "$proc"/. "$tmp/bad/"
printf 'Tcp: RtoAlgorithm RtoMin\nTcp: 1\n' >"$tmp/bad/net/snmp"
if [[ -f "$dump" ]]; then
  expect_error malformed-snmp 'snmp' -- check --interval 0 --proc-root "$tmp/bad" --sock-diag-dump "$dump"
  # Not a dump at all, and a real dump cut in the middle of a message.
  head -c 1000 /dev/urandom >"$tmp/garbage.bin"
  expect_error garbage-dump 'garbage.bin' -- check --interval 0 --proc-root "$proc" --sock-diag-dump "$tmp/garbage.bin"
  size=$(stat -c %s "$dump")
  head -c $((size - 7)) "$dump" >"$tmp/truncated.bin"
  expect_error truncated-dump 'truncated' -- check --interval 0 --proc-root "$proc" --sock-diag-dump "$tmp/truncated.bin"
  # Unreadable fixture (only meaningful when not root: root reads everything).
  cp "$dump" "$tmp/unreadable.bin"
  chmod 000 "$tmp/unreadable.bin"
  if [[ $(id -u) -ne 0 ]]; then
    expect_error unreadable-dump 'unreadable.bin' -- check --interval 0 --sock-diag-dump "$tmp/unreadable.bin"
  fi
else
  echo "FAIL: no recorded dump under $FIXTURES/dumps"
  failures=$((failures + 1))
fi

# Inputs that used to give a wrong report instead of an error (docs/design.md, "Bad input").
expect_error nan-interval "interval: 'nan' is not a number of seconds" -- check --interval nan
expect_error inf-interval "interval: 'inf' is not a number of seconds" -- check --interval inf
expect_error serve-nan-min-interval "min-interval: 'nan' is not a number of seconds" -- serve --min-interval nan
expect_error lab-nan-interval "interval: 'nan' is not a number of seconds" -- lab run idle --interval nan
expect_error fd-scan-without-attribution 'attribution is off' -- check --interval 0 --fd-scan bpf --no-attribution
expect_error fd-scan-without-processes 'attribution is off' -- check --interval 0 --fd-scan procfs --no-processes
expect_error bad-netns-scan "netns-scan: 'twice' is not one of auto, one-pass, per-namespace" -- check --all-netns --netns-scan twice
expect_error netns-scan-without-all-netns 'netns-scan chooses how --all-netns' -- check --interval 0 --netns-scan one-pass
if [[ -f "$dump" ]]; then
  : >"$tmp/empty.bin"
  expect_error empty-dump 'empty.bin: empty file \(0 bytes\), not a sock_diag recording' -- \
    check --interval 0 --proc-root "$proc" --sock-diag-dump "$tmp/empty.bin"
  expect_error empty-conntrack-dump 'empty.bin: empty file \(0 bytes\), not a conntrack recording' -- \
    check --interval 0 --proc-root "$proc" --sock-diag-dump "$dump" --conntrack-dump "$tmp/empty.bin"
  expect_error sock-diag-as-conntrack-dump 'not a ctnetlink/nf_tables recording' -- \
    check --interval 0 --proc-root "$proc" --sock-diag-dump "$dump" --conntrack-dump "$dump"
  expect_error record-conntrack-with-proc-root 'record-conntrack-dump records .* live conntrack' -- \
    check --interval 0 --proc-root "$proc" --sock-diag-dump "$dump" --record-conntrack-dump "$tmp/ct.bin"
  [[ -e "$tmp/ct.bin" ]] && { echo "FAIL record-conntrack-with-proc-root: wrote $tmp/ct.bin"; failures=$((failures + 1)); }
  expect_error interval-with-replay 'a recording .* is one reading' -- \
    check --interval 5 --proc-root "$proc" --sock-diag-dump "$dump"
  # A malformed sysctl is bad input, not "nothing reserved".
  mkdir -p "$tmp/badsys"
  cp -r "$proc"/. "$tmp/badsys/"
  echo '8080,9000-' >"$tmp/badsys/sys/net/ipv4/ip_local_reserved_ports"
  expect_error malformed-reserved-ports "ip_local_reserved_ports: bad port or range '9000-'" -- \
    check --interval 0 --proc-root "$tmp/badsys" --sock-diag-dump "$dump"
  # A replay without --interval is one reading: rates are unknown, never a measured 0.
  "$CONNDOCTOR" check --json --proc-root "$proc" --sock-diag-dump "$dump" >"$tmp/replay.json" 2>/dev/null
  if python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r["resources"]["interval_s"] is None else 1)' "$tmp/replay.json" 2>/dev/null; then
    echo "ok   replay-is-one-reading"
  else
    echo "FAIL replay-is-one-reading: $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["resources"].get("interval_s"))' "$tmp/replay.json" 2>&1)"
    failures=$((failures + 1))
  fi
fi

# --json with bad input must not print half a document either.
expect_error json-bad-interval 'interval' -- check --json --interval x

[[ $failures -eq 0 ]] || { echo "$failures failure(s)"; exit 1; }
