#!/usr/bin/env bash
# The flight recorder records what the lab reproduces. `conndoctor lab run port-exhaustion
# --settle 20` announces its namespace and leaves it idle for 20 s; `watch --netns NAME --every
# 1s --trace` records it from outside (the lab kills every process inside its namespace when it
# ends: the recorder's collector is one of them, and the recorder must start another in the
# namespace it holds). `history` must then show a critical ephemeral_ports incident naming
# 127.0.0.1:8080 whose window covers the lab's own diagnosis, after a calm start; the traced
# connect() EADDRNOTAVAIL failures of the lab's client (pid and comm from the lab's report) as
# who failed, no more than the client counted itself; `--at` inside the window reprints the
# report (JSON and text) with the lab's critical findings and the trace; and `--html` writes the
# incident report with the traced failures chart, checked in headless Chromium.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
here=$(dirname "$0")
lab_require
[[ -r /sys/kernel/btf/vmlinux ]] || skip_test "the kernel has no BTF (watch --trace)"

DB=$LAB_TMP/history.db
LAB_JSON=$LAB_TMP/lab.json
lab_pid=
watch_pid=
cleanup() {
  [[ -n $lab_pid ]] && kill -TERM "$lab_pid" 2>/dev/null && wait "$lab_pid" 2>/dev/null
  [[ -n $watch_pid ]] && kill -TERM "$watch_pid" 2>/dev/null && wait "$watch_pid" 2>/dev/null
  # Only this run's namespace (a lab killed by -9 could leave it).
  [[ -n ${lab_ns:-} ]] && "$CONNDOCTOR" lab clean "$lab_ns" >/dev/null 2>&1
  rm -rf "$LAB_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

samples() {
  "$CONNDOCTOR" history "$DB" --since 1h --json 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["samples"])' 2>/dev/null || echo 0
}
# wait_samples N: until the database holds N samples (bounded: a minute).
wait_samples() {
  for _ in $(seq 300); do (($(samples) >= $1)) && return 0; sleep 0.2; done
  echo "FAIL: the recorder did not reach $1 samples: $(cat "$LAB_TMP/watch.err")"
  exit 1
}

"$CONNDOCTOR" lab run port-exhaustion --settle 20 --interval 5 --json >"$LAB_JSON" \
  2>"$LAB_TMP/lab.err" &
lab_pid=$!
for _ in $(seq 150); do
  grep -q ' ready; the load starts in ' "$LAB_TMP/lab.err" && break
  kill -0 "$lab_pid" 2>/dev/null || break
  sleep 0.2
done
lab_ns=$(sed -n 's/^conndoctor lab: namespace \([^ ]*\) (inode [0-9]*) ready;.*/\1/p' "$LAB_TMP/lab.err")
[[ $lab_ns == cdlab-$lab_pid-port-exhaustion ]] ||
  { echo "FAIL: the lab did not announce its namespace: $(cat "$LAB_TMP/lab.err")"; exit 1; }

"$CONNDOCTOR" watch --history "$DB" --every 1s --netns "$lab_ns" --trace 2>"$LAB_TMP/watch.err" &
watch_pid=$!
wait_samples 2 # the calm before the load
if grep -q 'not tracing' "$LAB_TMP/watch.err"; then
  skip_test "watch --trace cannot trace here: $(grep 'not tracing' "$LAB_TMP/watch.err")"
fi

wait "$lab_pid"
lab_rc=$?
lab_pid=
((lab_rc == 2)) || { echo "FAIL: lab run exited $lab_rc: $(head -c 500 "$LAB_TMP/lab.err")"; exit 1; }
# The lab's teardown killed the collector inside its namespace; the recorder starts another in
# the namespace it holds and keeps recording it.
for _ in $(seq 150); do
  grep -q 'killed by SIGKILL; starting another' "$LAB_TMP/watch.err" && break
  sleep 0.2
done
grep -q 'killed by SIGKILL; starting another' "$LAB_TMP/watch.err" ||
  { echo "FAIL: no restarted collector: $(cat "$LAB_TMP/watch.err")"; exit 1; }
wait_samples $(($(samples) + 3))
kill -TERM "$watch_pid"
wait "$watch_pid"
watch_rc=$?
watch_pid=
[[ $watch_rc -eq 0 ]] || { echo "FAIL: watch exited $watch_rc: $(cat "$LAB_TMP/watch.err")"; exit 1; }
grep -q "stopped (SIGTERM)" "$LAB_TMP/watch.err" || { echo "FAIL: no clean stop line"; cat "$LAB_TMP/watch.err"; exit 1; }
cat "$LAB_TMP/watch.err"

"$CONNDOCTOR" history "$DB" --since 1h --json >"$LAB_TMP/incidents.json" ||
  { echo "FAIL: history --json exited $?"; exit 1; }
"$CONNDOCTOR" history "$DB" --since 1h --color never --html "$LAB_TMP/report.html" >"$LAB_TMP/incidents.txt" ||
  { echo "FAIL: history --html exited $?"; exit 1; }
cat "$LAB_TMP/incidents.txt"
peak=$(python3 - "$LAB_JSON" "$LAB_TMP/incidents.json" "$LAB_TMP/incidents.txt" <<'PY'
import json, re, sys
from datetime import datetime
lab = json.load(open(sys.argv[1])); h = json.load(open(sys.argv[2])); text = open(sys.argv[3]).read()
def t(s): return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
def fail(msg):
    print("FAIL:", msg); print(json.dumps(h, indent=1)[:4000]); sys.exit(1)
if h["schema"] != "conndoctor/history/v1": fail("schema")
if not any(f["resource"] == "ephemeral_ports" and f["severity"] == "critical" for f in lab["findings"]):
    fail("the lab itself found no critical ephemeral_ports finding")
lab_at = t(lab["host"]["generated_at"])
hits = [i for i in h["incidents"] if i["resource"] == "ephemeral_ports" and i["severity"] == "critical"
        and i["destination"] == "127.0.0.1:8080"]
if not hits: fail("no critical ephemeral_ports incident naming 127.0.0.1:8080")
i = hits[0]
end = t(i["ended"]) if i["ended"] else t(i["last_seen"])
if not (t(i["started"]) <= lab_at <= end):
    fail("incident %s..%s does not cover the lab's diagnosis at %s" % (i["started"], end, lab_at))
if t(i["started"]) <= t(h["first_sample"]): fail("the incident started at the first sample; the calm start is missing")
if i["samples"] < 3: fail("the incident spans %d sample(s)" % i["samples"])
# Who failed: the lab's client, by pid and comm, to the exhausted destination; never more than
# the client counted itself (the collector killed at the lab's end loses its last counts).
client = [w["pid"] for w in lab["lab"]["workers"] if w["comm"] == "cdlab-client"]
if len(client) != 1: fail("one cdlab-client in the lab's workers: %r" % lab["lab"]["workers"])
client = client[0]
told = None
for o in lab["lab"]["observed"]:
    m = re.search(r"([\d,]+) (?:failed )?with EADDRNOTAVAIL", o)
    if m and "connects to" in o: told = int(m.group(1).replace(",", ""))
if not told: fail("the client reported no EADDRNOTAVAIL count: %r" % lab["lab"]["observed"])
failed = i["traced_failures"]
if failed is None: fail("the incident was not traced")
mine = [f for f in failed if f["op"] == "connect" and f["errno"] == "EADDRNOTAVAIL" and f["pid"] == client]
if not mine: fail("no traced connect() EADDRNOTAVAIL of the client pid %d: %r" % (client, failed))
got = sum(f["count"] for f in mine)
if not (0 < got <= told): fail("traced %d EADDRNOTAVAIL for the client, which counted %d" % (got, told))
if any(f["comm"] != "cdlab-client" or f["destination"] != "127.0.0.1:8080" for f in mine):
    fail("comm/destination of the traced failures: %r" % mine)
want = "connect() EADDRNOTAVAIL by pid %d cdlab-client to 127.0.0.1:8080" % client
if want not in text: fail("the text does not say who failed (%r)" % want)
print("traced %d of the client's %d EADDRNOTAVAIL" % (got, told), file=sys.stderr)
print(i["peaked"])
PY
) || { echo "$peak"; exit 1; }
echo "peak: $peak"

"$CONNDOCTOR" history "$DB" --at "$peak" --json >"$LAB_TMP/at.json"
at_rc=$?
"$CONNDOCTOR" history "$DB" --at "$peak" --color never >"$LAB_TMP/at.txt"
at_txt_rc=$?
python3 - "$LAB_JSON" "$LAB_TMP/at.json" "$at_rc" "$at_txt_rc" "$LAB_TMP/at.txt" <<'PY' || exit 1
import json, sys
lab = json.load(open(sys.argv[1])); at = json.load(open(sys.argv[2]))
rc, rc_txt = int(sys.argv[3]), int(sys.argv[4]); text = open(sys.argv[5]).read()
def fail(msg): print("FAIL:", msg); sys.exit(1)
if at["schema"] != "conndoctor/report/v1": fail("--at schema")
if at["status"] != "critical" or rc != 2 or rc_txt != 2:
    fail("--at: status %s, exit %d/%d" % (at["status"], rc, rc_txt))
key = lambda f: (f["id"], f["severity"], f["layer"], f["evidence"].get("destination"))
want = {key(f) for f in lab["findings"] if f["resource"] == "ephemeral_ports" and f["severity"] == "critical"}
got = {key(f) for f in at["findings"]}
if not want <= got: fail("--at lacks the lab's critical findings %s (has %s)" % (want - got, got))
if at["resources"]["netns"] != lab["lab"]["netns"]:
    fail("--at netns %r, the lab's is %r" % (at["resources"]["netns"], lab["lab"]["netns"]))
tr = at.get("trace")
if not tr or tr["schema"] != "conndoctor/trace/v1": fail("--at has no trace member")
if not any(f["errno"] == "EADDRNOTAVAIL" for f in tr["failures"]): fail("--at: no EADDRNOTAVAIL traced")
if at["summary"] not in text: fail("--at text and JSON disagree on the summary")
if "127.0.0.1:8080" not in text or "failed calls" not in text:
    fail("--at text lacks the destination or the traced failed calls")
print("--at:", at["summary"])
PY

grep -q 'Failed calls per second (traced)' "$LAB_TMP/report.html" || { echo "FAIL: no traced failures chart"; exit 1; }
if command -v chromium >/dev/null; then
  bash "$here/history_html_check.sh" "$LAB_TMP/report.html" "$LAB_TMP/shot" || exit 1
  [[ -n ${HISTORY_KEEP_SCREENSHOT:-} ]] && cp "$LAB_TMP/shot/screenshot.png" "$HISTORY_KEEP_SCREENSHOT"
else
  skip_check "the HTML report in Chromium (chromium is not installed)"
fi
# The recorder held the namespace; stopped, nothing of the lab run is left.
lab_assert_no_leftovers
skip_partial_end
echo "ok"
