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

# --json with bad input must not print half a document either.
expect_error json-bad-interval 'interval' -- check --json --interval x

[[ $failures -eq 0 ]] || { echo "$failures failure(s)"; exit 1; }
