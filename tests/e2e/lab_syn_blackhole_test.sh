#!/usr/bin/env bash
# lab syn-blackhole: the destination's firewall drops SYNs silently and the unanswered connects
# fill the tuple's 100 ports. The verdict must be unanswered_connects (network layer, naming the
# destination, with the SYN retransmit rate), not ephemeral_ports' "widen the range".
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
command -v nft >/dev/null || lab_skip "nft is needed to drop SYNs inside the lab namespace"
lab_run syn-blackhole
lab_check '
uc = findings("unanswered_connects", ["warning", "critical"], "network")
expect(uc, "no unanswered_connects finding in the network layer")
ev = uc[0]["evidence"]
expect(ev.get("destination") == "127.0.0.1:8080", "destination not named: %r" % ev.get("destination"))
expect((ev.get("syn_unanswered") or 0) >= 10, "too few unanswered SYNs: %r" % ev.get("syn_unanswered"))
expect((ev.get("syn_retrans_per_s") or 0) > 0, "TCPSynRetrans rate not above 0: %r" % ev.get("syn_retrans_per_s"))
expect("abort_on_timeout_per_s" in ev, "no TCPAbortOnTimeout rate in evidence")
expect(r["summary"].startswith(uc[0]["severity"] + ": connects to 127.0.0.1:8080"),
       "verdict is not the unanswered connects: %r" % r["summary"])
expect(not findings("ephemeral_ports"), "the unanswered connects were read as a port-pool problem")
for step in uc[0]["remediation"]:
    expect("ip_local_port_range" not in step["action"], "plan widens the port range")
expect(any("SYN" in o and "unanswered" in o for o in observed), "generator saw no unanswered connect")
'
lab_assert_no_leftovers
