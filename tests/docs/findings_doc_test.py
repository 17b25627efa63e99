#!/usr/bin/env python3
"""docs/findings.md keeps in step with the rules (issue 12, item 15).

From the sources (src/analyse/rule_*.cpp, evidence.cpp, src/diagnose/trace_merge.cpp) this
test extracts every finding id the code emits and, per id, every top-level evidence key the
code can put into that finding: `ev["k"]`, `f.evidence["k"]`, `put_rate(ev, "k", ...)` (which
may add "rate_note"), the keys of the helpers the finding's evidence is passed to
(put_process, put_tuple_owner, put_common, ...), those of a finding it is built from
(`Finding f = tuple_finding(...)`, `base("id", ...)`) and the `others_<what>` count of
append_capped(). Then it checks that

  * every emitted id has a row in a table of docs/findings.md, and every id in those tables
    (and in the explain table's `findings`) is emitted by the code;
  * every evidence key of an id appears, in backquotes, in the `## ` section that documents
    the id;
  * every evidence key set anywhere that the extraction cannot tie to one finding (a key set
    on `out[i]`, the trace merge's `traced_*` keys) is listed in KEYS_OUTSIDE_A_FINDING and
    documented where that list says: a new pattern in the code fails here instead of escaping.

With CONNDOCTOR and FIXTURES set it also runs `check --json` on the recorded fixtures (the
golden test's cases) and checks each finding of the real output: its id is one the
extraction found, and each of its evidence keys is one the extraction found for that id and
is documented in its section. That keeps the extraction itself honest.

Exit 0 when everything matches, 1 with one line per mismatch.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(os.environ.get("SOURCE_DIR") or Path(__file__).resolve().parents[2])
DOC = Path(os.environ.get("FINDINGS_DOC") or ROOT / "docs" / "findings.md")

SOURCES = sorted((ROOT / "src" / "analyse").glob("rule_*.cpp")) + [
    ROOT / "src" / "analyse" / "evidence.cpp",
    ROOT / "src" / "diagnose" / "trace_merge.cpp",
]

# Evidence keys the code sets outside the scope of one finding variable, with the finding id
# whose section documents them ("*trace*": the `check --trace` paragraph of the
# connect_failures section, which says which findings get them).
KEYS_OUTSIDE_A_FINDING = {
    # rule_ephemeral_ports(): out[first].evidence["other_warm_tuples"] on the first hot tuple
    "other_warm_tuples": "ephemeral_ports.tuple",
}
TRACE_MERGE_SECTION = "connect_failures.destination"

errors = []


def fail(msg):
    errors.append(msg)


# --- a small C++ reader: comments out, string literals kept but unable to confuse braces ---


def blank_comments_and_strings(text):
    """Returns (code, strings): code with comments blanked and every string literal replaced by
    a same-length placeholder "\x01...", so that brace matching and regexes on code are safe;
    `strings` maps a literal's start offset to its content."""
    out = list(text)
    strings = {}
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            for k in range(i, j):
                out[k] = " "
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
        elif c == "R" and text.startswith('R"', i) and (i == 0 or not text[i - 1].isalnum()):
            m = re.match(r'R"([^(]*)\(', text[i:])
            end = text.find(")" + m.group(1) + '"', i)
            j = end + len(m.group(1)) + 2
            strings[i] = text[i + len(m.group(0)) : end]
            for k in range(i + 1, j - 1):
                out[k] = "\x01"
            i = j
        elif c == '"':
            j = i + 1
            while text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            strings[i] = text[i + 1 : j]  # raw: keys and ids have no escapes
            for k in range(i + 1, j):
                out[k] = "\x01"
            i = j + 1
        elif c == "'":
            j = i + 1
            while text[j] != "'":
                j += 2 if text[j] == "\\" else 1
            for k in range(i + 1, j):
                out[k] = "\x01"
            i = j + 1
        else:
            i += 1
    return "".join(out), strings


def match_brace(code, open_pos):
    depth = 0
    for k in range(open_pos, len(code)):
        if code[k] == "{":
            depth += 1
        elif code[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    raise ValueError("unbalanced braces")


class Source:
    def __init__(self, path):
        self.path = path
        self.text = path.read_text()
        self.code, self.strings = blank_comments_and_strings(self.text)
        self.functions = self._functions()

    def line(self, pos):
        return self.text.count("\n", 0, pos) + 1

    def where(self, pos):
        return f"{self.path.relative_to(ROOT)}:{self.line(pos)}"

    def literal_at(self, pos):
        """The string literal whose opening quote is at `pos`."""
        return self.strings.get(pos)

    def _functions(self):
        """Top-level function bodies (inside namespaces only): name -> list of (start, end, header)."""
        funcs = {}
        code = self.code
        i = 0
        while i < len(code):
            c = code[i]
            if c == "{":
                head_start = max(code.rfind(";", 0, i), code.rfind("}", 0, i), code.rfind("{", 0, i))
                head = code[head_start + 1 : i]
                if re.search(r"\bnamespace\b[\w\s:]*$", head):
                    i += 1
                    continue
                end = match_brace(code, i)
                m = re.search(r"(\w+)\s*\(([^()]*(?:\([^()]*\)[^()]*)*)\)\s*(?:const\s*)?$", head)
                if m and m.group(1) not in ("if", "for", "while", "switch", "catch"):
                    funcs.setdefault(m.group(1), []).append((i, end, head))
                i = end + 1
                continue
            i += 1
        return funcs


SRC = [Source(p) for p in SOURCES]


def find_function(name, src):
    """A function by name, preferring the calling file (names like base() repeat)."""
    if name in src.functions:
        return [(src, f) for f in src.functions[name]]
    found = [(s, f) for s in SRC for f in s.functions.get(name, [])]
    return found


def innermost_block(src, start, end, pos):
    """The innermost {...} inside [start, end] that contains pos."""
    best = (start, end)
    stack = []
    for k in range(start, end + 1):
        c = src.code[k]
        if c == "{":
            stack.append(k)
        elif c == "}":
            o = stack.pop()
            if o < pos < k and o >= best[0]:
                best = (o, k)
    return best


def literal_after(src, pos):
    """The string literal whose opening quote is the first one at or after pos."""
    q = src.code.find('"', pos)
    return src.literal_at(q), q


HELPER_CACHE = {}


def helper_keys(src, func, param_index, stack=()):
    """Evidence keys a helper puts into its `param_index`-th parameter."""
    start, end, head = func
    key = (str(src.path), start, param_index)
    if key in HELPER_CACHE:
        return HELPER_CACHE[key]
    if key in stack:
        return set()
    params = [p.strip() for p in split_args(head[head.rfind("(", 0, head.rfind(")")) + 1 : head.rfind(")")])]
    if param_index >= len(params):
        return set()
    m = re.search(r"(\w+)\s*$", params[param_index])
    if not m:
        return set()
    names = {m.group(1)}
    keys = evidence_keys_in(src, start, end, names, stack + (key,))
    HELPER_CACHE[key] = keys
    return keys


def split_args(s):
    out, depth, cur = [], 0, ""
    for c in s:
        if c in "(<{[":
            depth += 1
        elif c in ")>}]":
            depth -= 1
        if c == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += c
    if cur.strip():
        out.append(cur)
    return out


def evidence_keys_in(src, start, end, names, stack=()):
    """Keys set in code[start:end] on an evidence object named by any of `names` (e.g. "ev",
    "f.evidence"), directly or through helpers it is passed to."""
    code = src.code
    keys = set()
    alt = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    # aliases: Evidence& ev = f.evidence;
    for m in re.finditer(r"Evidence\s*&\s*(\w+)\s*=\s*(" + alt + r")\s*;", code[start:end]):
        names = names | {m.group(1)}
    alt = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    seg = code[start:end]
    for m in re.finditer(r"(?<![\w.])(" + alt + r")\s*\[\s*", seg):
        p = start + m.end()
        if code[p] == '"':
            keys.add(src.literal_at(p))
        elif code.startswith("k]", p) or code.startswith("k ]", p):
            pass  # put_rate's own `ev[k]`: the key comes from its caller
        elif re.match(r"fmt::format\(", code[p:]):
            pass  # append_capped's others_<what>: handled at its call sites
        else:
            fail(f"{src.where(p)}: evidence key that is not a string literal; teach "
                 f"tests/docs/findings_doc_test.py this pattern")
    # calls passing the evidence object: helper(ev, ...)
    for m in re.finditer(r"(?<![\w.])(\w+)\s*\(\s*(" + alt + r")\s*[,)]", seg):
        callee = m.group(1)
        if callee in ("std", "move", "rounded", "or_null", "Evidence"):
            continue
        if callee == "put_rate":
            lit, _ = literal_after(src, start + m.end())
            if lit is None:
                fail(f"{src.where(start + m.start())}: put_rate with a non-literal key")
            else:
                keys.add(lit)
        targets = find_function(callee, src)
        if not targets:
            fail(f"{src.where(start + m.start())}: evidence passed to {callee}(), whose body "
                 f"is not among the scanned sources")
        for s, fn in targets:
            keys |= helper_keys(s, fn, 0, stack)
    return keys


# --- findings: the variable a finding is built in, its ids and keys ---------------------------


class FindingVar:
    def __init__(self, src, func_name, var, block, decl_pos):
        self.src, self.func_name, self.var, self.block, self.decl_pos = (
            src, func_name, var, block, decl_pos)
        self.ids = set()
        self.keys = set()
        self.base_calls = []  # (callee name, literal first arg or None)


FINDING_VARS = []


def scan_findings():
    for src in SRC:
        for fname, bodies in src.functions.items():
            for start, end, head in bodies:
                for m in re.finditer(r"\bFinding\s+(\w+)\s*(=\s*(\w+)\s*\()?", src.code[start:end]):
                    pos = start + m.start()
                    var = m.group(1)
                    block = innermost_block(src, start, end, pos)
                    fv = FindingVar(src, fname, var, block, pos)
                    b0, b1 = block
                    seg = src.code[pos:b1]
                    for im in re.finditer(r"(?<![\w.])" + var + r"\.id\s*=\s*", seg):
                        p = pos + im.end()
                        lit = src.literal_at(p) if src.code[p] == '"' else None
                        if lit is None and not src.code[p:].startswith("std::move(id)"):
                            fail(f"{src.where(p)}: finding id that is not a string literal")
                        elif lit:
                            fv.ids.add(lit)
                    if m.group(3):
                        callee = m.group(3)
                        # base("conntrack.x", ...): the id as the first argument
                        p = start + m.end()
                        first_arg = src.literal_at(p) if src.code[p] == '"' else None
                        fv.base_calls.append((callee, first_arg))
                    fv.keys = evidence_keys_in(src, pos, b1, {var + ".evidence"})
                    FINDING_VARS.append(fv)


def resolve():
    """id -> keys, following `Finding f = callee(...)` into the callee's finding."""
    by_func = {}
    for fv in FINDING_VARS:
        by_func.setdefault((str(fv.src.path), fv.func_name), []).append(fv)

    def full(fv, seen=()):
        keys, ids = set(fv.keys), set(fv.ids)
        for callee, first_arg in fv.base_calls:
            targets = find_function(callee, fv.src)
            for s, _ in targets:
                for inner in by_func.get((str(s.path), callee), []):
                    if id(inner) in seen:
                        continue
                    k, i = full(inner, seen + (id(inner),))
                    keys |= k
                    if not fv.ids:  # the callee names it (base("conntrack.x", ...)) or not
                        ids |= i
            if first_arg and re.fullmatch(r"[a-z_]+\.[a-z_]+", first_arg) and not fv.ids:
                ids.add(first_arg)
        return keys, ids

    result = {}
    for fv in FINDING_VARS:
        keys, ids = full(fv)
        for i in ids:
            result.setdefault(i, set()).update(keys)
    return result


def capped_keys():
    """append_capped(vec, out, n, "what") -> others_what on the findings that go into vec."""
    out = {}
    for src in SRC:
        for fname, bodies in src.functions.items():
            for start, end, head in bodies:
                seg = src.code[start:end]
                for m in re.finditer(r"\bappend_capped\(\s*(\w+)\s*,[^;]*?,\s*\"", seg):
                    vec = m.group(1)
                    lit = src.literal_at(start + m.end() - 1)
                    key = "others_" + lit
                    ids = set()
                    # vec.push_back(callee(...)), vec.push_back(std::move(f)), helper(..., vec)
                    for pm in re.finditer(r"\b" + vec + r"\.push_back\(\s*(\w+)", seg):
                        callee = pm.group(1)
                        if callee == "std":
                            ids |= {i for fv in FINDING_VARS
                                    if fv.src is src and fv.func_name == fname for i in fv.ids}
                        else:
                            ids |= ids_made_by(callee, src)
                    for cm in re.finditer(r"(?<![\w.])(\w+)\s*\(", seg):
                        if cm.group(1) == "append_capped":
                            continue
                        args = seg[cm.end() : paren_end(seg, cm.end() - 1)]
                        if re.search(r"(?<![\w.])" + vec + r"\s*[,)]", args + ")"):
                            ids |= ids_made_by(cm.group(1), src)
                    if not ids:
                        fail(f"{src.where(start + m.start())}: append_capped(\"{lit}\") whose findings "
                             f"the test cannot tell")
                    for i in ids:
                        out.setdefault(i, set()).add(key)
    return out


def paren_end(code, open_pos):
    depth = 0
    for k in range(open_pos, len(code)):
        if code[k] == "(":
            depth += 1
        elif code[k] == ")":
            depth -= 1
            if depth == 0:
                return k
    return len(code)


def ids_made_by(fname, src):
    ids = set()
    for s, (start, end, head) in find_function(fname, src):
        for fv in FINDING_VARS:
            if fv.src is s and start <= fv.decl_pos <= end:
                ids |= fv.ids
                for callee, first in fv.base_calls:
                    if first and re.fullmatch(r"[a-z_]+\.[a-z_]+", first):
                        ids.add(first)
    return ids


def all_literal_keys():
    """Every evidence key literal anywhere: ev["k"], x.evidence["k"], put_rate(ev, "k")."""
    found = []
    for src in SRC:
        for m in re.finditer(r"(?:\bev|\.evidence)\s*\[\s*\"", src.code):
            p = m.end() - 1
            found.append((src.literal_at(p), src, p))
        for m in re.finditer(r"\bput_rate\(\s*[\w.]+\s*,\s*\"", src.code):
            p = m.end() - 1
            found.append((src.literal_at(p), src, p))
    return found


# --- the document ---------------------------------------------------------------------------


def doc_sections(text):
    """'## ' sections: list of (heading, body)."""
    parts = re.split(r"^## ", text, flags=re.M)
    return [(p.split("\n", 1)[0], p) for p in parts[1:]]


def doc_table_ids(sections):
    """id -> index of the section whose table has a row for it."""
    ids = {}
    for idx, (_, body) in enumerate(sections):
        for m in re.finditer(r"^\|\s*`([a-z_]+\.[a-z_]+)`\s*\|", body, flags=re.M):
            if m.group(1) in ids and ids[m.group(1)] != idx:
                fail(f"docs/findings.md: `{m.group(1)}` has a table row in two sections")
            ids[m.group(1)] = idx
    return ids


def documented(key, body):
    return f"`{key}`" in body


def explain_ids():
    src = Source(ROOT / "src" / "analyse" / "explain_table.cpp")
    out = []
    for m in re.finditer(r"\.findings\s*=\s*\{", src.code):
        end = src.code.find("}", m.end())
        for q in range(m.end(), end):
            if src.code[q] == '"':
                lit = src.literal_at(q)
                if lit is not None:
                    out.append((lit, src.where(q)))
    return out


def run_fixtures():
    """(case, finding) of `check --json` on the golden test's fixtures, when the binary is given."""
    binary, fix = os.environ.get("CONNDOCTOR"), os.environ.get("FIXTURES")
    if not binary or not fix:
        return None
    fix = Path(fix)
    host = fix / "proc" / "host_6_18"
    cases = []
    for d in ("ports_exhausted", "server_time_wait", "close_wait_leak", "accept_queue_full"):
        cases.append((d, ["--proc-root", str(host), "--sock-diag-dump", str(fix / "dumps" / f"{d}.nldump")]))
    cases.append(("snat_router", ["--proc-root", str(host), "--sock-diag-dump",
                                  str(fix / "dumps" / "ports_exhausted.nldump"), "--conntrack-dump",
                                  str(fix / "conntrack" / "snat_router.nfdump")]))
    cases.append(("old_kernel", ["--proc-root", str(fix / "proc" / "old_kernel_4_19"),
                                 "--sock-diag-dump", str(fix / "dumps" / "ports_exhausted.nldump")]))
    out = []
    env = dict(os.environ, LC_ALL="C")
    for name, args in cases:
        r = subprocess.run([binary, "check", "--interval", "0", "--json", *args],
                           capture_output=True, text=True, env=env, timeout=60)
        try:
            report = json.loads(r.stdout)
        except json.JSONDecodeError:
            fail(f"check --json on fixture {name}: no JSON (exit {r.returncode}): {r.stderr[:200]}")
            continue
        for f in report.get("findings", []):
            out.append((name, f))
    return out


def main():
    scan_findings()
    keys_by_id = resolve()
    for i, ks in capped_keys().items():
        keys_by_id.setdefault(i, set()).update(ks)

    if len(keys_by_id) < 20:
        fail(f"only {len(keys_by_id)} finding ids extracted from the sources: the extraction broke")

    text = DOC.read_text()
    sections = doc_sections(text)
    doc_ids = doc_table_ids(sections)

    for i in sorted(keys_by_id):
        if i not in doc_ids:
            fail(f"docs/findings.md: finding `{i}` is emitted by the code but has no table row")
    for i in sorted(doc_ids):
        if i not in keys_by_id:
            fail(f"docs/findings.md: `{i}` has a table row but the code emits no such finding")
    for lit, where in explain_ids():
        if lit.endswith(".*"):
            if not any(i.startswith(lit[:-1]) for i in keys_by_id):
                fail(f"{where}: explain names {lit}, which matches no finding id")
        elif lit not in keys_by_id:
            fail(f"{where}: explain names {lit}, which the code does not emit")

    for i, keys in sorted(keys_by_id.items()):
        if i not in doc_ids:
            continue
        heading, body = sections[doc_ids[i]]
        for k in sorted(keys):
            if not documented(k, body):
                fail(f"docs/findings.md: evidence key `{k}` of `{i}` is not named in section "
                     f"'## {heading}'")

    # Keys the extraction did not tie to a finding: listed above, or set by the trace merge.
    attributed = set().union(*keys_by_id.values()) if keys_by_id else set()
    for key, src, pos in all_literal_keys():
        if key in attributed:
            continue
        if key in KEYS_OUTSIDE_A_FINDING:
            owner = KEYS_OUTSIDE_A_FINDING[key]
        elif src.path.name == "trace_merge.cpp":
            owner = TRACE_MERGE_SECTION
        else:
            fail(f"{src.where(pos)}: evidence key \"{key}\" set outside any finding the test can "
                 f"tell; add it to KEYS_OUTSIDE_A_FINDING with the finding it belongs to")
            continue
        if owner in doc_ids:
            heading, body = sections[doc_ids[owner]]
            if not documented(key, body):
                fail(f"docs/findings.md: evidence key `{key}` ({src.where(pos)}) is not named in "
                     f"section '## {heading}'")

    real = run_fixtures()
    if real is not None:
        if not real:
            fail("check --json on the fixtures gave no finding at all: the cross-check is void")
        for case, f in real:
            i = f.get("id")
            if i not in keys_by_id:
                fail(f"fixture {case}: the binary emitted `{i}`, which the extraction did not find")
                continue
            for k in f.get("evidence", {}):
                if k not in keys_by_id[i]:
                    fail(f"fixture {case}: `{i}` carries evidence key `{k}`, which the extraction "
                         f"did not find for it")
                if i in doc_ids and not documented(k, sections[doc_ids[i]][1]):
                    fail(f"fixture {case}: `{i}` carries evidence key `{k}`, not named in its "
                         f"section of docs/findings.md")

    if errors:
        for e in errors:
            print("FAIL:", e)
        print(f"{len(errors)} mismatch(es) between the code and docs/findings.md")
        return 1
    n_keys = sum(len(v) for v in keys_by_id.values())
    checked = "" if real is None else f"; {len(real)} findings of the fixtures cross-checked"
    print(f"ok: {len(keys_by_id)} finding ids, {n_keys} (id, evidence key) pairs documented{checked}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
