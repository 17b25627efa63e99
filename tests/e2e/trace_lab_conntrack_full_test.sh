#!/usr/bin/env bash
# conndoctor trace during lab conntrack-full: the NETFILTER_DROP drops traced in the lab's
# namespace equal the new flows the lab's generator saw dropped while the table was full.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/trace_lib.sh"
lab_require
trace_require
TRACE_OUT=$LAB_TMP/trace.json
trace_start "$TRACE_OUT" --all-netns --duration 300
trap 'kill -KILL $TRACE_PID 2>/dev/null; rm -rf "$LAB_TMP"' EXIT
lab_run conntrack-full
trace_stop INT
trace_assert_detached "SIGINT"
python3 - "$LAB_JSON" "$TRACE_OUT" <<'PY'
import json, re, sys
lab = json.load(open(sys.argv[1]))["lab"]
t = json.load(open(sys.argv[2]))
def expect(cond, msg):
    if not cond:
        print("FAIL:", msg)
        print("lab observed:", lab["observed"], "netns_inode:", lab["netns_inode"])
        print("trace drops:", json.dumps(t["drops"])[:2000], "missing:", t["missing"])
        sys.exit(1)
# "N new flows tried while the table was full, M dropped" (the generator's own count)
told = None
for o in lab["observed"]:
    m = re.search(r"while the table was full, ([\d,]+) dropped", o)
    if m:
        told = int(m.group(1).replace(",", ""))
expect(told is not None and told > 0, "the generator reported no dropped flows")
traced = sum(d["count"] for d in t["drops"]
             if d["reason"] == "NETFILTER_DROP" and d["netns"] == lab["netns_inode"])
expect(traced == told, "traced %d NETFILTER_DROP in netns %d, the generator saw %d dropped"
       % (traced, lab["netns_inode"], told))
print("ok: %d NETFILTER_DROP traced in the lab's namespace = the generator's count" % traced)
PY
rc=$?
[[ $rc -eq 0 ]] || exit 1
lab_assert_no_leftovers
