#!/usr/bin/env python3
"""conndoctor(8) cannot drift from the binary: every subcommand `conndoctor --help` lists (and
theirs, recursively: `lab run`) must have its section `## SUB` in packaging/conndoctor.8.scd,
and every option `conndoctor SUB --help` prints must be written there as *--option* (or *-o*)
inside that section. The global options (`conndoctor --help`, -h/--help) belong under
`# OPTIONS`. A new subcommand or option therefore fails this test until the man page says it.

usage: man_options_test.py CONNDOCTOR MAN_SOURCE
"""
import os
import re
import subprocess
import sys

conndoctor, source = sys.argv[1], sys.argv[2]
# Without scdoc's comment lines (";"): an option mentioned in a comment is not documented.
man = "".join(l for l in open(source, encoding="utf-8").readlines() if not l.startswith(";"))
# The help in English whatever the locale (--lang defaults from LC_ALL/LC_MESSAGES/LANG).
env = dict(os.environ, LC_ALL="C", LANGUAGE="")


def parse_help(words):
    """(subcommands, options) as `conndoctor WORDS --help` lists them."""
    p = subprocess.run([conndoctor, *words, "--help"], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit(f"FAIL: conndoctor {' '.join(words)} --help exited {p.returncode}: {p.stderr}")
    subs, opts, section = [], [], ""
    for line in p.stdout.splitlines():
        if re.fullmatch(r"[A-Za-z][A-Za-z ]*:", line):
            section = line.lower()
        elif section == "subcommands:" and re.match(r"  [a-z]", line):
            subs.append(line.split()[0])
        elif line.startswith("  -"):
            opts += line.split()[0].split(",")
    return subs, opts


def man_section(level, title):
    """The text of `# TITLE` (level 1) or `## TITLE` (level 2) up to the next heading."""
    m = re.search(r"^" + "#" * level + " " + re.escape(title) + r"\n(.*?)(?=^#{1,2} |\Z)", man,
                  re.M | re.S)
    return m.group(1) if m else None


failures = []
checked = 0


def check(words):
    global checked
    subs, opts = parse_help(words)
    name = " ".join(words)
    cmd = " ".join(["conndoctor", *words])
    if words:
        text = man_section(2, name)
        if text is None:
            failures.append(f"no section '## {name}' for subcommand `{cmd}`")
            text = ""
        opts = [o for o in opts if o not in ("-h", "--help")]  # documented once, globally
    else:
        text = man_section(1, "OPTIONS") or ""
        if "--help" not in opts:
            failures.append("`conndoctor --help` lists no --help: is its format still CLI11's?")
    for o in opts:
        checked += 1
        if f"*{o}*" not in text:
            where = f"'## {name}'" if words else "'# OPTIONS'"
            failures.append(f"`{cmd} --help` prints {o}, missing as *{o}* in {where}")
    for s in subs:
        check(words + [s])


check([])
# Sanity: the walk saw the subcommands and options it is meant to guard.
if checked < 50:
    failures.append(f"only {checked} options found in the help texts: is the parsing broken?")
for f in failures:
    print("FAIL:", f)
if failures:
    print(f"{len(failures)} problem(s); {source} is conndoctor(8)'s source (scdoc)")
    sys.exit(1)
print(f"ok: {checked} options of every subcommand are in {os.path.basename(source)}")
