#!/usr/bin/env bash
# lab connect-timeout --trace: 120 non-blocking connects (TCP_SYNCNT 1) to 198.18.0.2:80, whose
# SYNs vanish, all fail with ETIMEDOUT. No socket state is left to show it once they failed:
# the verdict comes from the trace, a connect_failures finding in the network layer naming the
# destination, with the client's own ETIMEDOUT count (less at most the shortfall docs/trace.md describes) and its pid, and the SYN
# retransmits equal to the TCPSynRetrans rise the client read.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/trace_lib.sh"
lab_require
trace_require
lab_run connect-timeout --trace
trace_assert_detached "lab run --trace"
lab_check '
import re
client = [w["pid"] for w in r["lab"]["workers"] if w["comm"] == "cdlab-client"]
expect(len(client) == 1, "one cdlab-client worker")
client = client[0]
m = [re.search(r"connects to 198\.18\.0\.2:80 \(TCP_SYNCNT 1\): 0 connected, ([\d,]+) failed with ETIMEDOUT:", o) for o in observed]
m = [x for x in m if x]
expect(len(m) == 1, "the client did not report that every connect failed with ETIMEDOUT")
told = int(m[0].group(1).replace(",", ""))
expect(told == 120, "the client counted %d ETIMEDOUT, not its 120 connects" % told)
cf = findings("connect_failures", "critical", "network")
expect(len(cf) == 1, "no critical connect_failures finding in the network layer")
ev = cf[0]["evidence"]
expect(ev["destination"] == "198.18.0.2:80", "destination %r" % ev["destination"])
expect(ev["errno"] == "ETIMEDOUT", "errno %r" % ev["errno"])
# docs/trace.md "Limits of exactness": on this kernel a few SYN_SENT -> CLOSE transitions and
# SYN retransmits of timed-out connects never reach the programs (up to 3 of 120 seen); never
# more than the client counted, and never more than that documented shortfall.
def near(traced, real):
    return real - max(3, real // 20) <= traced <= real
expect(near(ev["count"], told), "finding counts %r ETIMEDOUT, the client %d" % (ev["count"], told))
expect(len(ev["processes"]) == 1 and ev["processes"][0]["pid"] == client and
       ev["processes"][0]["comm"] == "cdlab-client" and ev["processes"][0]["count"] == ev["count"],
       "processes %r" % ev["processes"])
rt = [re.search(r"TcpExt\.TCPSynRetrans rose by ([\d,]+)", o) for o in observed]
rt = [int(x.group(1).replace(",", "")) for x in rt if x]
expect(len(rt) == 1 and rt[0] > 0, "the client did not report its TCPSynRetrans rise")
expect(near(ev["syn_retransmits"], rt[0]), "traced %r SYN retransmits, TCPSynRetrans rose by %d" % (ev["syn_retransmits"], rt[0]))
expect(r["summary"].startswith("critical: connect() to 198.18.0.2:80 failed"), "verdict %r" % r["summary"])
t = r["trace"]
expect(t and t["schema"] == "conndoctor/trace/v1" and t["netns"] == r["lab"]["netns_inode"],
       "the report carries no trace of the lab namespace")
expect(all(m.startswith("drops:") for m in t["missing"]), "trace missing: %r" % t["missing"])
'
lab_assert_no_leftovers
