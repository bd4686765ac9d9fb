#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""What each pattern of one field's Vectorscan database costs (callgrind).

For rule writers: which regex of a field's database makes it dear on given
traffic.  Compiles the rules as the engine does and takes that field's
database (build/bench/bench_pats dump), the values that database scans in
an input (bench_pats values: a log or JSON lines, e.g. the browser-real
requests of `tools/bench_instr.py --jsonl browser-real 2000` or
corpus/crs-requests.jsonl), then counts under callgrind the instructions of
scanning every value with: the whole database (`all`), the database without
one pattern (`loo`, once per pattern: what rewriting or dropping it can
save) and one pattern alone (`alone`).  A prefilter pattern's report runs
PCRE2 on the value, as a scan recording for the scan-result cache does.

    /usr/bin/python3 tools/bench_pats.py --field cs-header-decoded \\
        --input br.jsonl [--kind db] [--lines N] [--all-values] [--rules DIR...]

Databases are compiled once natively and cached by content in
build/bench-pats-db (under valgrind they load instead of compiling), so a
rerun after a rule change compiles only what changed.  --dump FILE reuses a
saved `bench_pats dump` (the whole pack compiles in about a minute);
--pats FILE takes pattern lines from a file instead (edit one to try a
rewrite before touching the rules).  The ranking is per database: savings of
two patterns do not add up, and the figure that counts is httpd's
(tools/bench_instr.py; docs/PACK.md, "Scan cost")."""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("IW_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
SIGMA = os.path.join(SHARED, "sigma", "sigmahq-rules")
BIN = os.path.join(REPO, "build", "bench", "bench_pats")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def top_branches(rx):
    """The top-level alternatives of a regex (inside one group spanning
    all of it), as strings; [rx] when there is one."""
    def split(s):
        out, depth, cls, i, start = [], 0, False, 0, 0
        while i < len(s):
            c = s[i]
            if c == "\\":
                i += 2
                continue
            if cls:
                if c == "]":
                    cls = False
            elif c == "[":
                cls = True
                if s[i + 1:i + 2] == "^":
                    i += 1
                if s[i + 1:i + 2] == "]":
                    i += 1
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0 and i < len(s) - 1:
                    pass
            elif c == "|" and depth == 0:
                out.append(s[start:i])
                start = i + 1
            i += 1
        out.append(s[start:])
        return out
    if rx.startswith("(?:") and rx.endswith(")"):
        inner = rx[3:-1]
        # the group spans everything only if the inner text is balanced
        if len(split("(" + inner + ")")) == 1 and _balanced(inner):
            return split(inner)
    return split(rx)


def _balanced(s):
    depth, cls, i = 0, False, 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            i += 2
            continue
        if cls:
            cls = c != "]"
        elif c == "[":
            cls = True
            if s[i + 1:i + 2] == "^":
                i += 1
            if s[i + 1:i + 2] == "]":
                i += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return False
        i += 1
    return depth == 0


def split_branches(lines, which):
    out = []
    for i, l in enumerate(lines):
        col = l.split("\t", 5)
        if i not in which:
            out.append(l)
            continue
        for k, br in enumerate(top_branches(col[5])):
            out.append("\t".join(col[:2] + ["%s.%d" % (col[2], k)] + col[3:5] + [br]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--field", required=True)
    ap.add_argument("--kind", default="db", help="db, plain, rest, line or block")
    ap.add_argument("--input", required=True, help="log or JSON lines whose values are scanned")
    ap.add_argument("--lines", type=int, default=0, help="first N input lines only")
    ap.add_argument("--all-values", action="store_true",
                    help="every value as often as it occurs (default: each distinct value once)")
    ap.add_argument("--rules", nargs="*", default=None,
                    help="rule dirs (default: SigmaHQ web rules + conf/rules)")
    ap.add_argument("--dump", help="a saved `bench_pats dump` of the rules (else dumped now)")
    ap.add_argument("--pats", help="pattern lines to measure instead of the field's database")
    ap.add_argument("--dbdir", default=os.path.join(REPO, "build", "bench-pats-db"))
    ap.add_argument("--sets", default="all,loo,alone")
    ap.add_argument("--branches", type=int, action="append", default=[],
                    help="pattern # of the list split into its top-level branches, each its "
                         "own pattern (which branch costs); repeatable")
    a = ap.parse_args()

    if not os.path.exists(BIN):
        run(["make", "-C", REPO, "build/bench/bench_pats"], stdout=subprocess.DEVNULL)
    rules = a.rules if a.rules is not None else [
        os.path.join(SIGMA, "rules"), os.path.join(SIGMA, "rules-emerging-threats"),
        os.path.join(REPO, "conf", "rules")]
    os.makedirs(a.dbdir, mode=0o700, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-pats-") as tmp:
        pats = os.path.join(tmp, "pats.tsv")
        if a.pats:
            pats = a.pats
        else:
            if a.dump:
                dump = open(a.dump).read()
            else:
                dump = run([BIN, "dump", "--field", a.field] + rules,
                           stdout=subprocess.PIPE, universal_newlines=True).stdout
            lines = [l for l in dump.splitlines()
                     if l.split("\t")[:2] == [a.field, a.kind]]
            if not lines:
                sys.exit("bench_pats: no %s database for %s" % (a.kind, a.field))
            if a.branches:
                lines = split_branches(lines, a.branches)
            with open(pats, "w") as f:
                f.write("\n".join(lines) + "\n")
        vals = os.path.join(tmp, "values.txt")
        cmd = [BIN, "values", "--field", a.field, "--kind", a.kind, a.input]
        if a.lines:
            cmd[2:2] = ["--lines", str(a.lines)]
        with open(vals, "w") as f:
            run(cmd, stdout=f)
        sets = []
        for s in a.sets.split(","):
            sets += ["--set", s]
        uniq = [] if a.all_values else ["--uniq"]
        base = [BIN, "cost", "--dbdir", a.dbdir] + uniq + sets + [pats, vals]
        run(base[:2] + ["--compile-only"] + base[2:], stdout=subprocess.DEVNULL)
        out = run(["valgrind", "--tool=callgrind", "--collect-atstart=no",
                   "--toggle-collect=scan_set_values",
                   "--callgrind-out-file=%s/cg.out" % tmp] + base,
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  universal_newlines=True).stdout
        head = out.splitlines()[0]
        cost = {}
        for fn in glob.glob(os.path.join(tmp, "cg.out*")):
            label = total = None
            for l in open(fn):
                m = re.match(r"desc: Trigger: Client Request: (.*)", l)
                if m:
                    label = m.group(1)
                m = re.match(r"summary: (\d+)", l) or re.match(r"totals: (\d+)", l)
                if m:
                    total = int(m.group(1))
            if label:
                name, pcre = label.rsplit(" pcre=", 1)
                cost[name] = (total or 0, int(pcre))
        plines = [l.rstrip("\n").split("\t") for l in open(pats) if l.count("\t") >= 5]
        nval = int(head.split()[1])
        nbytes = int(head.split()[3])
        print("%s %s: %d patterns; %d values, %d bytes (%s)" % (
            a.field, a.kind, len(plines), nval, nbytes,
            "every occurrence" if a.all_values else "distinct"))
        if "all" in cost:
            t, pc = cost["all"]
            print("all: %d instructions, %.0f per value, %.1f per byte, PCRE2 runs %d" % (
                t, t / max(nval, 1), t / max(nbytes, 1), pc))
        rows = []
        for i, p in enumerate(plines):
            loo = cost.get("loo %d" % i)
            alone = cost.get("alone %d" % i)
            save = cost["all"][0] - loo[0] if loo and "all" in cost else None
            rows.append((save if save is not None else 0, i, p, loo, alone))
        rows.sort(key=lambda r: -r[0])
        print("%4s %6s %12s %12s %7s  %-40s %s" % ("#", "id", "loo saves", "alone", "pcre", "rule",
                                                   "expression"))
        for save, i, p, loo, alone in rows:
            print("%4d %6s %12s %12s %7s  %-40.40s %.70s" % (
                i, p[2], "%d" % save if loo else "-", "%d" % alone[0] if alone else "-",
                alone[1] if alone else "-", p[4], p[5]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
