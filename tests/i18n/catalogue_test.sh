#!/usr/bin/env bash
# The Chinese catalogue keeps up with the sources: the template is regenerated from src/ into a
# temporary directory (po/update.sh --pot), and the test fails on any message of it missing from
# po/zh_CN.po, any entry untranslated or fuzzy, a format field a translation drops, adds or
# renames (msgfmt --check-format), an unnumbered field msgfmt could not check, or a checked-in
# po/conndoctor.pot that is not the regenerated one (run po/update.sh).
set -uo pipefail
src=${SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
po=$src/po/zh_CN.po
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

bash "$src/po/update.sh" --pot "$tmp/conndoctor.pot" 2>"$tmp/xgettext.err" ||
  { cat "$tmp/xgettext.err"; echo "FAIL: xgettext over src/ failed"; exit 1; }
n=$(grep -c '^msgid ' "$tmp/conndoctor.pot")
((n > 100)) || bad "only $n messages extracted from src/: the keywords no longer match"

# Each message of the sources, translated and not fuzzy, in zh_CN.po (msgcmp counts an
# untranslated or fuzzy entry as missing).
msgcmp "$po" "$tmp/conndoctor.pot" 2>"$tmp/msgcmp.err" ||
  { head -20 "$tmp/msgcmp.err"; bad "po/zh_CN.po lacks messages of the sources (po/update.sh, then translate)"; }
untranslated=$(msgattrib --untranslated --no-obsolete "$po" | grep -c '^msgid ' || true)
((untranslated <= 1)) || bad "$((untranslated - 1)) untranslated entries in po/zh_CN.po"
fuzzy=$(msgattrib --only-fuzzy --no-obsolete "$po" | grep -c '^msgid ' || true)
((fuzzy == 0)) || bad "$fuzzy fuzzy entries in po/zh_CN.po"
msgfmt --check-format --check-header --check-domain -o /dev/null "$po" 2>"$tmp/msgfmt.err" ||
  { cat "$tmp/msgfmt.err"; bad "msgfmt --check-format refuses po/zh_CN.po"; }
stats=$(msgfmt --statistics -o /dev/null "$po" 2>&1)
[[ $stats == *"untranslated"* || $stats == *"fuzzy"* ]] && bad "msgfmt --statistics: $stats"

# {} and {:spec} fields are numbered in every message ({0}), or msgfmt could not check them.
if msgcat --no-wrap "$tmp/conndoctor.pot" | grep -E '^msgid(_plural)? ' | grep -E '\{(:[^}]*)?\}'; then
  bad "messages above have unnumbered fields: write {0}, {1:.1f}, ..."
fi
# Brace messages are flagged, so that the check above is msgfmt's.
if ! grep -q 'python-brace-format' "$po"; then bad "no python-brace-format entry in po/zh_CN.po"; fi

# The checked-in template is the one the sources give (messages both ways).
msgcmp --use-untranslated "$src/po/conndoctor.pot" "$tmp/conndoctor.pot" >/dev/null 2>&1 &&
  msgcmp --use-untranslated "$tmp/conndoctor.pot" "$src/po/conndoctor.pot" >/dev/null 2>&1 ||
  bad "po/conndoctor.pot is stale: run po/update.sh"

((fail == 0)) && echo "i18n.catalogue: $n messages, all translated ($stats)"
exit $fail
