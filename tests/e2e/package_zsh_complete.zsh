# zsh -f package_zsh_complete.zsh 'conndoctor lab run ': the matches zsh's completion offers for
# that command line, one a line, as an interactive zsh on a pseudo-terminal (zsh/zpty) computes
# them with compinit and the installed _conndoctor. Used by package_test.sh (not a test itself).
zmodload zsh/zpty || exit 2
line=$1 out=$(mktemp) rc=$(mktemp)
cat >$rc <<RC
autoload -U compinit && compinit -u -D
# Every match goes to $out too (compadd -O: the matches, without adding them); calls that only
# query or filter (-O, -A, -D) are passed through as they are.
compadd() {
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "\$@"; return; fi
  local -a m
  builtin compadd -O m "\$@"
  print -rl -- \$m >>$out
  builtin compadd "\$@"
}
_cddeb_done() { print -r -- --done-- >>$out }
comppostfuncs=(_cddeb_done)
RC
zpty z "zsh -f -i"
zpty -w z "source $rc"
zpty -w -n z "$line"$'\t'
# Until completion has run (bounded: 10 s, then the matches so far, probably none).
for i in {1..100}; do grep -q -- --done-- $out && break; sleep 0.1; done
zpty -d z
grep -v -- --done-- $out
rm -f $out $rc
