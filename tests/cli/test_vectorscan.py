# SPDX-License-Identifier: Apache-2.0
"""Vectorscan loses no match of the databases the engine compiles.

Debian 12's Vectorscan 5.4.9 loses matches in some of its scan
implementations (the AVX-512 one: short patterns past offset 64; the AVX2
one: a match that ends the buffer).  The engine scans with an
implementation that passes a self-test of those shapes (src/iw_vs.c).
This is the differential test behind it: build/vs_verify compiles the
shipped pack and the SigmaHQ web rules as the engine does, finds with
PCRE2 which patterns every corpus value matches, and scans each such
value with its database at many offsets inside filler.  PCRE2 is the
oracle: a pattern it matches that the scan did not report is a lost match.

It also shows the test would see the defect: a small rule set of the
defect's shapes, scanned with Vectorscan's own dispatch
(IOCWATCH_VECTORSCAN_IMPL=hs_scan), loses matches on a CPU where the
engine had to choose another implementation.

    /usr/bin/python3 -m pytest tests/cli/test_vectorscan.py
"""
import json
import os
import re
import subprocess
import urllib.parse

import pytest

from test_scan_cache import CLI, REPO, SHARED, SIGMAHQ   # the paths every CLI test uses

VERIFY = os.path.join(REPO, "build", "vs_verify")
RULES = [os.path.join(SIGMAHQ, d) for d in ("rules", "rules-emerging-threats")] + \
    [os.path.join(REPO, "conf", "rules")]
SOURCES = [os.path.join(SHARED, "corpus", "crs-requests.jsonl"),
           os.path.join(SHARED, "corpus", "fuzzdb-requests.jsonl"),
           os.path.join(REPO, "tests", "pack", "cases.jsonl"),
           os.path.join(REPO, "tests", "pack", "attacks.jsonl")]
SUMMARY = re.compile(r"vs_verify \((\S+): (\S+)\): (\d+) databases, (\d+) patterns, (\d+) values, "
                     r"(\d+) witnesses, (\d+) scans, (\d+) misses \((\d+) patterns\)")
DEFECT_RULE = """\
title: a byte and a class
id: 6a3f0d0e-6c59-4d43-9d1e-0b7d3c1a9e01
status: test
logsource:
  category: webserver
detection:
  sel:
    cs-user-agent|re|i: '(?=<xss)<[\\s\\S]'
  condition: sel
level: high
"""


def escape(s):
    out = []
    for b in s.encode("utf-8", "surrogateescape"):
        c = chr(b)
        if c == "\\":
            out.append("\\\\")
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif b < 0x20 or b >= 0x7f:
            out.append("\\x%02x" % b)
        else:
            out.append(c)
    return "".join(out)


def corpus_values():
    """The values requests carry, as the engine's fields see them: the
    target raw and decoded, its query, header values and lines, bodies."""
    seen, out = set(), []

    def add(v):
        if v and len(v) <= 2048 and v not in seen:
            seen.add(v)
            out.append(v)
    for path in SOURCES:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                r = json.loads(line)
                u = r.get("uri") or ""
                for x in (u, urllib.parse.unquote(u, errors="surrogateescape")):
                    add(x)
                    if "?" in x:
                        add(x.split("?", 1)[1])
                for k, v in (r.get("headers") or {}).items():
                    v = str(v)
                    add(v)
                    add(urllib.parse.unquote(v, errors="surrogateescape"))
                    add("%s: %s" % (k, v))
                    add("\n%s: %s\n" % (k, v))
                b = r.get("body")
                if isinstance(b, str):
                    add(b)
                    add(urllib.parse.unquote_plus(b, errors="surrogateescape"))
    return out


def verify(tmp_path, values, rules, impl=None, env=None):
    vals = tmp_path / "values.txt"
    vals.write_text("".join(escape(v) + "\n" for v in values))
    cmd = [VERIFY] + (["--impl", impl] if impl else []) + [str(vals)] + rules
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1200,
                       env=dict(os.environ, **(env or {})))
    m = SUMMARY.search(r.stdout)
    assert m, (r.stdout[-2000:], r.stderr[-2000:])
    return r, m


def engine_choice():
    r = subprocess.run([CLI, "--version"], capture_output=True, text=True, timeout=60)
    m = re.search(r"scanning with (\S+),", r.stdout)
    assert r.returncode == 0 and m, r.stdout
    return m.group(1), r.stdout


@pytest.mark.skipif(not os.path.isdir(SIGMAHQ), reason="no SigmaHQ rules under IW_SHARED")
def test_engine_loses_no_match(tmp_path):
    r, m = verify(tmp_path, corpus_values(), RULES)
    print(m.group(0))
    assert r.returncode == 0, r.stdout[-4000:]
    assert int(m.group(8)) == 0, r.stdout[-4000:]
    # it had something to check: most of the engine's databases, thousands of values
    assert int(m.group(3)) >= 30 and int(m.group(5)) >= 20000, m.group(0)
    assert int(m.group(6)) >= 100000, m.group(0)


def test_verifier_sees_the_defect(tmp_path):
    """On a CPU where hs_scan failed the self-test, the same check with
    hs_scan finds lost matches: the test above would have seen them."""
    name, version = engine_choice()
    if name == "hs_scan":
        pytest.skip("hs_scan passes the self-test on this CPU: " + version.strip())
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "defect.yml").write_text(DEFECT_RULE)
    values = ["<XSS versus &lt;XSS", "id=<xss src=x>"]
    rules = [str(tmp_path / "rules")]
    r, m = verify(tmp_path, values, rules, env={"IOCWATCH_VECTORSCAN_IMPL": "hs_scan"})
    assert r.returncode == 1 and int(m.group(8)) > 0, r.stdout
    assert "MISS cs-user-agent" in r.stdout, r.stdout
    r, m = verify(tmp_path, values, rules)        # the engine's choice: none lost
    assert r.returncode == 0 and int(m.group(8)) == 0, r.stdout


def test_version_and_check_name_the_choice(tmp_path):
    name, version = engine_choice()
    assert name in ("hs_scan", "avx2", "corei7", "core2"), version
    r = subprocess.run([CLI, "check", os.path.join(REPO, "conf", "rules")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    note = [ln for ln in r.stderr.splitlines() if ln.startswith("iocwatch: note: Vectorscan")]
    if name == "hs_scan":
        assert not note, r.stderr
    else:
        assert len(note) == 1 and ("its %s implementation" % name) in note[0], r.stderr
