#!/usr/bin/env bash
# kill -9 the recorder's writer at random moments, 50 times in a row, on one database: after
# every kill PRAGMA integrity_check is ok and every sample whose commit returned reads back
# whole (cdtool-history_writer drives the product's HistoryWriter with ~100 KB samples, so
# most kills land inside a transaction or a checkpoint). Only a temporary file is touched.
set -uo pipefail
source "$(dirname "$0")/skip.sh"
TOOL="${TOOLS_DIR:?}/cdtool-history_writer"
[[ -x "$TOOL" ]] || skip_test "no $TOOL (build the cdtool-history_writer target)"
TMP=$(mktemp -d)
WRITER=
trap '[[ -n "$WRITER" ]] && kill -9 "$WRITER" 2>/dev/null; rm -rf "$TMP"' EXIT
DB="$TMP/h.db"
: >"$TMP/committed"
for round in $(seq 50); do
  "$TOOL" write "$DB" 100000 >"$TMP/round" 2>"$TMP/err" &
  WRITER=$!
  # A random moment within the first ~400 ms of writing (the open, the first commits, a
  # checkpoint): the kill lands wherever the writer is.
  sleep "0.$(printf '%03d' $((RANDOM % 400)))"
  kill -9 "$WRITER" 2>/dev/null
  wait "$WRITER" 2>/dev/null
  WRITER=
  if [[ -s "$TMP/err" ]]; then
    echo "FAIL: round $round: the writer failed: $(cat "$TMP/err")"
    exit 1
  fi
  cat "$TMP/round" >>"$TMP/committed"
  # Each round: the integrity check and this round's samples (a later crash cannot repair an
  # earlier sample, so every sample is read back once more at the end).
  out=$("$TOOL" verify "$DB" "$TMP/round") || { echo "round $round: $out"; exit 1; }
  echo "round $round: integrity ok, $out samples of this round read back"
done
n=$(wc -l <"$TMP/committed")
((n > 50)) || { echo "FAIL: only $n samples were committed in 50 rounds; the kills proved little"; exit 1; }
out=$("$TOOL" verify "$DB" "$TMP/committed") || { echo "after 50 rounds: $out"; exit 1; }
((out == n)) || { echo "FAIL: $out of $n committed samples read back"; exit 1; }
echo "ok: 50 kills, $n committed samples, all read back"
