#!/usr/bin/env bash
# The flight recorder sees a real exhaustion. In a namespace of its own (the lab's
# port-exhaustion set-up: a 1,000-port range, tcp_tw_reuse off, one destination stormed with
# short connections the client closes first), `watch --every 1s` records before, during and
# after the storm, while `check` diagnoses it once. `history` must then show a critical
# ephemeral_ports incident naming 127.0.0.1:8080 and the churner, whose window covers check's
# diagnosis; `--at` inside the window prints the report again (JSON and text); `--html` writes
# the incident report, which tests/e2e/history_html_check.sh loads in headless Chromium.
# This one runs `watch` inside the namespace (no --netns, the plain in-process recorder);
# history_lab_port_exhaustion_test.sh records the lab's own scenario from outside
# (`watch --netns --trace`), since the lab's teardown SIGKILLs every process of its namespace.
set -uo pipefail
: "${CONNDOCTOR:?path of the conndoctor binary}"
tools=${TOOLS_DIR:-$(dirname "$CONNDOCTOR")/tools}
churn=$tools/cdtool-churn
here=$(dirname "$0")
source "$here/skip.sh"
[[ -x $churn ]] || skip_test "load tool $churn is not built"
[[ $(id -u) -eq 0 ]] || skip_test "needs root to create a network namespace"
command -v ip >/dev/null || skip_test "needs ip (iproute2)"
command -v python3 >/dev/null || skip_test "needs python3 to read the JSON reports"

ns=cdhist-$$
tmp=$(mktemp -d)
DB=$tmp/history.db
pids=()
watch_pid=
cleanup() {
  [[ -n $watch_pid ]] && kill -TERM "$watch_pid" 2>/dev/null && wait "$watch_pid" 2>/dev/null
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$ns" 2>/dev/null || skip_test "cannot create a network namespace (ip netns add)"
ip -n "$ns" link set lo up || { echo "FAIL: cannot bring lo up in $ns"; exit 1; }
ip netns exec "$ns" sh -c 'echo "40000 40999" >/proc/sys/net/ipv4/ip_local_port_range &&
  echo 0 >/proc/sys/net/ipv4/tcp_tw_reuse' || { echo "FAIL: cannot set namespace sysctls"; exit 1; }
in_ns() { ip netns exec "$ns" "$@"; }

samples() {
  "$CONNDOCTOR" history "$DB" --since 1h --json 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["samples"])' 2>/dev/null || echo 0
}
# wait_samples N: until the database holds N samples (bounded: a minute).
wait_samples() {
  for _ in $(seq 300); do (($(samples) >= $1)) && return 0; sleep 0.2; done
  echo "FAIL: the recorder did not reach $1 samples: $(cat "$tmp/watch.err")"
  exit 1
}

ip netns exec "$ns" "$CONNDOCTOR" watch --history "$DB" --every 1s 2>"$tmp/watch.err" &
watch_pid=$!
wait_samples 2  # a calm start

ip netns exec "$ns" "$churn" sink --listen 127.0.0.1:8080 --max-seconds 90 &
pids+=($!)
for _ in $(seq 50); do
  [[ $(in_ns ss -Htln 'sport = :8080' 2>/dev/null) ]] && break
  sleep 0.1
done
ip netns exec "$ns" "$churn" churn --to 127.0.0.1:8080 --hold 3 --rate 400 --status "$tmp/status" \
  --max-seconds 90 &
churn_pid=$!
pids+=("$churn_pid")
for _ in $(seq 100); do
  read -r _ ok _ eaddr _ other _ held 2>/dev/null <"$tmp/status" && ((eaddr > 0)) && break
  sleep 0.1
done
((${eaddr:-0} > 0)) || { echo "FAIL: the churn never exhausted the pool: $(cat "$tmp/status")"; exit 1; }

# The reference diagnosis while the pool is exhausted, then a few more recorded samples.
in_ns "$CONNDOCTOR" check --json --interval 1 >"$tmp/check.json" 2>"$tmp/check.err"
check_rc=$?
((check_rc == 2)) || { echo "FAIL: check exited $check_rc: $(cat "$tmp/check.err")"; exit 1; }
wait_samples $(($(samples) + 3))
kill -TERM "$churn_pid"
kill -TERM "$watch_pid"
wait "$watch_pid"
watch_rc=$?
watch_pid=
[[ $watch_rc -eq 0 ]] || { echo "FAIL: watch exited $watch_rc: $(cat "$tmp/watch.err")"; exit 1; }
grep -q "stopped (SIGTERM)" "$tmp/watch.err" || { echo "FAIL: no clean stop line"; cat "$tmp/watch.err"; exit 1; }

"$CONNDOCTOR" history "$DB" --since 1h --json >"$tmp/incidents.json" || { echo "FAIL: history --json exited $?"; exit 1; }
"$CONNDOCTOR" history "$DB" --since 1h --color never --html "$tmp/report.html" >"$tmp/incidents.txt" ||
  { echo "FAIL: history --html exited $?"; exit 1; }
cat "$tmp/incidents.txt"
peak=$(python3 - "$tmp/check.json" "$tmp/incidents.json" "$churn_pid" <<'PY'
import json, sys
from datetime import datetime
check = json.load(open(sys.argv[1])); h = json.load(open(sys.argv[2])); churn_pid = sys.argv[3]
def t(s): return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
def fail(msg):
    print("FAIL:", msg); print(json.dumps(h, indent=1)); sys.exit(1)
if h["schema"] != "conndoctor/history/v1": fail("schema")
if not any(f["resource"] == "ephemeral_ports" and f["severity"] == "critical" for f in check["findings"]):
    fail("check itself found no critical ephemeral_ports finding")
checked_at = t(check["host"]["generated_at"])
hits = [i for i in h["incidents"] if i["resource"] == "ephemeral_ports" and i["severity"] == "critical"
        and i["destination"] == "127.0.0.1:8080"]
if not hits: fail("no critical ephemeral_ports incident naming 127.0.0.1:8080")
i = hits[0]
end = t(i["ended"]) if i["ended"] else t(i["last_seen"])
if not (t(i["started"]) <= checked_at <= end):
    fail("incident %s..%s does not cover check's diagnosis at %s" % (i["started"], end, checked_at))
if t(i["started"]) <= t(h["first_sample"]): fail("the incident started at the first sample; the calm start is missing")
if i["samples"] < 3: fail("the incident spans %d sample(s)" % i["samples"])
if not any(p.startswith(churn_pid + " ") and "cd-churner" in p for p in i["processes"]):
    fail("the churner (pid %s) is not named: %s" % (churn_pid, i["processes"]))
print(i["peaked"])
PY
) || { echo "$peak"; exit 1; }
echo "peak: $peak"

"$CONNDOCTOR" history "$DB" --at "$peak" --json >"$tmp/at.json"
at_rc=$?
"$CONNDOCTOR" history "$DB" --at "$peak" --color never >"$tmp/at.txt"
at_txt_rc=$?
python3 - "$tmp/check.json" "$tmp/at.json" "$at_rc" "$at_txt_rc" "$tmp/at.txt" <<'PY' || exit 1
import json, sys
check = json.load(open(sys.argv[1])); at = json.load(open(sys.argv[2]))
rc, rc_txt = int(sys.argv[3]), int(sys.argv[4]); text = open(sys.argv[5]).read()
def fail(msg): print("FAIL:", msg); sys.exit(1)
if at["schema"] != "conndoctor/report/v1": fail("--at schema")
if at["status"] != "critical" or rc != 2 or rc_txt != 2:
    fail("--at: status %s, exit %d/%d" % (at["status"], rc, rc_txt))
key = lambda f: (f["id"], f["severity"], f["layer"], f["evidence"].get("destination"))
want = {key(f) for f in check["findings"] if f["resource"] == "ephemeral_ports" and f["severity"] == "critical"}
got = {key(f) for f in at["findings"]}
if not want <= got: fail("--at lacks check's critical findings %s (has %s)" % (want - got, got))
if at["summary"] not in text: fail("--at text and JSON disagree on the summary")
if "127.0.0.1:8080" not in text: fail("--at text does not name the destination")
print("--at:", at["summary"])
PY

if command -v chromium >/dev/null; then
  bash "$here/history_html_check.sh" "$tmp/report.html" "$tmp/shot" || exit 1
  [[ -n ${HISTORY_KEEP_SCREENSHOT:-} ]] && cp "$tmp/shot/screenshot.png" "$HISTORY_KEEP_SCREENSHOT"
else
  skip_check "the HTML report in Chromium (chromium is not installed)"
fi
skip_partial_end
echo "ok"
