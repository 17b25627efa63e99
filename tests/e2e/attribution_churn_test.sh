#!/usr/bin/env bash
# Attribution end to end: in a namespace of its own, "cd-churner" holds 3 live connections to
# 127.0.0.1:8080 and storms it with short ones it closes first until connect() fails with
# EADDRNOTAVAIL, while "cd-idle" holds one connection elsewhere and "cd-sink" serves both.
# The ephemeral_ports finding for 127.0.0.1:8080 must name the churner (pid and comm) as the
# inferred owner of its TIME_WAIT, and neither the idle process nor the server.
# FD_SCAN picks how check reads the fds (procfs here; attribution_churn_bpf_test.sh runs it
# again with bpf, the BPF task_file iterator), and the report must say which one ran.
set -uo pipefail
fd_scan=${FD_SCAN:-procfs}
: "${CONNDOCTOR:?path of the conndoctor binary}"
tools=${TOOLS_DIR:-$(dirname "$CONNDOCTOR")/tools}
churn=$tools/cdtool-churn

source "$(dirname "$0")/skip.sh"
skip() { skip_test "$@"; }
[[ -x $churn ]] || skip "load tool $churn is not built"
[[ $(id -u) -eq 0 ]] || skip "needs root to create a network namespace"
command -v ip >/dev/null || skip "needs ip (iproute2)"
command -v python3 >/dev/null || skip "needs python3 to read the JSON report"

source "$(dirname "$0")/churn_lib.sh"
# A 64-port pool so that the churn exhausts it in well under a second.
churn_ns "cdtest-attr-$$" "40000 40063"
in_ns() { ip netns exec "$ns" "$@"; }
# `ip netns exec` execs the command in place, so $! is the tool's own pid (not so through a
# shell function, which would fork a subshell).
churn_sink 8080 9090
sink_pid=${pids[-1]}
ip netns exec "$ns" "$churn" idle --to 127.0.0.1:9090 --max-seconds 90 &
idle_pid=$!
pids+=("$idle_pid")
ip netns exec "$ns" "$churn" churn --to 127.0.0.1:8080 --hold 3 --rate 200 --status "$tmp/status" \
  --max-seconds 90 &
churn_pid=$!
pids+=("$churn_pid")

# Wait (bounded) until the churner sees EADDRNOTAVAIL: the tuple's pool is then exhausted.
for _ in $(seq 100); do
  read -r _ ok _ eaddr _ other _ held 2>/dev/null <"$tmp/status" && ((eaddr > 0)) && break
  sleep 0.1
done
if ! ((${eaddr:-0} > 0)); then
  echo "FAIL: the churn never exhausted the pool: $(cat "$tmp/status" 2>/dev/null)"
  exit 1
fi
for p in "$sink_pid" "$idle_pid" "$churn_pid"; do
  kill -0 "$p" 2>/dev/null || { echo "FAIL: a load process ($p) exited early"; exit 1; }
done
[[ $(cat "/proc/$churn_pid/comm") == cd-churner ]] ||
  { echo "FAIL: pid $churn_pid is $(cat "/proc/$churn_pid/comm"), not cd-churner"; exit 1; }

in_ns "$CONNDOCTOR" check --json --interval 1 --fd-scan "$fd_scan" >"$tmp/report.json" 2>"$tmp/err"
rc=$?
# The BPF fd scan needs a kernel, a build and privileges that not every machine has.
if ((rc > 2)) && [[ $fd_scan == bpf ]] &&
  grep -q 'built without BPF\|needs CAP_BPF\|another pid namespace' "$tmp/err"; then
  skip "$(head -n 1 "$tmp/err")"
fi
if ((rc > 2)); then
  echo "FAIL: check exited $rc: $(head -c 500 "$tmp/err")"
  exit 1
fi

python3 - "$tmp/report.json" "$churn_pid" "$idle_pid" "$sink_pid" "$fd_scan" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
churn, idle, sink = (int(x) for x in sys.argv[2:5])
fd_scan = report["resources"]["file_descriptors"]["fd_scan"]
assert fd_scan == sys.argv[5], "fd_scan %r, want %r" % (fd_scan, sys.argv[5])
ports = [f for f in report["findings"] if f["resource"] == "ephemeral_ports"
         and f["evidence"].get("destination") == "127.0.0.1:8080"]
assert ports, "no ephemeral_ports finding for 127.0.0.1:8080; findings: %r" % [
    (f["resource"], f["evidence"].get("destination")) for f in report["findings"]]
f = ports[0]
ev = f["evidence"]
assert ev.get("pid") == churn, "owner pid %r, want the churner %d (idle %d, sink %d)" % (
    ev.get("pid"), churn, idle, sink)
assert ev.get("comm") == "cd-churner", "owner comm %r, want cd-churner" % ev.get("comm")
# TIME_WAIT has no owner (inode 0): naming one is an inference and must say so.
assert ev.get("owner_inferred") is True, "owner_inferred is %r" % ev.get("owner_inferred")
assert ev.get("confidence") not in (None, ""), "no confidence given for the inferred owner"

def pids_in(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "pid" and isinstance(v, int):
                yield v
            else:
                yield from pids_in(v)
    elif isinstance(node, list):
        for v in node:
            yield from pids_in(v)

named = set(pids_in(f))
assert idle not in named, "the idle process %d is named in the port finding" % idle
assert sink not in named, "the server %d is named in the port finding" % sink
print("ok (fd_scan %s): %s %s names pid %d (%s), confidence %s" % (
    fd_scan, f["severity"], f["id"], ev["pid"], ev["comm"], ev["confidence"]))
PY
