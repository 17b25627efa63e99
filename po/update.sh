#!/usr/bin/env bash
# Regenerates po/conndoctor.pot from the sources (xgettext, keywords of src/util/i18n.h) and
# merges it into po/zh_CN.po (msgmerge); then translate the new or fuzzy entries of zh_CN.po.
#   po/update.sh                 update po/conndoctor.pot and po/zh_CN.po
#   po/update.sh --pot FILE      only write the template to FILE (the i18n.catalogue test)
# A message with {0}-style fields is flagged python-brace-format, so that msgfmt --check-format
# refuses a translation that drops, adds or renames a field (their order may change).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
pot=$root/po/conndoctor.pot
only_pot=0
if [[ ${1:-} == --pot ]]; then
  pot=${2:?--pot needs a file}
  only_pot=1
fi

raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
(cd "$root" && find src -name '*.cpp' -o -name '*.h' | LC_ALL=C sort) |
  (cd "$root" && xgettext --from-code=UTF-8 --language=C++ --keyword --keyword=_ \
    --keyword=_f:1 --keyword=_nf:1,2 --keyword=N_ --package-name=conndoctor \
    --msgid-bugs-address=maintainers@users.noreply.r-seed-fe960d81.example --add-comments=TRANSLATORS: --no-location --sort-output \
    --files-from=- --output="$raw")

# xgettext guesses c-format for C++ strings that merely hold a '%'; conndoctor formats with
# fmt, so the brace fields are what must be checked.
awk 'BEGIN { RS = ""; ORS = "\n\n" }
{
  n = split($0, line, "\n"); brace = 0; out = ""; flags = ""
  for (i = 1; i <= n; i++) if (line[i] ~ /^(msgid|msgid_plural|")/ && line[i] ~ /\{[0-9]/) brace = 1
  for (i = 1; i <= n; i++) {
    if (line[i] ~ /^#, /) {
      f = line[i]; sub(/^#, /, "", f)
      gsub(/(possible-)?c-format(, )?/, "", f); gsub(/, $/, "", f)
      flags = f; continue
    }
    if (line[i] ~ /^msgid / && !done) {
      if (brace) flags = flags == "" ? "python-brace-format" : flags ", python-brace-format"
      if (flags != "") out = out "#, " flags "\n"
      done = 1
    }
    out = out line[i] (i < n ? "\n" : "")
  }
  done = 0
  print out
}' "$raw" | sed -e 's/charset=CHARSET/charset=UTF-8/' >"$pot"

((only_pot)) && exit 0
if [[ -f $root/po/zh_CN.po ]]; then
  msgmerge --quiet --update --backup=none --sort-output "$root/po/zh_CN.po" "$pot"
  # Translations of messages the sources no longer hold are dropped, not kept as "#~" entries.
  msgattrib --no-obsolete --sort-output -o "$root/po/zh_CN.po" "$root/po/zh_CN.po"
else
  msginit --no-translator --locale=zh_CN.UTF-8 --input="$pot" --output-file="$root/po/zh_CN.po"
fi
echo "po: $(grep -c '^msgid ' "$pot") messages in conndoctor.pot; untranslated or fuzzy in zh_CN.po:"
msgattrib --untranslated --only-fuzzy "$root/po/zh_CN.po" 2>/dev/null | grep -c '^msgid ' || true
msgfmt --statistics --check-format -o /dev/null "$root/po/zh_CN.po"
