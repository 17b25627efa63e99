#!/usr/bin/env bash
# conndoctor trace counts every failed connect() exactly once, whichever way it failed: in a
# namespace of its own, "cd-connfail" connects to a closed port (ECONNREFUSED from a RST),
# to an address on a veth pair that nobody owns (a static neighbour, so no ARP: the SYNs
# vanish) (ETIMEDOUT after the SYN retries),
# and into an unreachable route (EHOSTUNREACH, synchronous), each blocking and non-blocking.
# The asynchronous errors reach the tracer through the socket's state, and a blocking
# connect() returns them once more from the syscall: the traced count for each run must equal
# what that run counted itself, with no double count. The SYN retransmits of the timed-out
# connects are counted too: one each with tcp_syn_retries=1.
set -uo pipefail
source "$(dirname "$0")/skip.sh"
source "$(dirname "$0")/trace_lib.sh"
trace_require
tools=${TOOLS_DIR:-$(dirname "$CONNDOCTOR")/tools}
connfail=$tools/cdtool-connfail
[[ -x $connfail ]] || skip_test "load tool $connfail is not built"
command -v ip >/dev/null || skip_test "needs ip (iproute2)"

ns=cdtr-conn-$$
tmp=$(mktemp -d)
cleanup() {
  kill -KILL ${TRACE_PID:-} 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$ns" 2>/dev/null || skip_test "cannot create a network namespace"
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up &&
  in_ns ip link add cdtr0 type veth peer name cdtr1 && in_ns ip addr add 198.18.0.1/24 dev cdtr0 &&
  in_ns ip link set cdtr0 up && in_ns ip link set cdtr1 up &&
  in_ns ip neigh add 198.18.0.2 lladdr 02:00:00:00:00:02 dev cdtr0 nud permanent &&
  in_ns ip route add unreachable 198.18.5.0/24 &&
  in_ns sh -c 'echo 1 >/proc/sys/net/ipv4/tcp_syn_retries' ||
  { echo "FAIL: cannot set up $ns"; exit 1; }

syn_retrans() { in_ns awk '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "TCPSynRetrans") c = i; h = 1 } else print $c }' /proc/net/netstat; }
syn_before=$(syn_retrans)
TRACE_OUT=$tmp/trace.json
trace_start "$TRACE_OUT" --netns "$ns" --duration 300
runs=()
run() {  # run NAME ARGS...: one cdtool-connfail run inside the namespace, output in $tmp/NAME
  local name=$1
  shift
  in_ns "$connfail" "$@" >"$tmp/$name" || { echo "FAIL: connfail $name: $(cat "$tmp/$name")"; exit 1; }
  runs+=("$tmp/$name")
}
run refused_blocking --to 127.0.0.1:9 --count 7
run refused_nonblock --to 127.0.0.1:9 --count 5 --nonblock
run timeout_nonblock --to 198.18.0.2:80 --count 4 --nonblock --max-seconds 30
run timeout_blocking --to 198.18.0.2:81 --count 2
run unreachable --to 198.18.5.1:80 --count 3
run unreachable_nonblock --to 198.18.5.1:80 --count 2 --nonblock
syn_after=$(syn_retrans)
trace_stop INT
trace_assert_detached "SIGINT"

python3 - "$TRACE_OUT" "${runs[@]}" $((syn_after - syn_before)) <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
ok = True
for path in sys.argv[2:-1]:
    lines = open(path).read().split("\n")
    pid = int(lines[0].split()[1])
    told = {}
    for l in lines[1:]:
        if l.strip():
            k, v = l.split()
            if k != "ok":
                told[k] = int(v)
    traced = {}
    for f in t["failures"]:
        if f["pid"] == pid and f["op"] == "connect":
            traced[f["errno"]] = traced.get(f["errno"], 0) + f["count"]
            assert f["comm"] == "cd-connfail", f
    name = path.rsplit("/", 1)[1]
    status = "ok" if traced == told and told else "FAIL"
    if name.startswith("timeout"):
        syn = sum(s["count"] for s in t["syn_retransmits"] if s["pid"] == pid)
        if syn < told.get("ETIMEDOUT", 0):
            status = "FAIL"
        name += " (SYN retransmits %d)" % syn
    ok = ok and status == "ok"
    print("%s: %s counted %r, traced %r" % (status, name, told, traced))
# Every SYN retransmit in the namespace, against the kernel's own counter (TcpExt.TCPSynRetrans).
syn_all = sum(s["count"] for s in t["syn_retransmits"])
if syn_all != int(sys.argv[-1]):
    print("FAIL: traced %d SYN retransmits, TCPSynRetrans rose by %s" % (syn_all, sys.argv[-1]))
    ok = False
else:
    print("ok: %d SYN retransmits traced = the TCPSynRetrans delta" % syn_all)
if not ok:
    print("missing:", t["missing"])
    sys.exit(1)
PY
