# Shared helpers of the `conndoctor trace` end-to-end tests (sourced, not run): skip when this
# machine cannot trace, start a trace in the background and wait until its programs are
# attached, end it with a signal, list what is still attached.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/skip.sh"

# The trace programs' names (src/trace/bpf/trace.bpf.c) all start with cdt_.
trace_attached() {
  bpftool prog list 2>/dev/null | grep -cE ' name cdt_' || true
}

# Exits 77 when tracing cannot work here (no root, no BTF, no bpftool to check detachment).
trace_require() {
  : "${CONNDOCTOR:?path of the conndoctor binary}"
  [[ -x "$CONNDOCTOR" ]] || skip_test "no conndoctor binary"
  [[ $(id -u) -eq 0 ]] || skip_test "tracing needs root"
  [[ -r /sys/kernel/btf/vmlinux ]] || skip_test "the kernel has no BTF"
  command -v bpftool >/dev/null || skip_test "bpftool is needed to see what is attached"
  command -v python3 >/dev/null || skip_test "python3 is needed to read the JSON"
  if [[ $(trace_attached) -ne 0 ]]; then
    echo "FAIL: trace programs (cdt_*) are attached before the test started"
    bpftool prog list | grep -A3 ' name cdt_'
    exit 1
  fi
}

# trace_start OUT ARGS...: runs `conndoctor trace ARGS --json >OUT` in the background (sets
# TRACE_PID) and waits (bounded) until its four programs are attached.
trace_start() {
  local out=$1
  shift
  "$CONNDOCTOR" trace --json "$@" >"$out" 2>"$out.err" &
  TRACE_PID=$!
  local i
  for ((i = 0; i < 200; i++)); do
    [[ $(trace_attached) -ge 4 ]] && return 0
    if ! kill -0 "$TRACE_PID" 2>/dev/null; then
      wait "$TRACE_PID"
      local rc=$?
      if [[ $rc -eq 3 ]] && grep -qE 'needs root|no BTF|built without BPF' "$out.err"; then
        skip_test "$(cat "$out.err")"
      fi
      echo "FAIL: trace exited $rc before attaching: $(cat "$out.err")"
      exit 1
    fi
    sleep 0.05
  done
  echo "FAIL: the trace programs were not attached within 10 s"
  kill -KILL "$TRACE_PID" 2>/dev/null
  exit 1
}

# trace_stop SIGNAL: ends the background trace with SIGNAL and fails unless it exits 0.
trace_stop() {
  kill "-$1" "$TRACE_PID"
  wait "$TRACE_PID"
  local rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "FAIL: trace exited $rc after SIG$1: $(cat "$TRACE_OUT.err" 2>/dev/null)"
    exit 1
  fi
}

# The kernel frees a program after its last link and fd close, from a deferred work item
# (bpf_prog_put -> bpf_prog_put_deferred): bpftool may list it for a moment after the exit.
trace_assert_detached() {
  local n i
  for ((i = 0; i < 100; i++)); do
    n=$(trace_attached)
    [[ $n -eq 0 ]] && return 0
    sleep 0.05
  done
  if [[ $n -ne 0 ]]; then
    echo "FAIL: $n trace programs still attached after $1"
    bpftool prog list | grep -A3 ' name cdt_'
    exit 1
  fi
}

# trace_lab_run SCENARIO SIGNAL: `conndoctor trace --all-netns` in the background while
# `conndoctor lab run SCENARIO` runs (lib.sh's lab_run: sets LAB_JSON), ended with SIGNAL; fails
# unless the trace exits 0 and nothing stays attached. Needs lab_require first.
trace_lab_run() {
  TRACE_OUT=$LAB_TMP/trace.json
  trace_start "$TRACE_OUT" --all-netns --duration 300
  trap 'kill -KILL $TRACE_PID 2>/dev/null; rm -rf "$LAB_TMP"' EXIT
  lab_run "$1"
  trace_stop "$2"
  trace_assert_detached "SIG$2"
}

# trace_lab_check 'python statements': runs them with
#   lab (the report's "lab" object), t (the trace document), expect(cond, msg),
#   worker(comm) -> the pid of the one lab worker with that comm,
#   told(regex) -> the int the generators reported in group 1 of regex (commas allowed),
#   traced_failures(op, errno, pid) -> the sum of matching trace failures.
trace_lab_check() {
  python3 - "$LAB_JSON" "$TRACE_OUT" <<PY
import json, re, sys
lab = json.load(open(sys.argv[1]))["lab"]
t = json.load(open(sys.argv[2]))
def expect(cond, msg):
    if not cond:
        print("FAIL:", msg)
        print("lab observed:", lab["observed"], "workers:", lab["workers"])
        print("trace:", json.dumps({k: t[k] for k in ("failures", "drops", "syn_retransmits", "missing")})[:3000])
        sys.exit(1)
def worker(comm):
    pids = [w["pid"] for w in lab["workers"] if w["comm"] == comm]
    expect(len(pids) == 1, "one %s worker, not %d" % (comm, len(pids)))
    return pids[0]
def told(regex):
    n = None
    for o in lab["observed"]:
        m = re.search(regex, o)
        if m:
            n = int(m.group(1).replace(",", ""))
    expect(n is not None, "the generators reported nothing matching %r" % regex)
    return n
def traced_failures(op, errno, pid):
    return sum(f["count"] for f in t["failures"]
               if f["op"] == op and f["errno"] == errno and f["pid"] == pid)
expect(t["schema"] == "conndoctor/trace/v1", "schema")
# A program the kernel skipped (recursion_misses: it was already running on that CPU) loses
# events, and the trace says so in "missing". Only the programs a test names in TRACE_MISS_OK
# (ones its assertions do not read) may have been skipped.
miss_ok = set("${TRACE_MISS_OK:-}".split())
def miss_allowed(m):
    if m.startswith("drops:"):
        return True
    g = re.search(r"skipped [\d,]+ runs of (\w+) ", m)
    return bool(g) and g.group(1) in miss_ok
expect(all(miss_allowed(m) for m in t["missing"]),
       "the trace says something is missing: %r" % t["missing"])
$1
PY
  [[ $? -eq 0 ]] || exit 1
}
