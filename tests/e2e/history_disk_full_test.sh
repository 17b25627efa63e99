#!/usr/bin/env bash
# The disk fills under the recorder: `watch` writes into a 4 MiB tmpfs (mounted in a private
# mount namespace of this test, so it vanishes with it), a filler file takes the rest of the
# space, and the recorder must log exactly one line about it, keep running, log one line when
# the filler is removed and record again; the file stays intact (PRAGMA integrity_check) and
# every sample it reported before the disk filled is still there.
set -uo pipefail
source "$(dirname "$0")/skip.sh"
: "${CONNDOCTOR:?path of the conndoctor binary}"
[[ $(id -u) -eq 0 ]] || skip_test "needs root to mount a tmpfs (in a private mount namespace)"
command -v unshare >/dev/null || skip_test "needs unshare (util-linux)"
python3 -c 'import sqlite3' 2>/dev/null || skip_test "needs python3 with its sqlite3 module"
if [[ -z ${HISTORY_DISK_FULL_INNER:-} ]]; then
  exec unshare -m --propagation private env HISTORY_DISK_FULL_INNER=1 bash "$0" "$@"
fi

dir=$(mktemp -d)
watch_pid=
cleanup() {
  [[ -n $watch_pid ]] && kill -TERM "$watch_pid" 2>/dev/null && wait "$watch_pid" 2>/dev/null
  umount "$dir/fs" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
mkdir "$dir/fs"
mount -t tmpfs -o size=4m tmpfs "$dir/fs" || skip_test "cannot mount a tmpfs here"
DB=$dir/fs/h.db

samples() {
  python3 - "$DB" <<'PY' 2>/dev/null || echo 0
import sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
print(c.execute("select count(*) from samples").fetchone()[0])
PY
}
wait_for() {  # wait_for 'condition' what: bounded (a minute)
  for _ in $(seq 300); do eval "$1" && return 0; sleep 0.2; done
  echo "FAIL: $2"; cat "$dir/watch.err"; exit 1
}

"$CONNDOCTOR" watch --history "$DB" --every 1s --no-processes --max-size 64MiB 2>"$dir/watch.err" &
watch_pid=$!
wait_for '(( $(samples) >= 2 ))' "no samples recorded before the disk filled"
before=$(samples)
# Fill the tmpfs: dd stops at ENOSPC.
dd if=/dev/zero of="$dir/fs/filler" bs=64k 2>/dev/null
wait_for 'grep -q "cannot record a sample" "$dir/watch.err"' "no log line about the full disk"
# Several sample periods with the disk full: still one line, still running.
sleep 4
kill -0 "$watch_pid" 2>/dev/null || { echo "FAIL: watch died on a full disk"; cat "$dir/watch.err"; exit 1; }
n=$(grep -c "cannot record a sample" "$dir/watch.err")
((n == 1)) || { echo "FAIL: $n log lines about the full disk (want 1)"; cat "$dir/watch.err"; exit 1; }
full=$(samples)
rm -f "$dir/fs/filler"
wait_for 'grep -q "recording again" "$dir/watch.err"' "recording did not resume when space returned"
wait_for '(( $(samples) >= full + 2 ))' "no new samples after space returned"
kill -TERM "$watch_pid"
wait "$watch_pid"
rc=$?
watch_pid=
((rc == 0)) || { echo "FAIL: watch exited $rc"; cat "$dir/watch.err"; exit 1; }
python3 - "$DB" "$before" <<'PY' || exit 1
import sqlite3, sys, zlib, json
c = sqlite3.connect(sys.argv[1])
ok = c.execute("PRAGMA integrity_check").fetchone()[0]
if ok != "ok": print("FAIL: integrity_check:", ok); sys.exit(1)
rows = c.execute("select id, encoding, report from samples order by id").fetchall()
if len(rows) < int(sys.argv[2]) + 2: print("FAIL: samples were lost:", len(rows)); sys.exit(1)
for i, enc, rep in rows:
    json.loads(zlib.decompress(rep) if enc == "zlib" else rep)
print("integrity ok,", len(rows), "samples read back")
PY
cat "$dir/watch.err"
echo ok
