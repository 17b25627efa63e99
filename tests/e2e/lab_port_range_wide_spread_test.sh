#!/usr/bin/env bash
# lab port-range-wide-spread: more TIME_WAIT than the port range holds, spread over 20
# destinations: the naive "TIME_WAIT close to the range" rule would cry exhaustion; the
# per-tuple diagnosis must not warn about ephemeral ports.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
lab_run port-range-wide-spread
lab_check '
ports = r["resources"]["ephemeral_ports"]
size = ports["range"][1] - ports["range"][0] + 1
tw = r["resources"]["sockets"]["by_state"]["TIME_WAIT"]
expect(tw > size, "the trap is not set: %d TIME_WAIT, range %d" % (tw, size))
expect(not any("EADDRNOTAVAIL" in o for o in observed), "connects failed")
expect(len(ports["tuples"]) >= 20, "expected 20 destination tuples")
expect(max(t["utilization"] for t in ports["tuples"]) < 0.5, "a tuple is near its pool")
expect(not findings("ephemeral_ports", ["warning", "critical"]), "ephemeral_ports warning on a spread load")
'
lab_assert_no_leftovers
