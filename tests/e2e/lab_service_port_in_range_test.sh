#!/usr/bin/env bash
# lab service-port-in-range: a service listens on 40080 inside the ephemeral range: a config
# finding that says to reserve the port.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
lab_run service-port-in-range
lab_check '
cfg = [f for f in findings("config", ["warning", "critical"]) if f["evidence"].get("port") == 40080]
expect(cfg, "no config finding for port 40080")
plan = " ".join(c for s in cfg[0]["remediation"] for c in s["commands"])
expect("ip_local_reserved_ports=40080" in plan, "the plan does not reserve 40080")
expect(any("EADDRINUSE" in o for o in observed), "the generator did not show the stolen port")
'
lab_assert_no_leftovers
