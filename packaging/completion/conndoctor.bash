# bash completion for conndoctor(8)                                       -*- shell-script -*-
# Subcommands and options are read from the binary's own --help at completion time, so they
# never drift from it; values: scenario names from `conndoctor lab list --json`, network
# namespaces from `ip netns list` (or /run/netns), --lang zh|en, the words of --color and
# --fd-scan, files and directories. Needs nothing from bash-completion (uses _filedir if there).

# _conndoctor_options PROG [SUBCOMMAND...]: one line per subcommand ("sub NAME") and option
# ("opt NAME 1" when it takes a value, "opt NAME 0" for a flag), from CLI11's help in English.
_conndoctor_options() {
  LC_ALL=C LANGUAGE='' "$@" --help 2>/dev/null | awk '
    /^[A-Za-z][A-Za-z ]*:$/ { section = tolower($0); next }
    section == "subcommands:" && /^  [a-z]/ { print "sub", $1; next }
    /^  -/ {
      value = ($0 ~ /^  -[^ ]+ \[?[A-Z]/ && $2 != "Excludes:") ? 1 : 0
      n = split($1, names, ",")
      for (i = 1; i <= n; i++) print "opt", names[i], value
    }'
}

_conndoctor_netns() {
  { ip netns list 2>/dev/null | awk '{ print $1 }'; ls -1 /run/netns 2>/dev/null; } | sort -u
}

_conndoctor_scenarios() {
  LC_ALL=C "$1" lab list --json 2>/dev/null | sed -n 's/^ *"name": *"\([^"]*\)".*/\1/p'
}

_conndoctor_files() {
  if declare -F _filedir >/dev/null; then
    _filedir "$@"
  else
    compopt -o filenames 2>/dev/null
    if [[ $1 == -d ]]; then
      mapfile -t COMPREPLY < <(compgen -d -- "$cur")
    else
      mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    fi
  fi
}

# Offers the words of $1 (newline-separated) that start with $cur.
_conndoctor_offer() { mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur"); }

# Completes the value of option $1; false when it is not an option with a known value.
_conndoctor_value() {
  case $1 in
    --lang) _conndoctor_offer $'zh\nen' ;;
    --color) _conndoctor_offer $'auto\nalways\nnever' ;;
    --fd-scan) _conndoctor_offer $'auto\nbpf\nprocfs' ;;
    --netns-scan) _conndoctor_offer $'auto\none-pass\nper-namespace' ;;
    --netns) _conndoctor_offer "$(_conndoctor_netns)" ;;
    --proc-root | --runtime-root | -o | --out) _conndoctor_files -d ;;
    --sock-diag-dump | --conntrack-dump | --record-dump | --record-conntrack-dump | \
      --auth-file | --tls-cert | --tls-key | --history | --html) _conndoctor_files ;;
    *) return 1 ;;
  esac
}

_conndoctor() {
  local prog=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} prev=''
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  # --opt=value: bash splits at '=' (COMP_WORDBREAKS).
  if [[ $prev == = ]] && ((COMP_CWORD > 1)); then prev=${COMP_WORDS[COMP_CWORD - 2]}; fi
  [[ $cur == = ]] && cur=''
  COMPREPLY=()

  # Walk the words before the cursor: subcommands chosen, positionals given (nargs).
  local -a chosen=()
  local table nargs=0 skip=0 i w
  table=$(_conndoctor_options "$prog")
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    if ((skip)); then
      skip=0
      [[ $w == = ]] && skip=1 # "--opt" "=" "value"
      continue
    fi
    if [[ $w == -* ]]; then
      [[ $'\n'$table$'\n' == *$'\nopt '"$w"$' 1\n'* ]] && skip=1
      [[ $w == --lang ]] && skip=1 # a global option with a value (see _conndoctor_value)
    elif [[ $'\n'$table$'\n' == *$'\nsub '"$w"$'\n'* ]]; then
      chosen+=("$w")
      nargs=0
      table=$(_conndoctor_options "$prog" "${chosen[@]}")
    else
      ((nargs++))
    fi
  done

  _conndoctor_value "$prev" && return 0
  # Another option taking a value (a number, a duration, an address): nothing to offer.
  [[ $'\n'$table$'\n' == *$'\nopt '"$prev"$' 1\n'* ]] && return 0

  if [[ $cur == -* ]]; then
    _conndoctor_offer "$(awk '$1 == "opt" { print $2 }' <<<"$table")"
  elif [[ $'\n'$table == *$'\nsub '* ]]; then
    _conndoctor_offer "$(awk '$1 == "sub" { print $2 }' <<<"$table")"
  elif ((nargs == 0)); then
    case "${chosen[*]}" in
      "lab run") _conndoctor_offer "$(_conndoctor_scenarios "$prog")" ;;
      "lab clean") _conndoctor_offer "$(_conndoctor_netns | grep '^cdlab-')" ;;
      history) _conndoctor_files ;;
    esac
  fi
  return 0
}
complete -F _conndoctor conndoctor
