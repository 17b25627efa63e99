#!/usr/bin/env bash
# Run as an unprivileged user, `check` still reports and names in "missing" what it could
# not read (other users' /proc/PID/fd and limits).
set -uo pipefail
source "$(dirname "$0")/skip.sh"
: "${CONNDOCTOR:?path of the conndoctor binary}"
if [[ $(id -u) -ne 0 ]]; then
  user_cmd=()  # already unprivileged
elif command -v setpriv >/dev/null; then
  user_cmd=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all)
else
  skip_test "needs setpriv (util-linux) to drop privileges"
fi
tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
if ! "${user_cmd[@]}" test -x "$CONNDOCTOR"; then
  skip_test "the binary $CONNDOCTOR is not reachable by user nobody"
fi
"${user_cmd[@]}" "$CONNDOCTOR" check --json --interval 0 >"$tmp/report.json" 2>"$tmp/err"
rc=$?
if [[ $rc -gt 2 ]]; then
  echo "FAIL: exit $rc as nobody: $(cat "$tmp/err")"
  exit 1
fi
python3 - "$tmp/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["schema"] == "conndoctor/report/v1", r["schema"]
assert r["status"] in ("ok", "warning", "critical"), r["status"]
by_state = r["resources"]["sockets"]["by_state"]
assert isinstance(by_state, dict) and by_state, "socket states missing: TCP dumps need no privilege"
missing = " ".join(r["missing"])
assert "fd" in missing or "process" in missing, "missing should name the unreadable process fds: %r" % r["missing"]
print("ok: status %s, %d missing line(s): %s" % (r["status"], len(r["missing"]), r["missing"][:3]))
PY

# `record` as nobody, then its replay: the processes whose fds nobody could not read are
# counted in `missing`, not dropped as if they had exited.
chmod 777 "$tmp"
"${user_cmd[@]}" "$CONNDOCTOR" record --out "$tmp/rec" >"$tmp/rec.out" 2>"$tmp/err" ||
  { echo "FAIL: record as nobody: $(cat "$tmp/err")"; exit 1; }
"$CONNDOCTOR" check --json --proc-root "$tmp/rec/proc" --sock-diag-dump "$tmp/rec/sock_diag.bin" \
  >"$tmp/replay.json" 2>"$tmp/err"
(($? <= 2)) || { echo "FAIL: replay of nobody's recording: $(cat "$tmp/err")"; exit 1; }
python3 - "$tmp/replay.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
lines = [m for m in r["missing"] if "fd counts of" in m and "not readable" in m]
assert lines, "the replay should name the processes nobody could not read: %r" % r["missing"]
print("ok: the replay says: %s" % lines[0])
PY
