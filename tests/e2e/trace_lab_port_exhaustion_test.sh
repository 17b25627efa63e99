#!/usr/bin/env bash
# conndoctor trace during lab port-exhaustion: the EADDRNOTAVAIL failures traced for the lab's
# client equal the failures the client counted itself, and the traced churn to the exhausted
# destination belongs to the client's pid (the owner `check` cannot see once every connection
# is in TIME_WAIT).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/trace_lib.sh"
lab_require
trace_require
trace_lab_run port-exhaustion INT
trace_lab_check '
expect(t["interrupted"] is True, "SIGINT did not show as interrupted")
client = worker("cdlab-client")
# "N connects ...: M succeeded, K failed with EADDRNOTAVAIL" (ErrnoTally::describe)
n = told(r"connects to .*?([\d,]+) (?:failed )?with EADDRNOTAVAIL")
expect(n > 0, "the client reported no EADDRNOTAVAIL")
traced = traced_failures("connect", "EADDRNOTAVAIL", client)
expect(traced == n, "traced %d EADDRNOTAVAIL for pid %d, the client counted %d" % (traced, client, n))
for f in t["failures"]:
    if f["pid"] == client and f["errno"] == "EADDRNOTAVAIL":
        expect(f["comm"] == "cdlab-client", "comm %r" % f["comm"])
        expect(f["destination"] == "127.0.0.1:8080", "destination %r" % f["destination"])
to_dest = [c for c in t["churn"] if c["destination"] == "127.0.0.1:8080"]
expect(to_dest, "no churn to 127.0.0.1:8080")
top = max(to_dest, key=lambda c: c["opened"])
expect(top["pid"] == client and top["comm"] == "cdlab-client",
       "churn owner %r (%r), not the client %d" % (top["pid"], top["comm"], client))
expect(top["local_closed_first"] > 0 and top["remote_closed_first"] == 0,
       "the client closes first: local %d, remote %d" % (top["local_closed_first"], top["remote_closed_first"]))
print("ok: %d EADDRNOTAVAIL traced for cdlab-client pid %d = its own count; churn owner pid %d, opened %d"
      % (traced, client, top["pid"], top["opened"]))
'
lab_assert_no_leftovers
