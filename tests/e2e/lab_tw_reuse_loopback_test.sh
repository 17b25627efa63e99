#!/usr/bin/env bash
# lab tw-reuse-loopback: the port-exhaustion churn with tcp_tw_reuse=2 on loopback: connects
# keep succeeding because TIME_WAIT ports are reused, and the diagnosis must not call it
# critical (it counts the reusable TIME_WAIT).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
lab_run tw-reuse-loopback
lab_check '
expect(not any("EADDRNOTAVAIL" in o for o in observed), "connects failed with tw_reuse=2")
recycled = [o for o in observed if o.startswith("TcpExt.TWRecycled rose by ")]
expect(recycled and not recycled[0].startswith("TcpExt.TWRecycled rose by 0 "), "no TIME_WAIT was reused")
tuples = [t for t in r["resources"]["ephemeral_ports"]["tuples"] if t["destination"] == "127.0.0.1:8080"]
expect(tuples and tuples[0]["tw_reusable"] > 0, "no reusable TIME_WAIT counted")
# The credit rests on reuse the kernel was seen doing, not on the sysctls alone.
expect(tuples and tuples[0]["tw_reuse_basis"] == "reuse_seen", "reuse basis %r" % (tuples and tuples[0]["tw_reuse_basis"]))
expect(not findings("ephemeral_ports", "critical"), "critical ephemeral_ports despite reuse")
expect(r["status"] != "critical", "status critical")
'
lab_assert_no_leftovers
