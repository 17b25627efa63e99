#!/usr/bin/env bash
# tcp_tw_reuse=1 without TCP timestamps, on the real kernel (the port-exhaustion churn with
# --set): tcp_twsk_unique() refuses every reuse (TWRecycled +0), connect() runs out with
# EADDRNOTAVAIL, and no PAWS counter moves. So the C step's risk must not be PAWS lore: without
# timestamps reuse is simply refused; the step must switch timestamps on for reuse to work.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
lab_run port-exhaustion --set net.ipv4.tcp_tw_reuse=1 --set net.ipv4.tcp_timestamps=0
lab_check '
def rose(name):
    for o in observed:
        m = re.search(re.escape(name) + r" rose by ([\d,]+)", o)
        if m:
            return int(m.group(1).replace(",", ""))
    expect(False, "the generator did not read %s" % name)
expect(rose("TcpExt.TWRecycled") == 0, "a TIME_WAIT port was reused without timestamps")
expect(rose("TcpExt.PAWSActive") == 0 and rose("TcpExt.PAWSEstab") == 0, "PAWS counters moved")
expect(any("EADDRNOTAVAIL" in o for o in observed), "connect() did not run out")
ep = findings("ephemeral_ports", "critical")
expect(ep, "no critical ephemeral_ports finding")
expect(ep[0]["evidence"].get("tw_reusable") == 0, "TIME_WAIT credited as reusable without timestamps")
c = [s for s in ep[0]["remediation"] if s["priority"] == "C"]
expect(c, "no C step")
expect("PAWS" not in c[0]["risk"], "C risk repeats PAWS lore: %r" % c[0]["risk"])
expect("LAST_ACK" in c[0]["risk"], "C risk does not name the LAST_ACK retry: %r" % c[0]["risk"])
expect(any(cmd.startswith("sysctl -w net.ipv4.tcp_timestamps=1") for cmd in c[0]["commands"]),
       "C does not switch timestamps on")
'
lab_assert_no_leftovers
