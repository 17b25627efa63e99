#!/usr/bin/env bash
# lab unix-backlog: a server listens on an abstract unix stream socket with listen(fd, 16) and
# never accepts; a client connects without blocking until connect() fails with EAGAIN (a
# PHP-FPM pool behind nginx with every worker busy). The diagnosis must see the listener in the
# lab namespace's unix_diag dump, report its accept queue at or over its limit as a critical
# accept_queue finding, name its path and its owner (the lab's server worker, joined by inode
# with the fd links), and plan the servers' backlog settings with net.core.somaxconn.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
lab_run unix-backlog
lab_check '
m = [re.search(r"non-blocking connects to (@\S+): (\d+) connected \(queued, never accepted\).*EAGAIN", o) for o in observed]
m = [x for x in m if x]
expect(m, "the client never got EAGAIN from connect()")
path, connected = m[0].group(1), int(m[0].group(2))
srv = [w["pid"] for w in r["lab"]["workers"] if w["comm"] == "cdlab-unixsrv"]
expect(len(srv) == 1, "one cdlab-unixsrv among the lab workers: %r" % r["lab"]["workers"])
srv = srv[0]
aq = [f for f in findings("accept_queue", "critical") if f["id"] == "accept_queue.unix_listener"]
expect(aq, "no critical accept_queue finding for a unix listener")
f = aq[0]
ev = f["evidence"]
expect(ev.get("path") == path and ev.get("destination") == path,
       "path %r / destination %r, the client connected to %r" % (ev.get("path"), ev.get("destination"), path))
expect(path in f["title"], "title does not name %s: %r" % (path, f["title"]))
expect(f["layer"] == "application", "layer %r" % f["layer"])
expect(ev.get("socket_type") == "stream", "socket type %r" % ev.get("socket_type"))
expect(ev.get("limit") == 16, "limit %r, the server listened with backlog 16" % ev.get("limit"))
expect(ev.get("queue") >= ev.get("limit"), "queue %r below limit %r" % (ev.get("queue"), ev.get("limit")))
# Never accepted: every connect that succeeded is still queued, and unix_recvq_full() is
# queue > limit, so the kernel took exactly limit + 1 before EAGAIN.
expect(ev.get("queue") == connected, "queue %r, but the client has %d connections queued" % (ev.get("queue"), connected))
expect(connected == ev.get("limit") + 1, "connected %d, not limit + 1" % connected)
expect(ev.get("pid") == srv and ev.get("comm") == "cdlab-unixsrv",
       "owner %r %r, server worker pid %r" % (ev.get("pid"), ev.get("comm"), srv))
# Two readings (the default interval): the queue stayed at its limit.
expect(ev.get("at_limit_in_both_readings") is True, "at_limit_in_both_readings %r" % ev.get("at_limit_in_both_readings"))
plan = "\n".join(s["action"] + "\n" + "\n".join(s["commands"]) for s in f["remediation"])
for want in ("listen.backlog", "--backlog", "--listen", "somaxconn", "pm.max_children"):
    expect(want in plan, "plan does not mention %s" % want)
expect("max_dgram_qlen" not in plan, "plan mentions net.unix.max_dgram_qlen, a datagram setting")
expect([s["priority"] for s in f["remediation"]] == ["A", "B"], "plan priorities %r" % [s["priority"] for s in f["remediation"]])
ul = r["resources"]["accept_queue"]["unix_listeners"]
expect(ul is not None and any(l["path"] == path and l["pid"] == srv for l in ul), "resources.accept_queue.unix_listeners %r" % ul)
expect(not any(f["resource"] == "accept_queue" and f["id"] != "accept_queue.unix_listener" for f in r["findings"]),
       "a TCP accept_queue finding in a namespace without TCP listeners")
'
lab_assert_no_leftovers
