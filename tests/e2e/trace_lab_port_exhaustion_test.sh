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
TRACE_OUT=$LAB_TMP/trace.json
trace_start "$TRACE_OUT" --all-netns --duration 300
trap 'kill -KILL $TRACE_PID 2>/dev/null; rm -rf "$LAB_TMP"' EXIT
lab_run port-exhaustion
trace_stop INT
trace_assert_detached "SIGINT"
python3 - "$LAB_JSON" "$TRACE_OUT" <<'PY'
import json, re, sys
lab = json.load(open(sys.argv[1]))["lab"]
t = json.load(open(sys.argv[2]))
def expect(cond, msg):
    if not cond:
        print("FAIL:", msg)
        print("lab observed:", lab["observed"], "workers:", lab["workers"])
        print("trace:", json.dumps({k: t[k] for k in ("failures", "churn", "missing")})[:3000])
        sys.exit(1)
expect(t["schema"] == "conndoctor/trace/v1", "schema")
expect(t["interrupted"] is True, "SIGINT did not show as interrupted")
clients = [w["pid"] for w in lab["workers"] if w["comm"] == "cdlab-client"]
expect(len(clients) == 1, "one cdlab-client worker")
client = clients[0]
# The client's own count, from its observation "N connects ...: M succeeded, K failed with
# EADDRNOTAVAIL" (ErrnoTally::describe).
told = None
for o in lab["observed"]:
    m = re.search(r"([\d,]+) (?:failed )?with EADDRNOTAVAIL", o)
    if m and "connects to" in o:
        told = int(m.group(1).replace(",", ""))
expect(told is not None and told > 0, "the client reported no EADDRNOTAVAIL count")
traced = sum(f["count"] for f in t["failures"]
             if f["op"] == "connect" and f["errno"] == "EADDRNOTAVAIL" and f["pid"] == client)
expect(traced == told, "traced %d EADDRNOTAVAIL for pid %d, the client counted %d" % (traced, client, told))
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
expect(not any("full" in m for m in t["missing"]), "a trace map overflowed: %r" % t["missing"])
print("ok: %d EADDRNOTAVAIL traced for cdlab-client pid %d = its own count; churn owner pid %d, opened %d"
      % (traced, client, top["pid"], top["opened"]))
PY
rc=$?
[[ $rc -eq 0 ]] || exit 1
lab_assert_no_leftovers
