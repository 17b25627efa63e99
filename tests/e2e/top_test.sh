#!/usr/bin/env bash
# `conndoctor top` used as a person uses it: in an 80x24 tmux pane, pointed with --netns at the
# namespace of `conndoctor lab run port-exhaustion --settle`, while the lab drains its pool.
# The screen must show the tuple 127.0.0.1:8080 appear and its utilisation reach 100 %, a key
# must switch the view, a resize must redraw at the new size, top must outlive the lab's
# teardown (which kills its collector inside the namespace), and `q` must quit with status 0
# and give the shell its terminal back as it was (same stty settings, the main screen). A
# second run checks SIGTERM the same way. Bad --every values and a stdout that is not a
# terminal are exit 3 with one line.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
lab_require
command -v tmux >/dev/null || skip_test "tmux is not installed (scripts/install-deps.sh)"

SESSION=cdtop-e2e-$$
lab_pid=
lab_ns=
cleanup() {
  tmux kill-session -t "$SESSION" 2>/dev/null
  [[ -n $lab_pid ]] && kill -TERM "$lab_pid" 2>/dev/null && wait "$lab_pid" 2>/dev/null
  # Only this run's namespace (a lab killed by -9 could leave it).
  [[ -n $lab_ns ]] && "$CONNDOCTOR" lab clean "$lab_ns" >/dev/null 2>&1
  rm -rf "$LAB_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "FAIL: $*"
  [[ -f $LAB_TMP/screen.txt ]] && { echo "--- the pane:"; cat "$LAB_TMP/screen.txt"; }
  exit 1
}

# ---- bad usage: one line on stderr, nothing on stdout, exit 3 ----
for every in 0 -1 nan inf abc 0.1 99999; do
  "$CONNDOCTOR" top --every "$every" </dev/null >"$LAB_TMP/out" 2>"$LAB_TMP/err"
  rc=$?
  ((rc == 3)) || fail "top --every $every exited $rc"
  [[ ! -s $LAB_TMP/out && $(wc -l <"$LAB_TMP/err") -eq 1 ]] && grep -q -- '--every' "$LAB_TMP/err" ||
    fail "top --every $every: $(cat "$LAB_TMP/out" "$LAB_TMP/err")"
done
"$CONNDOCTOR" top --every 1 </dev/null 2>"$LAB_TMP/err" | cat >"$LAB_TMP/out"
rc=${PIPESTATUS[0]}
((rc == 3)) || fail "top with stdout on a pipe exited $rc"
[[ ! -s $LAB_TMP/out && $(wc -l <"$LAB_TMP/err") -eq 1 ]] && grep -q 'terminal' "$LAB_TMP/err" ||
  fail "top on a pipe: $(cat "$LAB_TMP/out" "$LAB_TMP/err")"

# ---- --once: one screen as text, no terminal needed, the status as check gives it ----
COLUMNS=80 LINES=24 "$CONNDOCTOR" top --once --every 0.5 </dev/null >"$LAB_TMP/once.txt" 2>"$LAB_TMP/err"
rc=$?
((rc <= 2)) || fail "top --once exited $rc: $(cat "$LAB_TMP/err")"
head -n 1 "$LAB_TMP/once.txt" | grep -q '^conndoctor top  this namespace ' || fail "top --once: $(cat "$LAB_TMP/once.txt")"
status=$(sed -n '2s/^\([a-z]*\):.*/\1/p' "$LAB_TMP/once.txt")
[[ $rc -eq $(case $status in ok) echo 0 ;; warning) echo 1 ;; critical) echo 2 ;; *) echo x ;; esac) ]] ||
  fail "top --once exited $rc for a $status verdict"
grep -q $'\e' "$LAB_TMP/once.txt" && fail "top --once into a file wrote escape sequences"
awk 'length($0) > 80 { bad = 1 } END { exit bad }' "$LAB_TMP/once.txt" || fail "top --once: a row wider than 80"
grep -q 'from the second reading on' "$LAB_TMP/once.txt" && fail "top --once printed a screen without rates"

# ---- the pane ----
screen() { tmux capture-pane -p -t "$SESSION" >"$LAB_TMP/screen.txt" 2>/dev/null; }
# wait_screen SECONDS GREP-ARGS...: until the pane matches (bounded).
wait_screen() {
  local t=$1
  shift
  for _ in $(seq $((t * 5))); do
    screen && grep -q "$@" "$LAB_TMP/screen.txt" && return 0
    sleep 0.2
  done
  return 1
}
type_keys() { tmux send-keys -t "$SESSION" "$@"; }

tmux new-session -d -s "$SESSION" -x 80 -y 24 "env -i PATH=$PATH TERM=xterm-256color HOME=$LAB_TMP bash --norc --noprofile" ||
  fail "tmux cannot start a session"
tmux set-option -t "$SESSION" window-size manual >/dev/null 2>&1
type_keys "PS1='cdtop-shell\$ '; stty -g >$LAB_TMP/stty.before; clear" Enter
wait_screen 10 '^cdtop-shell\$' || fail "the shell in tmux did not start"

# ---- the lab, idle for 8 s, then draining its 1,000-port pool for the length of its reading ----
"$CONNDOCTOR" lab run port-exhaustion --settle 8 --interval 10 --json >"$LAB_TMP/lab.json" \
  2>"$LAB_TMP/lab.err" &
lab_pid=$!
LAB_JSON=$LAB_TMP/lab.json
for _ in $(seq 150); do
  grep -q ' ready; the load starts in ' "$LAB_TMP/lab.err" && break
  kill -0 "$lab_pid" 2>/dev/null || break
  sleep 0.2
done
lab_ns=$(sed -n 's/^conndoctor lab: namespace \([^ ]*\) (inode [0-9]*) ready;.*/\1/p' "$LAB_TMP/lab.err")
[[ $lab_ns == cdlab-$lab_pid-port-exhaustion ]] ||
  fail "the lab did not announce its namespace: $(cat "$LAB_TMP/lab.err")"

type_keys "$CONNDOCTOR top --netns $lab_ns --every 1 --trace; echo top-exit=\$?; stty -g >$LAB_TMP/stty.after" Enter
wait_screen 15 "^conndoctor top  namespace $lab_ns" || fail "top did not draw its screen"
grep -q '^\[1 main\] 2 tuples 3 procs.* q quit$' "$LAB_TMP/screen.txt" || fail "no key line at the bottom"

# The tuple appears, then its pool is full: 100.0 %, exhausted now.
wait_screen 40 '^127\.0\.0\.1:8080 ' || fail "the tuple 127.0.0.1:8080 never appeared"
echo "--- the tuple appeared:"
grep '^127\.0\.0\.1:8080 ' "$LAB_TMP/screen.txt"
wait_screen 40 '^127\.0\.0\.1:8080 .* 100\.0% .* now$' || fail "127.0.0.1:8080 never reached 100.0%"
cp "$LAB_TMP/screen.txt" "$LAB_TMP/full.txt"
echo "--- drained:"
cat "$LAB_TMP/full.txt"
grep -q '^critical: ephemeral ports to 127\.0\.0\.1:8080' "$LAB_TMP/full.txt" ||
  fail "the verdict line does not name the exhausted tuple"
[[ $(wc -l <"$LAB_TMP/full.txt") -eq 24 ]] || fail "the pane is not 24 rows"
awk 'length($0) > 80 { bad = 1 } END { exit bad }' "$LAB_TMP/full.txt" || fail "a row is wider than 80"
# In colour on a terminal: the critical verdict in red (the pane's cells, with their attributes).
tmux capture-pane -e -p -t "$SESSION" | grep -q $'\e\[[0-9;]*31m' || fail "no colour without NO_COLOR"
if grep -q 'not tracing:' "$LAB_TMP/full.txt"; then
  skip_check "traced failures ($(grep -o 'not tracing:.*' "$LAB_TMP/full.txt"))"
else
  grep -Eq 'failed calls [0-9.,]+/s \(traced\)' "$LAB_TMP/full.txt" || fail "no traced failures line"
  # The failures view: the client's connect() EADDRNOTAVAIL while the pool stays empty.
  type_keys 6
  wait_screen 10 '^\[6 fails\]\|\[6 fails\]' || fail "key 6 did not switch to the failures view"
  wait_screen 15 '^connect() EADDRNOTAVAIL .*cdlab-client .*127\.0\.0\.1:8080' ||
    fail "the failures view does not show the client's connect() EADDRNOTAVAIL"
fi

# A key switches the view: 3 shows the processes (and not the tuples).
type_keys 3
wait_screen 10 '\[3 procs\]' || fail "key 3 did not switch to the processes view"
grep -q '^ *PID COMMAND ' "$LAB_TMP/screen.txt" || fail "the processes view has no table"
grep -q '^DESTINATION ' "$LAB_TMP/screen.txt" && fail "the processes view still shows the tuples"
grep -q 'cdlab-client' "$LAB_TMP/screen.txt" || fail "the lab's client is not among the processes"
# ? shows the help, ? again closes it; 1 goes back to the main view.
type_keys '?'
wait_screen 10 '^  q or Ctrl-C  *quit' || fail "? did not show the help"
type_keys '?' 1
wait_screen 10 '^\[1 main\]' || fail "key 1 did not switch back"

# A larger terminal: redrawn at its size (SIGWINCH), more rows.
tmux resize-window -t "$SESSION" -x 100 -y 30
wait_screen 10 -E '^conndoctor top .{60,}updated [0-9:]{8}$' || fail "no redraw at 100 columns"
[[ $(wc -l <"$LAB_TMP/screen.txt") -eq 30 ]] || fail "the pane is not 30 rows after the resize"
grep -q '^\[1 main\]' <(tail -n 1 "$LAB_TMP/screen.txt") || fail "the key line is not on the last row"
tmux resize-window -t "$SESSION" -x 80 -y 24

# The lab ends and kills everything inside its namespace, top's collector included: top
# keeps the namespace, starts another collector and keeps refreshing.
wait "$lab_pid"
lab_rc=$?
lab_pid=
((lab_rc == 2)) || fail "lab run exited $lab_rc: $(head -c 500 "$LAB_TMP/lab.err")"
screen
before=$(grep -o 'updated [0-9:]*' "$LAB_TMP/screen.txt")
wait_screen 15 -v "$before" || fail "top stopped refreshing after the lab's end"
wait_screen 10 "^conndoctor top  namespace $lab_ns" || fail "top is gone after the lab's end"

# q quits: exit 0, the main screen back, the terminal settings as they were.
type_keys q
wait_screen 10 '^top-exit=' || fail "q did not quit"
grep -q '^top-exit=0$' "$LAB_TMP/screen.txt" || fail "top exited $(grep -o 'top-exit=.*' "$LAB_TMP/screen.txt")"
grep -q 'DESTINATION\|\[1 main\]' "$LAB_TMP/screen.txt" && fail "the top screen is still shown after q"
for _ in $(seq 25); do [[ -s $LAB_TMP/stty.after ]] && break; sleep 0.2; done
cmp -s "$LAB_TMP/stty.before" "$LAB_TMP/stty.after" ||
  fail "terminal settings changed: $(cat "$LAB_TMP/stty.before") -> $(cat "$LAB_TMP/stty.after")"

# SIGTERM ends it the same way (top of this namespace; its pid is the shell's child); NO_COLOR
# leaves every cell uncoloured.
rm -f "$LAB_TMP/stty.after"
type_keys "clear; NO_COLOR=1 $CONNDOCTOR top --every 1; echo top-exit=\$?; stty -g >$LAB_TMP/stty.after" Enter
wait_screen 15 '^conndoctor top  this namespace' || fail "the second top did not draw"
wait_screen 10 '^ *PID COMMAND ' || fail "the second top shows no processes"
tmux capture-pane -e -p -t "$SESSION" | grep -q $'\e\[[0-9;]*3[1-7]m' && fail "colour despite NO_COLOR"
shell_pid=$(tmux display-message -p -t "$SESSION" '#{pane_pid}')
top_pid=$(pgrep -P "$shell_pid" -x conndoctor | head -n 1)
[[ -n $top_pid ]] || fail "no top process under the pane's shell $shell_pid"
kill -TERM "$top_pid"
wait_screen 10 '^top-exit=' || fail "SIGTERM did not end top"
grep -q '^top-exit=0$' "$LAB_TMP/screen.txt" || fail "after SIGTERM top exited $(grep -o 'top-exit=.*' "$LAB_TMP/screen.txt")"
for _ in $(seq 25); do [[ -s $LAB_TMP/stty.after ]] && break; sleep 0.2; done
cmp -s "$LAB_TMP/stty.before" "$LAB_TMP/stty.after" || fail "terminal settings changed after SIGTERM"
lab_pid_running "$top_pid" && fail "top $top_pid still runs"

tmux kill-session -t "$SESSION"
# Once top let it go, nothing of the lab run is left.
lab_assert_no_leftovers
skip_partial_end
echo "ok"
