#!/usr/bin/env bash
# The flight recorder's refusals, each one stderr line and exit 3 with nothing on stdout: a
# second writer on the same database, a database of a newer schema, a file that is not a
# conndoctor database, another program's SQLite file, a --netns that names no namespace
# (before the database is created) or goes with --proc-root, and bad --since/--until/--at/--every
# values. The recording writer reads this host (read-only) into a temporary database.
set -uo pipefail
source "$(dirname "$0")/skip.sh"
: "${CONNDOCTOR:?path of the conndoctor binary}"
command -v python3 >/dev/null || skip_test "python3 (with its sqlite3 module) is needed"
python3 -c 'import sqlite3' 2>/dev/null || skip_test "python3's sqlite3 module is missing"
TMP=$(mktemp -d)
WATCH=
trap '[[ -n "$WATCH" ]] && kill -TERM "$WATCH" 2>/dev/null && wait "$WATCH"; rm -rf "$TMP"' EXIT
fails=0

# refused "what" "expected text" cmd...: exit 3, one stderr line containing the text, no stdout.
refused() {
  local what=$1 want=$2
  shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"
  local rc=$?
  local lines
  lines=$(wc -l <"$TMP/err")
  if [[ $rc -ne 3 || $lines -ne 1 || -s "$TMP/out" ]] || ! grep -q -- "$want" "$TMP/err"; then
    echo "FAIL: $what: exit $rc, $lines stderr lines, $(wc -c <"$TMP/out") bytes on stdout:"
    cat "$TMP/err"
    fails=$((fails + 1))
  else
    echo "ok: $what: $(cat "$TMP/err")"
  fi
}

DB="$TMP/h.db"
"$CONNDOCTOR" watch --history "$DB" --every 1s --no-processes 2>"$TMP/watch.err" &
WATCH=$!
for _ in $(seq 100); do
  [[ -s "$DB" ]] && "$CONNDOCTOR" history "$DB" --json 2>/dev/null |
    python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["samples"] > 0 else 1)' && break
  sleep 0.2
done
refused "second writer" "another conndoctor is already recording" \
  "$CONNDOCTOR" watch --history "$DB" --every 1s
refused "serve as a second writer" "another conndoctor is already recording" \
  "$CONNDOCTOR" serve --listen 127.0.0.1:0 --history "$DB"
# Readers are not writers: history works while watch records.
"$CONNDOCTOR" history "$DB" >/dev/null || { echo "FAIL: history beside a writer exited $?"; fails=$((fails + 1)); }
kill -TERM "$WATCH"
wait "$WATCH"
rc=$?
WATCH=
[[ $rc -eq 0 ]] || { echo "FAIL: watch exited $rc on SIGTERM"; cat "$TMP/watch.err"; fails=$((fails + 1)); }

refused "bad --since" "--since: 'yesterday' is not a time" "$CONNDOCTOR" history "$DB" --since yesterday
refused "bad --until" "--until: '25:61' is not a time" "$CONNDOCTOR" history "$DB" --until 25:61
refused "bad --at" "--at: '2026-02-31T00:00:00Z' is not a time" "$CONNDOCTOR" history "$DB" --at 2026-02-31T00:00:00Z
refused "--at before the first sample" "no sample at or before" "$CONNDOCTOR" history "$DB" --at @1000
refused "--at with --html" "excludes" "$CONNDOCTOR" history "$DB" --at 1s --html "$TMP/x.html"
refused "--at with --since" "excludes" "$CONNDOCTOR" history "$DB" --at 1s --since 2h
refused "bad --every" "--every: 'often' is not a duration" "$CONNDOCTOR" watch --history "$TMP/x.db" --every often
refused "bad --max-size" "--max-size: 'big' is not a size" "$CONNDOCTOR" watch --history "$TMP/x.db" --max-size big
refused "missing database" "No such file" "$CONNDOCTOR" history "$TMP/absent.db"

cp "$DB" "$TMP/newer.db"
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("PRAGMA user_version=99"); c.commit()' "$TMP/newer.db"
refused "newer schema (reader)" "written by a newer conndoctor (history schema 99" "$CONNDOCTOR" history "$TMP/newer.db"
refused "newer schema (writer)" "written by a newer conndoctor" "$CONNDOCTOR" watch --history "$TMP/newer.db"

head -c 65536 /dev/urandom >"$TMP/noise.bin"
refused "not a database (reader)" "not a conndoctor history database" "$CONNDOCTOR" history "$TMP/noise.bin"
refused "not a database (writer)" "not a conndoctor history database" "$CONNDOCTOR" watch --history "$TMP/noise.bin"
python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE t(x)"); c.commit()' "$TMP/other.db"
refused "another program's SQLite file" "not a conndoctor history database" "$CONNDOCTOR" history "$TMP/other.db"
refused "--netns of no namespace" "cdh-hist-no-such-netns" "$CONNDOCTOR" watch --history "$TMP/netns.db" \
  --netns cdh-hist-no-such-netns
[[ -e "$TMP/netns.db" ]] && { echo "FAIL: a refused --netns created the database"; fails=$((fails + 1)); }
refused "--netns with --proc-root" "--proc-root does not apply" "$CONNDOCTOR" watch --history "$TMP/netns.db" \
  --netns 1 --proc-root "$TMP"

((fails == 0)) || exit 1
echo "ok"
