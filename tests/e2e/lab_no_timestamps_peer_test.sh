#!/usr/bin/env bash
# lab no-timestamps-peer: tcp_tw_reuse=1 and tcp_timestamps=1 in the client's namespace, but the
# server's namespace has tcp_timestamps=0, so no connection negotiates timestamps and
# tcp_twsk_unique() refuses every reuse (tw_ts_recent_stamp is 0). The sysctls alone would
# credit the aged TIME_WAIT as reusable and call the pool fine; the diagnosis must see from
# TWRecycled staying flat that nothing is reused, call the tuple critical, and put the fix at
# the peer (its timestamps), not in this host's sysctls.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
lab_run no-timestamps-peer
lab_check '
def rose(name):
    for o in observed:
        m = re.search(re.escape(name) + r" rose by ([\d,]+)", o)
        if m:
            return int(m.group(1).replace(",", ""))
    expect(False, "the generator did not read %s" % name)
expect(any("EADDRNOTAVAIL" in o for o in observed), "connect() did not run out")
expect(rose("TcpExt.TWRecycled") == 0, "the kernel reused a TIME_WAIT port without timestamps")
ep = [f for f in findings("ephemeral_ports", "critical")
      if f["evidence"].get("destination") == "198.18.2.2:8080"]
expect(ep, "no critical ephemeral_ports finding for 198.18.2.2:8080")
ev = ep[0]["evidence"]
expect(ev["tcp_tw_reuse"] == 1 and ev["tcp_timestamps"] == 1, "sysctls %r %r" % (ev["tcp_tw_reuse"], ev["tcp_timestamps"]))
expect(ev["tw_reuse_basis"] == "refused", "reuse basis %r" % ev["tw_reuse_basis"])
expect(ev["tw_reusable"] == 0, "TIME_WAIT credited as reusable: %r" % ev["tw_reusable"])
expect(ev["tw_recycled_per_s"] == 0, "TWRecycled rate %r" % ev["tw_recycled_per_s"])
expect(ev["tw_reuses_expected"] >= 5, "expected reuses %r" % ev["tw_reuses_expected"])
c = [s for s in ep[0]["remediation"] if s["priority"] == "C"]
expect(c and "no TCP timestamps" in c[0]["action"], "C does not name the missing timestamps")
expect(c and not any(cmd.startswith("sysctl -w") for cmd in c[0]["commands"]), "C changes this host for a peer-side cause")
tuples = [t for t in r["resources"]["ephemeral_ports"]["tuples"] if t["destination"] == "198.18.2.2:8080"]
expect(tuples and not tuples[0]["tw_reuse_applies"], "tuple still marked as reusing")
'
lab_assert_no_leftovers
