#!/usr/bin/env bash
# Plan A for the runtime in front of you, end to end: in a namespace of its own, a CPython
# client holds 3 live connections to 127.0.0.1:5432 and opens and closes short ones (closing
# first) until connect() fails with EADDRNOTAVAIL. The ephemeral_ports finding for that tuple
# must say the owner runs CPython and how that was read (its executable), and its step A must
# name the PostgreSQL pool first (the destination's port) and Python's setting next.
set -uo pipefail
: "${CONNDOCTOR:?path of the conndoctor binary}"
tools=${TOOLS_DIR:-$(dirname "$CONNDOCTOR")/tools}
churn=$tools/cdtool-churn
python=/usr/bin/python3

source "$(dirname "$0")/skip.sh"
skip() { skip_test "$@"; }
[[ -x $churn ]] || skip "load tool $churn is not built"
[[ $(id -u) -eq 0 ]] || skip "needs root to create a network namespace"
command -v ip >/dev/null || skip "needs ip (iproute2)"
[[ -x $python ]] || skip "needs $python (the client under test, and to read the JSON report)"

source "$(dirname "$0")/churn_lib.sh"
churn_ns "cdtest-runtime-$$" "40000 40063"
churn_sink 5432

cat >"$tmp/client.py" <<'PY'
import errno, socket, sys, time
status = sys.argv[1]
held = [socket.create_connection(("127.0.0.1", 5432)) for _ in range(3)]
failed = 0
deadline = time.monotonic() + 90
while time.monotonic() < deadline:
    try:
        s = socket.create_connection(("127.0.0.1", 5432))
        s.close()
    except OSError as e:
        if e.errno != errno.EADDRNOTAVAIL:
            raise
        failed += 1
        with open(status, "w") as f:
            f.write("%d\n" % failed)
        time.sleep(0.01)
PY
ip netns exec "$ns" "$python" "$tmp/client.py" "$tmp/status" 2>"$tmp/client.err" &
client_pid=$!
pids+=("$client_pid")

# Bounded at 30 s (64 ports run out in milliseconds; a loaded machine starts Python slowly).
for _ in $(seq 300); do
  [[ -s $tmp/status ]] && break
  kill -0 "$client_pid" 2>/dev/null || break
  sleep 0.1
done
[[ -s $tmp/status ]] ||
  { echo "FAIL: the Python client never saw EADDRNOTAVAIL: $(tail -c 500 "$tmp/client.err")"; exit 1; }
kill -0 "$client_pid" 2>/dev/null ||
  { echo "FAIL: the Python client exited early: $(tail -c 500 "$tmp/client.err")"; exit 1; }

ip netns exec "$ns" "$CONNDOCTOR" check --json >"$tmp/report.json" 2>"$tmp/err"
rc=$?
((rc <= 2)) || { echo "FAIL: check exited $rc: $(head -c 500 "$tmp/err")"; exit 1; }
ip netns exec "$ns" "$CONNDOCTOR" check >"$tmp/report.txt" 2>&1
# On a failed assertion, what the diagnosis printed (CI shows only the test's output).
trap 'rc=$?; ((rc)) && { echo "--- check printed:"; head -c 3000 "$tmp/report.txt"; }; churn_cleanup' EXIT

"$python" - "$tmp/report.json" "$client_pid" "$tmp/report.txt" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
client = int(sys.argv[2])
text = open(sys.argv[3]).read()
ports = [f for f in report["findings"] if f["resource"] == "ephemeral_ports"
         and f["evidence"].get("destination") == "127.0.0.1:5432"]
assert ports, "no ephemeral_ports finding for 127.0.0.1:5432: %r" % [
    (f["id"], f["evidence"].get("destination")) for f in report["findings"]]
f = ports[0]
ev = f["evidence"]
assert ev.get("pid") == client, "owner %r, want the Python client %d" % (ev.get("pid"), client)
assert ev.get("runtime") == "cpython", "runtime %r, want cpython" % ev.get("runtime")
how = ev.get("runtime_detected_by") or ""
assert how.startswith("executable /usr/bin/python3"), "detected by %r" % how
a = f["remediation"][0]
assert a["priority"] == "A", "first step %r" % a["priority"]
assert "the client runs Python" in a["action"], a["action"]
assert a["commands"][0].startswith("PostgreSQL (port 5432)"), a["commands"][0]
assert a["commands"][1].startswith("Python: "), a["commands"][1]
assert "the client runs Python" in text, "the text report does not name the runtime"
print("ok: %s names pid %d (%s), runtime %s (%s); step A starts with %r" % (
    f["id"], client, ev.get("comm"), ev["runtime"], how, a["commands"][1][:30]))
PY
