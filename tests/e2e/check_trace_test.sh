#!/usr/bin/env bash
# check --trace end to end: in a namespace of its own (a 1,000-port pool, tcp_tw_reuse off),
# "cd-churner" storms 127.0.0.1:8080 with short connections it closes first, from the moment
# the tracer is attached, until connect() fails with EADDRNOTAVAIL. The ephemeral_ports finding
# must then name the churner as the traced owner (confidence "traced", not inferred), with the
# traced churn and the processes that got EADDRNOTAVAIL in its evidence.
set -uo pipefail
source "$(dirname "$0")/skip.sh"
source "$(dirname "$0")/trace_lib.sh"
trace_require
tools=${TOOLS_DIR:-$(dirname "$CONNDOCTOR")/tools}
churn=$tools/cdtool-churn
[[ -x $churn ]] || skip_test "load tool $churn is not built"
command -v ip >/dev/null || skip_test "needs ip (iproute2)"

source "$(dirname "$0")/churn_lib.sh"
churn_ns "cdtr-check-$$" "40000 40999"
churn_sink 8080

# The check traces 12 s and takes its second reading 10 s in; the churn (200 connects/s)
# exhausts the 1,000 ports in about 5 s of that.
ip netns exec "$ns" "$CONNDOCTOR" check --json --interval 10 --trace 12 \
  >"$tmp/report.json" 2>"$tmp/err" &
check_pid=$!
pids+=("$check_pid")
for ((i = 0; i < 200; i++)); do
  [[ $(trace_attached) -ge 4 ]] && break
  kill -0 "$check_pid" 2>/dev/null || break
  sleep 0.05
done
[[ $(trace_attached) -ge 4 ]] || { echo "FAIL: check --trace attached nothing: $(cat "$tmp/err")"; exit 1; }
ip netns exec "$ns" "$churn" churn --to 127.0.0.1:8080 --hold 0 --rate 200 --status "$tmp/status" \
  --max-seconds 60 &
churn_pid=$!
pids+=("$churn_pid")
wait "$check_pid"
rc=$?
if ((rc > 2)); then
  echo "FAIL: check --trace exited $rc: $(head -c 500 "$tmp/err")"
  exit 1
fi
trace_assert_detached "check --trace"

python3 - "$tmp/report.json" "$churn_pid" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
churn = int(sys.argv[2])
t = r.get("trace")
assert t and t["schema"] == "conndoctor/trace/v1", "no trace document in the report: %r" % t
ports = [f for f in r["findings"] if f["resource"] == "ephemeral_ports"
         and f["evidence"].get("destination") == "127.0.0.1:8080"]
assert ports, "no ephemeral_ports finding for 127.0.0.1:8080: %r; missing %r" % (
    [(f["id"], f["evidence"].get("destination")) for f in r["findings"]], r["missing"])
ev = ports[0]["evidence"]
assert ev["pid"] == churn and ev["comm"] == "cd-churner", "owner %r (%r), want cd-churner %d" % (
    ev["pid"], ev["comm"], churn)
assert ev["confidence"] == "traced" and ev["owner_inferred"] is False, (ev["confidence"], ev["owner_inferred"])
tc = ev["traced_churn"]
assert tc["opened"] > 0 and tc["local_closed_first"] > 0 and tc["remote_closed_first"] == 0, tc
got = [p for p in ev["traced_eaddrnotavail"] if p["pid"] == churn]
assert got and got[0]["comm"] == "cd-churner" and got[0]["count"] > 0, ev["traced_eaddrnotavail"]
print("ok: %s names pid %d (cd-churner) as traced owner: opened %d, %d EADDRNOTAVAIL" % (
    ports[0]["id"], churn, tc["opened"], got[0]["count"]))
PY

# Connects refused en masse: a finding of their own (nothing in the state shows them), with the
# count the client saw itself.
connfail=$tools/cdtool-connfail
if [[ -x $connfail ]]; then
  ip netns exec "$ns" "$CONNDOCTOR" check --json --interval 0 --no-processes --trace 4 \
    >"$tmp/refused.json" 2>"$tmp/refused.err" &
  check_pid=$!
  pids+=("$check_pid")
  for ((i = 0; i < 200; i++)); do
    [[ $(trace_attached) -ge 4 ]] && break
    sleep 0.05
  done
  ip netns exec "$ns" "$connfail" --to 127.0.0.1:9 --count 25 >"$tmp/connfail.txt"
  wait "$check_pid"
  rc=$?
  ((rc <= 2)) || { echo "FAIL: check --trace exited $rc: $(cat "$tmp/refused.err")"; exit 1; }
  python3 - "$tmp/refused.json" "$tmp/connfail.txt" <<'PY' || exit 1
import json, sys
r = json.load(open(sys.argv[1]))
lines = open(sys.argv[2]).read().split("\n")
pid = int(lines[0].split()[1])
told = dict((l.split()[0], int(l.split()[1])) for l in lines[1:] if l.strip())
f = [f for f in r["findings"] if f["id"] == "connect_failures.destination"
     and f["evidence"]["destination"] == "127.0.0.1:9"]
assert f, "no connect_failures finding for 127.0.0.1:9: %r" % [x["id"] for x in r["findings"]]
ev = f[0]["evidence"]
assert ev["errno"] == "ECONNREFUSED" and ev["count"] == told["ECONNREFUSED"], (ev, told)
assert ev["processes"] == [{"pid": pid, "comm": "cd-connfail", "count": told["ECONNREFUSED"]}], ev
assert f[0]["layer"] == "network", f[0]["layer"]
print("ok: %s: %s" % (f[0]["severity"], f[0]["title"]))
PY
fi

# Without the privileges to trace, check still diagnoses and says in `missing` why nothing was
# traced ("trace": null).
if command -v setpriv >/dev/null; then
  setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
    "$CONNDOCTOR" check --json --interval 0 --no-processes --trace 1 >"$tmp/np.json" 2>"$tmp/np.err"
  rc=$?
  ((rc <= 2)) || { echo "FAIL: unprivileged check --trace exited $rc: $(cat "$tmp/np.err")"; exit 1; }
  python3 - "$tmp/np.json" <<'PY' || exit 1
import json, sys
r = json.load(open(sys.argv[1]))
assert r["trace"] is None, r["trace"]
why = [m for m in r["missing"] if m.startswith("trace:")]
assert why and "not traced" in why[0], r["missing"]
print("unprivileged: " + why[0])
PY
fi
