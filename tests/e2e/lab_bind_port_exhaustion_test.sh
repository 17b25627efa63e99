#!/usr/bin/env bash
# lab bind-port-exhaustion: 800 TCP sockets bound to 127.0.0.1:0 and never connected hold 800
# ports of a 1,000-port range; the churn to 127.0.0.1:8080 then runs out after ~200 connects,
# although its own tuple holds only ~200 sockets. The kernel dumps such bound-inactive sockets
# (>= 6.6, state CLOSE, no peer); the diagnosis must take their ports out of every tuple's pool
# (usable = 200, as connect() really had), name the process that holds them, and put
# IP_BIND_ADDRESS_NO_PORT in the plan. Counting them as a tuple of their own is wrong too.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
lab_run bind-port-exhaustion
lab_check '
expect(any("EADDRNOTAVAIL" in o for o in observed), "connect() did not run out")
m = [re.search(r"after ([\d,]+) successful connects", o) for o in observed]
m = [x for x in m if x]
expect(m, "the client did not say how many connects succeeded")
succeeded = int(m[0].group(1).replace(",", ""))
ports = r["resources"]["ephemeral_ports"]
expect(ports["bound_inactive_in_range"] == 800, "bound-inactive ports %r" % ports["bound_inactive_in_range"])
expect(ports["usable"] == 200, "usable per tuple %r" % ports["usable"])
# What connect() really had: the pool the diagnosis states.
expect(succeeded == ports["usable"], "connect() got %d ports, the diagnosis says %d usable" % (succeeded, ports["usable"]))
expect(r["resources"]["sockets"]["bound_inactive"] == 800, "bound_inactive %r" % r["resources"]["sockets"]["bound_inactive"])
expect(all(t["dport"] != 0 for t in ports["tuples"]), "bound sockets counted as a tuple to port 0")
ep = [f for f in findings("ephemeral_ports", "critical")
      if f["evidence"].get("destination") == "127.0.0.1:8080"]
expect(ep, "no critical ephemeral_ports finding for 127.0.0.1:8080")
ev = ep[0]["evidence"]
binder = [w["pid"] for w in r["lab"]["workers"] if w["comm"] == "cdlab-binder"]
expect(len(binder) == 1, "one cdlab-binder among the lab workers: %r" % r["lab"]["workers"])
binder = binder[0]
expect(ev.get("bound_inactive_pid") == binder and ev.get("bound_inactive_comm") == "cdlab-binder",
       "holder %r %r, binder pid %r" % (ev.get("bound_inactive_pid"), ev.get("bound_inactive_comm"), binder))
expect(ev.get("bound_inactive_sockets") == 800, "held sockets %r" % ev.get("bound_inactive_sockets"))
expect("bound and not connected" in ev["cause"], "cause does not name the bound ports: %r" % ev["cause"])
expect(any("IP_BIND_ADDRESS_NO_PORT" in s["action"] for s in ep[0]["remediation"]), "no IP_BIND_ADDRESS_NO_PORT step")
'
lab_assert_no_leftovers
