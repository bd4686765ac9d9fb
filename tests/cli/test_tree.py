# SPDX-License-Identifier: Apache-2.0
"""The source tree keeps its promises to a reader: every httpd log call in
the glue carries a stable message tag (IWLOGNO, like httpd's APLOGNO), each
number once; docs/HACKING.md's map names every source file; no file of src/
is over 1,600 lines and the files depend on each other one way (no include
or link cycle)."""

import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
GLUE = os.path.join(REPO, "mod_iocwatch.c")

LOG_CALL = re.compile(r"\bap_log_(?:r|c|p)?error\s*\(")


def log_calls(text):
    """(line, the call's text up to its closing parenthesis) for every
    ap_log_*error call."""
    out = []
    for m in LOG_CALL.finditer(text):
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        out.append((text.count("\n", 0, m.start()) + 1, text[m.start():i]))
    return out


def test_every_log_call_has_a_unique_tag():
    with open(GLUE) as f:
        calls = log_calls(f.read())
    assert len(calls) >= 20
    untagged = [ln for ln, c in calls if not re.search(r"IWLOGNO\(\d{4}\)", c)]
    assert untagged == [], "ap_log_*error without IWLOGNO(nnnn) at mod_iocwatch.c:%s" % untagged
    tags = [re.search(r"IWLOGNO\((\d{4})\)", c).group(1) for _, c in calls]
    twice = sorted({t for t in tags if tags.count(t) > 1})
    assert twice == [], "IWLOGNO numbers used twice: %s" % twice


def test_hacking_maps_every_source_file():
    """docs/HACKING.md's map names every file of src/ and the glue, so a
    file added without a line there fails here."""
    with open(os.path.join(REPO, "docs", "HACKING.md")) as f:
        hacking = f.read()
    names = ["src/" + n for n in os.listdir(os.path.join(REPO, "src"))
             if n.endswith((".c", ".h"))] + ["mod_iocwatch.c"]
    missing = sorted(n for n in names if "`%s`" % n not in hacking)
    assert missing == [], "not in docs/HACKING.md's map: %s" % missing


def test_test_modules_have_distinct_names():
    """make test collects tests/cli, tests/pack, tests/integration and
    tests/package in one pytest run without packages: two test modules of
    one basename stop the whole run at collection."""
    seen = {}
    for sub in ("cli", "pack", "integration", "package"):
        d = os.path.join(REPO, "tests", sub)
        if not os.path.isdir(d):
            continue
        for n in os.listdir(d):
            if n.startswith("test_") and n.endswith(".py"):
                seen.setdefault(n, []).append(sub)
    twice = {n: s for n, s in seen.items() if len(s) > 1}
    assert twice == {}, "test modules with one name in several folders: %s" % twice


def test_source_files_carry_the_licence_line():
    """Every C file of src/, tests/ and the glue opens with the one-line
    SPDX licence header (LICENSE: Apache-2.0)."""
    roots = [os.path.join(REPO, d) for d in ("src", "tests/unit", "tests/fuzz", "tests/bench")]
    files = [GLUE] + [os.path.join(r, n) for r in roots if os.path.isdir(r)
                      for n in os.listdir(r) if n.endswith((".c", ".h"))]
    bad = []
    for p in files:
        with open(p) as f:
            if f.readline() != "/* SPDX-License-Identifier: Apache-2.0 */\n":
                bad.append(os.path.relpath(p, REPO))
    assert bad == [], "no SPDX-License-Identifier first line: %s" % sorted(bad)


def cycles(graph):
    """The strongly connected components of more than one node (each one a
    dependency cycle), Tarjan's algorithm."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycles_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_source_file_over_1600_lines():
    src = os.path.join(REPO, "src")
    long = []
    for name in sorted(os.listdir(src)):
        with open(os.path.join(src, name)) as f:
            n = sum(1 for _ in f)
        if n > 1600:
            long.append("src/%s: %d lines" % (name, n))
    assert long == [], "split at a seam: %s" % long


def test_no_include_cycle():
    src = os.path.join(REPO, "src")
    graph = {}
    for name in os.listdir(src):
        with open(os.path.join(src, name)) as f:
            graph[name] = set(re.findall(r'^#include "([^"]+)"', f.read(), re.M))
    assert cycles(graph) == []


def test_no_link_cycle_between_engine_files():
    """A .c file that calls into another must not be called back by it:
    the files of src/ depend on each other one way (read from the built
    objects' symbol tables)."""
    import glob
    import subprocess
    objs = sorted(glob.glob(os.path.join(REPO, "build", "obj", "*.o")))
    sources = glob.glob(os.path.join(REPO, "src", "*.c"))
    assert len(objs) >= len(sources) - 1, "build first (make): %d objects" % len(objs)
    defined, wanted = {}, {}
    for o in objs:
        name = os.path.basename(o)[:-2]
        out = subprocess.run(["nm", o], capture_output=True, text=True, check=True).stdout
        wanted[name] = set()
        for line in out.splitlines():
            f = line.split()
            if len(f) == 3 and f[1] in "TDBR":
                defined[f[2]] = name
            elif len(f) == 2 and f[0] == "U":
                wanted[name].add(f[1])
    graph = {n: {defined[s] for s in u if s in defined and defined[s] != n}
             for n, u in wanted.items()}
    assert graph["iw_rules"], "no dependencies read: nm output changed?"
    assert cycles(graph) == []
