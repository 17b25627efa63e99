#!/usr/bin/env bash
# The Debian package as an operator meets it: built by cpack from this build directory (or the
# one given as CONNDOCTOR_DEB), checked by lintian (no E: line), installed with dpkg; then
# `conndoctor check` from /usr/bin, `man 8 conndoctor` with its sections, bash completion (the
# function really completes: subcommands, options, scenario names, --lang and netns values), zsh
# completion (found by compinit, and completing in a real zsh on a pty); then `dpkg -r` and
# `dpkg --purge` leave none of its files. A conndoctor already on the host is never touched: the
# test refuses to run. What it installed is purged on any exit (trap).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/skip.sh"
: "${CONNDOCTOR:?path of the conndoctor binary in its build directory}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE_DIR=${SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}
BUILD_DIR=$(cd "$(dirname "$CONNDOCTOR")" && pwd)
NETNS=cddeb-$$

fail() {
  echo "FAIL: $*"
  exit 1
}

[[ $(id -u) -eq 0 ]] || skip_test "installing a package needs root"
for tool in dpkg dpkg-deb cpack lintian man zsh python3 ip; do
  command -v "$tool" >/dev/null || skip_test "$tool missing (scripts/install-deps.sh installs it)"
done
[[ -r /usr/share/bash-completion/bash_completion ]] ||
  skip_test "bash-completion missing (scripts/install-deps.sh installs it)"

# Never clobber what the host has: an installed (or removed but not purged) conndoctor package,
# or a conndoctor file the package would overwrite.
status=$(dpkg-query -W -f='${db:Status-Status}' conndoctor 2>/dev/null)
if [[ -n $status && $status != not-installed ]]; then
  skip_test "a conndoctor package is already on this host ($status): not touching it"
fi
for f in /usr/bin/conndoctor /usr/share/man/man8/conndoctor.8.gz /etc/default/conndoctor \
  /usr/lib/systemd/system/conndoctor.service /usr/share/bash-completion/completions/conndoctor \
  /usr/share/zsh/vendor-completions/_conndoctor; do
  [[ -e $f ]] && skip_test "$f exists on this host and is no package's: not touching it"
done

TMP=$(mktemp -d)
installed=0
cleanup() {
  if ((installed)); then
    dpkg_wait --purge conndoctor >/dev/null 2>&1 || echo "WARNING: could not purge conndoctor"
  fi
  ip netns del "$NETNS" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# dpkg, waiting (at most 2 minutes) while another apt or dpkg holds the lock.
dpkg_wait() {
  local i
  for ((i = 0; i < 120; i++)); do
    dpkg "$@" 2>"$TMP/dpkg.err" && return 0
    grep -q 'lock' "$TMP/dpkg.err" || break
    sleep 1
  done
  cat "$TMP/dpkg.err"
  return 1
}

# --- build -----------------------------------------------------------------------------------
if [[ -n ${CONNDOCTOR_DEB:-} ]]; then
  deb=$CONNDOCTOR_DEB
else
  [[ -f $BUILD_DIR/CPackConfig.cmake ]] ||
    skip_test "no CPackConfig.cmake in $BUILD_DIR: scdoc was missing when it was configured"
  (cd "$TMP" && cpack -G DEB --config "$BUILD_DIR/CPackConfig.cmake" -B "$TMP/pkg") \
    >"$TMP/cpack.log" 2>&1 || {
    tail -20 "$TMP/cpack.log"
    fail "cpack -G DEB failed"
  }
  debs=("$TMP"/pkg/conndoctor_*.deb)
  deb=${debs[0]}
fi
[[ -f $deb ]] || fail "no package built (${deb:-nothing in $TMP/pkg})"
version=$(dpkg-deb -f "$deb" Version)
arch=$(dpkg-deb -f "$deb" Architecture)
echo "package: $(basename "$deb") (version $version)"
[[ $(basename "$deb") == "conndoctor_${version}_${arch}.deb" ]] ||
  fail "file name $(basename "$deb") is not conndoctor_${version}_${arch}.deb"
[[ $arch == "$(dpkg --print-architecture)" ]] || fail "architecture $arch"
dpkg --validate-version "$version" || fail "version $version is not a Debian version"
# The version names the commit (git describe), unless HEAD is exactly a release tag.
if [[ -z ${CONNDOCTOR_DEB:-} ]] && git -C "$SOURCE_DIR" rev-parse HEAD >/dev/null 2>&1; then
  head=$(git -C "$SOURCE_DIR" rev-parse --short=7 HEAD)
  if ! git -C "$SOURCE_DIR" describe --tags --exact-match --match 'v[0-9]*' >/dev/null 2>&1; then
    [[ $version == *"+git"*".$head"* ]] || fail "version $version does not name HEAD ($head)"
  fi
fi

# --- lintian ---------------------------------------------------------------------------------
# Exit 0: nothing at or above --fail-on (error by default), 2: something, 1: lintian failed.
lintian --tag-display-limit 0 --display-info "$deb" >"$TMP/lintian.out" 2>"$TMP/lintian.err"
lintian_rc=$?
cat "$TMP/lintian.out"
((lintian_rc == 0 || lintian_rc == 2)) || fail "lintian failed (exit $lintian_rc): $(cat "$TMP/lintian.err")"
if grep -q '^E: ' "$TMP/lintian.out"; then fail "lintian reports errors"; fi

# --- install ---------------------------------------------------------------------------------
dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' >"$TMP/files"
installed=1
# Slim images exclude man pages and docs from every install (path-exclude in
# /etc/dpkg/dpkg.cfg.d): include this package's own, which the test reads.
DEBIAN_FRONTEND=noninteractive dpkg_wait --path-include='/usr/share/man/man8/conndoctor.8.gz' \
  --path-include='/usr/share/doc/conndoctor/*' \
  --path-include='/usr/share/locale/zh_CN/LC_MESSAGES/conndoctor.mo' -i "$deb" || fail "dpkg -i failed"
[[ $(dpkg-query -W -f='${db:Status-Status}' conndoctor) == installed ]] || fail "not installed"
for f in /usr/bin/conndoctor /usr/share/man/man8/conndoctor.8.gz \
  /usr/share/bash-completion/completions/conndoctor /usr/share/zsh/vendor-completions/_conndoctor \
  /usr/lib/systemd/system/conndoctor.service /etc/default/conndoctor \
  /usr/share/conndoctor/prometheus/conndoctor-rules.yml \
  /usr/share/conndoctor/grafana/conndoctor-dashboard.json /usr/share/doc/conndoctor/copyright \
  /usr/share/locale/zh_CN/LC_MESSAGES/conndoctor.mo; do
  [[ -f $f ]] || fail "$f not installed"
done
# shellcheck disable=SC2016 # the unit's own $VARIABLE, literally
grep -qx 'ExecStart=/usr/bin/conndoctor serve $CONNDOCTOR_SERVE_OPTS' \
  /usr/lib/systemd/system/conndoctor.service || fail "the unit does not run /usr/bin/conndoctor"
grep -qx 'EnvironmentFile=-/etc/default/conndoctor' /usr/lib/systemd/system/conndoctor.service ||
  fail "the unit does not read /etc/default/conndoctor"
grep -q '^CONNDOCTOR_SERVE_OPTS=' /etc/default/conndoctor || fail "no CONNDOCTOR_SERVE_OPTS"
cmp -s /usr/share/conndoctor/prometheus/conndoctor-rules.yml \
  "$SOURCE_DIR/deploy/prometheus/conndoctor-rules.yml" || fail "rules differ from deploy/"
# The unit's command line with the packaged defaults serves /metrics: run it as the unit would
# (its ExecStart, $CONNDOCTOR_SERVE_OPTS split on spaces), in a network namespace of its own.
exec_start=$(sed -n 's/^ExecStart=//p' /usr/lib/systemd/system/conndoctor.service)
unshare -n bash -c '
  ip link set lo up
  source /etc/default/conndoctor
  exec_start=${1/\$CONNDOCTOR_SERVE_OPTS/$CONNDOCTOR_SERVE_OPTS}
  $exec_start 2>"$2/serve.err" &
  pid=$!
  for ((i = 0; i < 300; i++)); do
    curl -sf "http://$(sed "s/.*--listen \([^ ]*\).*/\1/" <<<"$CONNDOCTOR_SERVE_OPTS")/metrics" \
      >"$2/metrics" 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.1
  done
  kill $pid 2>/dev/null; wait $pid 2>/dev/null
  grep -qx "conndoctor_up 1" "$2/metrics"' bash "$exec_start" "$TMP" ||
  fail "'$exec_start' with /etc/default/conndoctor serves no /metrics: $(cat "$TMP/serve.err")"
echo "unit: '$exec_start' with /etc/default/conndoctor serves /metrics (conndoctor_up 1)"
if systemd-analyze --version >/dev/null 2>&1; then
  systemd-analyze verify /usr/lib/systemd/system/conndoctor.service >"$TMP/verify" 2>&1 ||
    fail "systemd-analyze verify: $(cat "$TMP/verify")"
fi

# --- conndoctor check from /usr/bin ----------------------------------------------------------
[[ $(command -v conndoctor) == /usr/bin/conndoctor ]] || fail "conndoctor is $(command -v conndoctor)"
/usr/bin/conndoctor check --json >"$TMP/check.json" 2>"$TMP/check.err"
rc=$?
((rc <= 2)) || fail "conndoctor check exited $rc: $(cat "$TMP/check.err")"
python3 - "$TMP/check.json" "$rc" <<'PY' || fail "conndoctor check --json"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["schema"] == "conndoctor/report/v1", r["schema"]
assert int(sys.argv[2]) == {"ok": 0, "warning": 1, "critical": 2}[r["status"]], r["status"]
print("check:", r["status"], "|", r["summary"])
PY
/usr/bin/conndoctor check >"$TMP/check.txt" 2>&1
[[ -s $TMP/check.txt ]] || fail "conndoctor check printed nothing"
# The installed catalogue (/usr/share/locale, found from /usr/bin): the verdict in Chinese.
LC_ALL=C /usr/bin/conndoctor check --lang zh >"$TMP/check_zh.txt" 2>&1
head -1 "$TMP/check_zh.txt" | grep -qE '^(正常|提示|警告|严重|未知)' ||
  fail "check --lang zh from the package is not Chinese: $(head -1 "$TMP/check_zh.txt")"

# --- man 8 conndoctor ------------------------------------------------------------------------
MANPAGER=cat MANWIDTH=100 man 8 conndoctor >"$TMP/man.txt" 2>"$TMP/man.err" ||
  fail "man 8 conndoctor: $(cat "$TMP/man.err")"
for h in NAME SYNOPSIS DESCRIPTION OPTIONS SUBCOMMANDS "EXIT STATUS" ENVIRONMENT FILES EXAMPLES \
  "SEE ALSO"; do
  grep -qx "$h" "$TMP/man.txt" || fail "man page has no section $h"
done
# Every subcommand the installed binary has is a subsection (the options: package_man_options).
subs=$(LC_ALL=C conndoctor --help | awk '/^Subcommands:/ { s = 1; next } s && /^  [a-z]/ { print $1 }')
[[ -n $subs ]] || fail "no subcommands in conndoctor --help"
for s in $subs; do
  grep -qx "   $s" "$TMP/man.txt" || fail "man page has no subsection for $s"
done
grep -q '^ *conndoctor(8) *System Manager' "$TMP/man.txt" || fail "not conndoctor(8)"

# --- bash completion -------------------------------------------------------------------------
ip netns add "$NETNS" || fail "cannot create namespace $NETNS"
scenarios=$(conndoctor lab list --json | python3 -c 'import json,sys; print(" ".join(sorted(s["name"] for s in json.load(sys.stdin))))')
[[ -n $scenarios ]] || fail "conndoctor lab list --json names no scenario"
# complete WORDS...: what bash completion offers for the last word, sorted, on one line.
complete_bash() {
  bash -c '
    source /usr/share/bash-completion/bash_completion
    __load_completion conndoctor || exit 9
    [[ $(complete -p conndoctor) == "complete -F _conndoctor conndoctor" ]] || exit 8
    COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
    _conndoctor conndoctor "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}" || exit 7
    printf "%s\n" "${COMPREPLY[@]}" | sort | xargs' bash "$@"
}
expect_bash() {
  local want=$1 got
  shift
  got=$(complete_bash "$@") || fail "bash completion of '$*' failed (exit $?)"
  echo "bash: '$*' -> $got"
  [[ $got == "$want" ]] || fail "bash completes '$*' to '$got', expected '$want'"
}
expect_bash "$(xargs -n1 <<<"$subs" | sort | xargs)" conndoctor ''
expect_bash "check" conndoctor ch
expect_bash "--json" conndoctor check --js
expect_bash "--all-netns" conndoctor check --all
expect_bash "clean list run" conndoctor lab ''
expect_bash "$scenarios" conndoctor lab run ''
expect_bash "$scenarios" conndoctor lab run --interval 2 ''
expect_bash "connect-refused connect-timeout conntrack-full" conndoctor lab run conn
expect_bash "always auto never" conndoctor check --color ''
expect_bash "bpf" conndoctor check --fd-scan b
expect_bash "en zh" conndoctor --lang ''
expect_bash "$NETNS" conndoctor check --netns cddeb-$$
expect_bash "$NETNS" conndoctor watch --history h.db --netns cddeb-$$

# --- zsh completion --------------------------------------------------------------------------
zsh -c 'autoload -U compinit; compinit -u -D
  [[ ${_comps[conndoctor]} == _conndoctor ]] || exit 1
  autoload +X _conndoctor && (( $+functions[_conndoctor] ))' ||
  fail "zsh: compinit does not find _conndoctor for conndoctor"
expect_zsh() {
  local want=$1 line=$2 got
  got=$(zsh -f "$HERE/package_zsh_complete.zsh" "$line" | sort | xargs)
  echo "zsh: '$line' -> $got"
  [[ $got == "$want" ]] || fail "zsh completes '$line' to '$got', expected '$want'"
}
expect_zsh "$(xargs -n1 <<<"$subs" | sort | xargs)" 'conndoctor '
expect_zsh "--json" 'conndoctor check --js'
expect_zsh "$scenarios" 'conndoctor lab run '
expect_zsh "en zh" 'conndoctor --lang '
expect_zsh "$NETNS" "conndoctor trace --netns cddeb-$$"

# --- remove, purge ---------------------------------------------------------------------------
dpkg_wait -r conndoctor || fail "dpkg -r failed"
[[ $(dpkg-query -W -f='${db:Status-Status}' conndoctor) == config-files ]] ||
  fail "after dpkg -r: $(dpkg-query -W -f='${db:Status-Status}' conndoctor)"
[[ -f /etc/default/conndoctor ]] || fail "dpkg -r removed the conffile /etc/default/conndoctor"
while read -r f; do
  if [[ $f != /etc/* && -e $f ]]; then fail "$f left after dpkg -r"; fi
done <"$TMP/files"
dpkg_wait --purge conndoctor || fail "dpkg --purge failed"
installed=0
status=$(dpkg-query -W -f='${db:Status-Status}' conndoctor 2>/dev/null)
[[ -z $status || $status == not-installed ]] || fail "after purge: $status"
while read -r f; do
  if [[ -e $f ]]; then fail "$f left after dpkg --purge"; fi
done <"$TMP/files"
for d in /usr/share/conndoctor /usr/share/doc/conndoctor; do
  if [[ -e $d ]]; then fail "$d left after dpkg --purge"; fi
done
if command -v conndoctor >/dev/null; then fail "conndoctor still on PATH"; fi
echo "ok: $(basename "$deb") built, lint-free of errors, installed, used and purged"
