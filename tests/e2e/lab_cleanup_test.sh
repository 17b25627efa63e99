#!/usr/bin/env bash
# The lab leaves nothing behind: after a normal run, a run stopped with SIGTERM or SIGINT
# mid-way, a run killed with SIGKILL followed by `lab clean`, and a --keep run followed by
# `lab clean` (with a stray process inside), no namespace or process of those runs remains and
# the host's net sysctls are unchanged.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require

fail() {
  echo "FAIL: $*"
  exit 1
}

# Worker processes of lab pid $1 (its children), waiting up to 5 s until there are $2.
workers_of() {
  local lab=$1 want=$2 i pids
  for ((i = 0; i < 100; i++)); do
    pids=$(ps -o pid= --ppid "$lab" | tr -s ' \n' ' ')
    [[ $(wc -w <<<"$pids") -ge $want ]] && break
    sleep 0.05
  done
  echo "$pids"
}

assert_gone() {  # assert_gone NETNS PID...
  local ns=$1 p
  shift
  [[ -e /run/netns/$ns ]] && fail "namespace $ns left behind"
  for p in "$@"; do
    for ((i = 0; i < 50; i++)); do lab_pid_running "$p" || break; sleep 0.1; done
    lab_pid_running "$p" && fail "process $p ($(cat /proc/$p/comm 2>/dev/null)) left behind"
  done
  return 0
}

# 1. A normal run.
lab_run idle --interval 0
assert_gone "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lab"]["netns"])' "$LAB_JSON")"

# 2. and 3. Interrupted while the load runs: exit 128+signal, no half report, nothing left.
for sig in TERM INT; do
  "$CONNDOCTOR" lab run port-exhaustion --json >"$LAB_TMP/sig.out" 2>"$LAB_TMP/sig.err" &
  lab=$!
  workers=$(workers_of "$lab" 2)
  [[ -n "$workers" ]] || fail "no workers seen for lab pid $lab"
  [[ -e /run/netns/cdlab-$lab-port-exhaustion ]] || fail "namespace of lab pid $lab not seen"
  sleep 1
  kill -s "$sig" "$lab"
  wait "$lab"
  rc=$?
  want=$((128 + $(kill -l "$sig")))
  [[ $rc -eq $want ]] || fail "SIG$sig: exit $rc, want $want ($(cat "$LAB_TMP/sig.err"))"
  [[ -s "$LAB_TMP/sig.out" ]] && fail "SIG$sig: a report was printed after the interruption"
  grep -q "interrupted by SIG$sig" "$LAB_TMP/sig.err" || fail "SIG$sig: no message: $(cat "$LAB_TMP/sig.err")"
  # shellcheck disable=SC2086
  assert_gone "cdlab-$lab-port-exhaustion" $workers
done

# 4. SIGKILL: the lab cannot clean up; its workers die with it (PR_SET_PDEATHSIG) and
# `lab clean` removes the namespace.
"$CONNDOCTOR" lab run close-wait-leak --json >/dev/null 2>&1 &
lab=$!
workers=$(workers_of "$lab" 2)
sleep 1
kill -KILL "$lab"
wait "$lab" 2>/dev/null
[[ -e /run/netns/cdlab-$lab-close-wait-leak ]] || fail "SIGKILL: expected a leftover namespace to clean"
# Scoped to this run's names: a concurrent test's namespaces are not ours to remove.
"$CONNDOCTOR" lab clean "cdlab-$lab-" >"$LAB_TMP/clean.out" 2>&1 || fail "lab clean: $(cat "$LAB_TMP/clean.out")"
grep -q "removed cdlab-$lab-close-wait-leak" "$LAB_TMP/clean.out" || fail "lab clean said: $(cat "$LAB_TMP/clean.out")"
# shellcheck disable=SC2086
assert_gone "cdlab-$lab-close-wait-leak" $workers

# 5. --keep leaves the namespace for inspection; a process started in it is killed by clean.
lab_run idle --interval 0 --keep
ns=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["lab"]["netns"])' "$LAB_JSON")
[[ -e /run/netns/$ns ]] || fail "--keep: namespace $ns is gone"
if command -v ip >/dev/null; then
  ip netns exec "$ns" sleep 30 &
  stray=$!
  for ((i = 0; i < 50; i++)); do
    [[ $(stat -L -c %i /proc/$stray/ns/net 2>/dev/null) == $(stat -L -c %i /run/netns/$ns) ]] && break
    sleep 0.05
  done
else
  stray=
fi
"$CONNDOCTOR" lab clean "$ns" >"$LAB_TMP/clean.out" 2>&1 || fail "lab clean: $(cat "$LAB_TMP/clean.out")"
grep -q "removed $ns" "$LAB_TMP/clean.out" || fail "lab clean said: $(cat "$LAB_TMP/clean.out")"
if [[ -n "$stray" ]]; then
  grep -q "removed $ns (killed 1 process)" "$LAB_TMP/clean.out" || fail "stray not killed: $(cat "$LAB_TMP/clean.out")"
  wait "$stray" 2>/dev/null
fi
assert_gone "$ns" $stray

lab_assert_host_untouched
echo "ok: normal, SIGTERM, SIGINT, SIGKILL + clean, --keep + clean: nothing left"
