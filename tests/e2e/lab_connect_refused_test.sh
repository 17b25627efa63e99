#!/usr/bin/env bash
# lab connect-refused --trace: 150 blocking connects to 127.0.0.1:8080, where nothing listens,
# each refused by a RST. The verdict comes from the trace: a connect_failures finding in the
# network layer naming the destination with exactly the client's own ECONNREFUSED count (a
# blocking connect sees the error twice in the kernel, on the socket and at the syscall's
# return: counted once) and its pid.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/trace_lib.sh"
lab_require
trace_require
lab_run connect-refused --trace
trace_assert_detached "lab run --trace"
lab_check '
import re
client = [w["pid"] for w in r["lab"]["workers"] if w["comm"] == "cdlab-client"]
expect(len(client) == 1, "one cdlab-client worker")
client = client[0]
m = [re.search(r"blocking connects to 127\.0\.0\.1:8080: 0 connected, ([\d,]+) failed with ECONNREFUSED:", o) for o in observed]
m = [x for x in m if x]
expect(len(m) == 1, "the client did not report that every connect failed with ECONNREFUSED")
told = int(m[0].group(1).replace(",", ""))
expect(told == 150, "the client counted %d ECONNREFUSED, not its 150 connects" % told)
cf = findings("connect_failures", "critical", "network")
expect(len(cf) == 1, "no critical connect_failures finding in the network layer")
ev = cf[0]["evidence"]
expect(ev["destination"] == "127.0.0.1:8080", "destination %r" % ev["destination"])
expect(ev["errno"] == "ECONNREFUSED", "errno %r" % ev["errno"])
expect(ev["count"] == told, "finding counts %r ECONNREFUSED, the client %d" % (ev["count"], told))
expect(ev["processes"] == [{"pid": client, "comm": "cdlab-client", "count": told}],
       "processes %r" % ev["processes"])
expect("listens" in ev["cause"], "cause %r" % ev["cause"])
expect(r["summary"].startswith("critical: connect() to 127.0.0.1:8080 failed"), "verdict %r" % r["summary"])
t = r["trace"]
expect(t and t["netns"] == r["lab"]["netns_inode"], "the report carries no trace of the lab namespace")
expect(all(m.startswith("drops:") for m in t["missing"]), "trace missing: %r" % t["missing"])
'
lab_assert_no_leftovers
