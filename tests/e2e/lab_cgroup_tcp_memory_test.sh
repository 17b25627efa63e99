#!/usr/bin/env bash
# lab cgroup-tcp-memory: a receiver that never reads, in a v1 memory cgroup with a 4 MiB
# memory.kmem.tcp.limit_in_bytes: the verdict is tcp_memory.cgroup, critical (usage at the limit
# and received data dropped between the readings; failcnt where the kernel still counts it),
# naming cdlab-receiver; the host's tcp_mem is not the finding; the cgroup is gone afterwards.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
# The lab's own v1 memory cgroup, where it makes its child: the scenario needs v1 memory, writable.
mem_mount=$(awk '{split($0, p, " - "); split(p[2], t, " ")}
  t[1] == "cgroup" && t[3] ~ /(^|,)memory(,|$)/ && $4 == "/" {print $5; exit}' /proc/self/mountinfo)
[[ -n "$mem_mount" ]] || lab_skip "no cgroup v1 memory hierarchy mounted (cgroup v2 has no separate TCP limit)"
own=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3; exit}' /proc/self/cgroup)
parent="$mem_mount${own%/}"
[[ -e "$parent/memory.kmem.tcp.limit_in_bytes" ]] || lab_skip "no memory.kmem.tcp.* in $parent (kernel without v1 TCP accounting)"
probe="$parent/cdlab-probe-$$"
mkdir "$probe" 2>/dev/null || lab_skip "the v1 memory hierarchy is not writable at $parent"
rmdir "$probe"

lab_run cgroup-tcp-memory
lab_check '
pid = observed_pid("cdlab-receiver")
cg = findings("tcp_memory")
mine = [f for f in cg if f["id"] == "tcp_memory.cgroup" and pid in f["evidence"]["pids"]]
expect(mine, "no tcp_memory.cgroup finding naming cdlab-receiver (pid %d)" % pid)
f = mine[0]
ev = f["evidence"]
expect(f["severity"] == "critical", "the cgroup finding is %s, not critical" % f["severity"])
expect(ev["cgroup_version"] == 1, "cgroup version %s" % ev["cgroup_version"])
expect(ev["cgroup"].endswith("-tcpmem") and "/cdlab-" in ev["cgroup"], "cgroup %s" % ev["cgroup"])
expect(ev["tcp_limit_bytes"] == 4 << 20, "limit %s" % ev["tcp_limit_bytes"])
# Refused charges: failcnt on kernels that count it (recent ones leave it at 0), else usage at
# the limit and receive-queue drops in the namespace.
refused = (ev["failcnt_rise"] or 0) > 0 or ev["tcp_usage_bytes"] + (64 << 10) >= ev["tcp_limit_bytes"]
expect(refused, "no sign of refused charges: failcnt_rise %s, usage %s" % (ev["failcnt_rise"], ev["tcp_usage_bytes"]))
expect(isinstance(ev["rcvq_drop_per_s"], (int, float)) and ev["rcvq_drop_per_s"] > 0,
       "no receive-queue drops between the readings: %s" % ev["rcvq_drop_per_s"])
expect(f["layer"] == "application", "layer %s: %s" % (f["layer"], ev["layer_reason"]))
expect(r["summary"].startswith("critical: Socket memory of cgroup"), "the verdict is not the cgroup finding: " + r["summary"])
expect(not [g for g in r["findings"] if g["id"] == "tcp_memory.pages"], "a host-wide tcp_mem finding")
expect(any(s["commands"] and "memory.kmem.tcp.limit_in_bytes" in " ".join(s["commands"]) for s in f["remediation"]), "no plan step for the kmem.tcp limit")
print("figures: usage %d of %d, failcnt %d (+%d), TCPRcvQDrop %s/s, recv_q %d, send_q %d, sockets %d" % (
    ev["tcp_usage_bytes"], ev["tcp_limit_bytes"], ev["failcnt"], ev["failcnt_rise"],
    ev["rcvq_drop_per_s"], ev["recv_q_bytes"], ev["send_q_bytes"], ev["sockets"]))
'
lab_assert_no_leftovers
# The cgroup the lab made is removed.
left=$(find "$parent" -maxdepth 1 -name "cdlab-*-tcpmem" 2>/dev/null)
if [[ -n "$left" ]]; then
  echo "FAIL: cgroup left behind: $left"
  exit 1
fi
echo "PASS"
