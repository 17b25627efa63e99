#!/usr/bin/env bash
# `serve --history` records each collection it makes, once per collection whatever the number
# of scrapes: on a recorded host (fixture /proc and the ports_exhausted sock_diag dump) the
# recorded samples hold every finding /report served, each one incident over every sample, and `--at` prints the same report /report served (status, summary,
# findings). serve listens on a loopback port the kernel picks.
set -uo pipefail
source "$(dirname "$0")/skip.sh"
: "${CONNDOCTOR:?path of the conndoctor binary}"
: "${FIXTURES:?path of tests/fixtures}"
command -v curl >/dev/null || skip_test "needs curl"
command -v python3 >/dev/null || skip_test "needs python3"
tmp=$(mktemp -d)
serve_pid=
trap '[[ -n $serve_pid ]] && kill -TERM "$serve_pid" 2>/dev/null && wait "$serve_pid"; rm -rf "$tmp"' EXIT
DB=$tmp/h.db
"$CONNDOCTOR" serve --listen 127.0.0.1:0 --min-interval 0 --history "$DB" \
  --proc-root "$FIXTURES/proc/host_6_18" --sock-diag-dump "$FIXTURES/dumps/ports_exhausted.nldump" \
  2>"$tmp/serve.err" &
serve_pid=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$tmp/serve.err")
  [[ -n $port ]] && break
  sleep 0.05
done
[[ -n $port ]] || { echo "FAIL: serve did not start: $(cat "$tmp/serve.err")"; exit 1; }
for _ in 1 2 3; do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null || { echo "FAIL: scrape"; exit 1; }; done
curl -sf "http://127.0.0.1:$port/report" >"$tmp/report.json" || { echo "FAIL: /report"; exit 1; }
kill -TERM "$serve_pid"
wait "$serve_pid"
serve_pid=
"$CONNDOCTOR" history "$DB" --json >"$tmp/h.json" || { echo "FAIL: history exited $?"; exit 1; }
last=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["last_sample"])' "$tmp/h.json")
"$CONNDOCTOR" history "$DB" --at "$last" --json >"$tmp/at.json"
rc=$?
python3 - "$tmp/h.json" "$tmp/report.json" "$tmp/at.json" "$rc" <<'PY' || exit 1
import json, sys
h = json.load(open(sys.argv[1])); served = json.load(open(sys.argv[2])); at = json.load(open(sys.argv[3]))
rc = int(sys.argv[4])
def fail(m): print("FAIL:", m); print(json.dumps(h, indent=1)); sys.exit(1)
# The first collection at start-up, then one per scrape (min-interval 0): 1 + 3 + 1 (/report).
if h["samples"] != 5: fail("%d samples recorded for 5 collections" % h["samples"])
# Every finding /report served is an incident over all five samples, still active at the end.
def subject(f):
    e = f["evidence"]
    if isinstance(e.get("destination"), str): return e["destination"]
    if isinstance(e.get("pid"), int): return "pid %d%s" % (e["pid"], " " + e["comm"] if isinstance(e.get("comm"), str) else "")
    return ""
incidents = {(i["id"], i["subject"]): i for i in h["incidents"]}
if not served["findings"]: fail("the fixture's report has no finding")
for f in served["findings"]:
    i = incidents.get((f["id"], subject(f)))
    if not i: fail("no incident for %s %s" % (f["id"], subject(f)))
    if i["samples"] != 5 or i["ended"] is not None or i["severity"] != f["severity"]:
        fail("incident %s %s: %d samples, ended %s, %s" % (f["id"], subject(f), i["samples"], i["ended"], i["severity"]))
crit = [i for i in h["incidents"] if i["severity"] == "critical"]
if not crit: fail("no critical incident")
if rc != {"ok": 0, "warning": 1, "critical": 2}[at["status"]]: fail("--at exit %d for %s" % (rc, at["status"]))
for k in ("schema", "status", "summary"):
    if at[k] != served[k]: fail("--at %s %r differs from /report's %r" % (k, at[k], served[k]))
if [f["id"] for f in at["findings"]] != [f["id"] for f in served["findings"]]:
    fail("--at findings differ from /report's")
print("ok:", h["samples"], "samples;", crit[0]["peak_title"])
PY
