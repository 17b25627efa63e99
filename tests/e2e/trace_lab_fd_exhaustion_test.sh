#!/usr/bin/env bash
# conndoctor trace during lab fd-exhaustion: the accept4() EMFILE failures traced for the
# lab's fd hog equal the count the hog reported itself.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/trace_lib.sh"
lab_require
trace_require
TRACE_OUT=$LAB_TMP/trace.json
trace_start "$TRACE_OUT" --all-netns --duration 300
trap 'kill -KILL $TRACE_PID 2>/dev/null; rm -rf "$LAB_TMP"' EXIT
lab_run fd-exhaustion
trace_stop TERM
trace_assert_detached "SIGTERM"
python3 - "$LAB_JSON" "$TRACE_OUT" <<'PY'
import json, re, sys
lab = json.load(open(sys.argv[1]))["lab"]
t = json.load(open(sys.argv[2]))
def expect(cond, msg):
    if not cond:
        print("FAIL:", msg)
        print("lab observed:", lab["observed"], "workers:", lab["workers"])
        print("trace failures:", json.dumps(t["failures"])[:3000], "missing:", t["missing"])
        sys.exit(1)
hogs = [w["pid"] for w in lab["workers"] if w["comm"] == "cdlab-fdhog"]
expect(len(hogs) == 1, "one cdlab-fdhog worker")
hog = hogs[0]
# "cdlab-fdhog at its soft RLIMIT_NOFILE: accept() on ADDR failed N times with EMFILE; ..."
told = None
for o in lab["observed"]:
    m = re.search(r"accept\(\) on \S+ failed ([\d,]+) times with EMFILE", o)
    if m:
        told = int(m.group(1).replace(",", ""))
expect(told is not None and told > 0, "the fd hog reported no EMFILE count")
traced = sum(f["count"] for f in t["failures"]
             if f["op"] == "accept4" and f["errno"] == "EMFILE" and f["pid"] == hog)
expect(traced == told, "traced %d accept4 EMFILE for pid %d, the hog counted %d" % (traced, hog, told))
expect(all(f["comm"] == "cdlab-fdhog" for f in t["failures"] if f["pid"] == hog), "comm")
print("ok: %d accept4 EMFILE traced for cdlab-fdhog pid %d = its own count" % (traced, hog))
PY
rc=$?
[[ $rc -eq 0 ]] || exit 1
lab_assert_no_leftovers
