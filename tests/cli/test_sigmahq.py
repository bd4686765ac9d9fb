# SPDX-License-Identifier: Apache-2.0
"""SigmaHQ conformance of the `iocwatch` CLI (issue "engine", Done-when 2).

Every one of the 88 SigmaHQ webserver/apache rules outside `unsupported/`
must fire on the attack requests that realise it (tests/sigmahq/) and no
rule may fire on the benign requests.  Run:

    /usr/bin/python3 -m pytest tests/cli

Paths: repo root from this file; shared dir <repo>/../shared (IW_SHARED
overrides); CLI <repo>/build/iocwatch (IW_CLI overrides).
"""
import collections
import json
import os
import re
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED = os.environ.get("IW_SHARED", os.path.join(REPO, "..", "shared"))
CLI = os.environ.get("IW_CLI", os.path.join(REPO, "build", "iocwatch"))
SIGMAHQ = os.path.join(SHARED, "sigma", "sigmahq-rules")
RULE_DIRS = [os.path.join(SIGMAHQ, "rules"),
             os.path.join(SIGMAHQ, "rules-emerging-threats")]
DATA = os.path.join(REPO, "tests", "sigmahq")
REQUESTS = os.path.join(DATA, "requests.jsonl")
ACCESS_LOG = os.path.join(DATA, "access.log")
ERROR_LOG = os.path.join(DATA, "errors.log")
CORPUS = os.path.join(SHARED, "corpus")
TIMEOUT = 300
N_RULES = 88


def stem_of(name):
    while name.endswith(".yml"):
        name = name[:-4]
    return name


def discover_rules():
    """stem -> Sigma id for every rule file outside unsupported/."""
    out = {}
    for top in RULE_DIRS:
        for d, _, files in os.walk(top):
            for f in files:
                if f.endswith(".yml"):
                    with open(os.path.join(d, f), encoding="utf-8") as fh:
                        m = re.search(r"^id:\s*(\S+)", fh.read(), re.M)
                    out[stem_of(f)] = m.group(1) if m else None
    return out


RULES = discover_rules()


def run(args, timeout=TIMEOUT):
    if not os.access(CLI, os.X_OK):
        pytest.fail("CLI not built: %s (make cli, or set IW_CLI)" % CLI)
    return subprocess.run([CLI] + args, capture_output=True, text=True,
                          timeout=timeout, errors="replace")


def rules_args():
    args = []
    for d in RULE_DIRS:
        args += ["--rules", d]
    return args


def alerts_by(stdout, key):
    """input id / line -> set of fired rule ids, from JSON-lines alerts."""
    fired = collections.defaultdict(set)
    for line in stdout.splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        assert obj["event"]["kind"] == "alert"
        fired[str(obj["iocwatch"]["input"][key])].add(obj["rule"]["id"])
    return fired


def read_expect(path):
    """'<line> <rule id>...' file -> {line: set(ids)}; '#' comments."""
    exp = {}
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            raw = raw.split("#", 1)[0].split()
            if raw:
                exp[raw[0]] = set(raw[1:])
    return exp


def count_lines(path):
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


# ----------------------------------------------------------------- data --
def load_requests():
    with open(REQUESTS, encoding="utf-8") as fh:
        return [json.loads(l) for l in fh if l.strip()]


REQS = load_requests() if os.path.exists(REQUESTS) else []
ACCESS_EXPECT = read_expect(ACCESS_LOG[:-4] + ".expect") \
    if os.path.exists(ACCESS_LOG) else {}
ERROR_EXPECT = read_expect(ERROR_LOG[:-4] + ".expect") \
    if os.path.exists(ERROR_LOG) else {}


@pytest.fixture(scope="module")
def jsonl_scan():
    r = run(["scan"] + rules_args() + ["--format", "jsonl", REQUESTS])
    assert r.returncode == 0, r.stderr
    return r, alerts_by(r.stdout, "id")


@pytest.fixture(scope="module")
def access_scan():
    r = run(["scan"] + rules_args() + ["--format", "combined", ACCESS_LOG])
    assert r.returncode == 0, r.stderr
    return r, alerts_by(r.stdout, "line")


@pytest.fixture(scope="module")
def error_scan():
    r = run(["scan"] + rules_args() + ["--format", "error", ERROR_LOG])
    assert r.returncode == 0, r.stderr
    return r, alerts_by(r.stdout, "line")


# ---------------------------------------------------------------- check --
def test_rule_inventory():
    assert len(RULES) == N_RULES, sorted(RULES)
    assert all(RULES.values()), [s for s, i in RULES.items() if not i]
    assert len(set(RULES.values())) == N_RULES


def test_check_accepts_all_sigmahq_rules():
    r = run(["check"] + RULE_DIRS)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert re.search(r"\b%d rule" % N_RULES, out), out


def test_check_rejects_unsupported_with_correlation_hint():
    r = run(["check", os.path.join(SIGMAHQ, "unsupported")])
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "web_multiple_susp_resp_codes_single_source.yml" in out, out
    assert re.search(r"correlation", out, re.I), out


# ------------------------------------------------------ per-rule proofs --
@pytest.mark.parametrize("stem", sorted(RULES))
def test_rule_fires_on_attack_not_on_benign(stem, request):
    rid = RULES[stem]
    checked = 0
    # corpus JSON lines: "<stem>-attack-N" / "<stem>-benign-N"
    mine = [q for q in REQS if q["id"].rsplit("-", 2)[0] == stem]
    wanted = [q for q in REQS if rid in q["expect"] and not q.get("gap")]
    if mine or wanted:
        _, fired = request.getfixturevalue("jsonl_scan")
        for q in wanted:
            got = fired.get(q["id"], set())
            assert set(q["expect"]) <= got, \
                "%s: expected %s, fired %s (%s %s)" % (
                    q["id"], q["expect"], sorted(got), q["method"], q["uri"])
            checked += 1
        for q in mine:
            if not q["expect"]:
                assert not fired.get(q["id"]), \
                    "%s must not alert, fired %s" % (q["id"],
                                                     sorted(fired[q["id"]]))
    # Apache combined / error logs with line expectations
    for path, exp, fx in ((ACCESS_LOG, ACCESS_EXPECT, "access_scan"),
                          (ERROR_LOG, ERROR_EXPECT, "error_scan")):
        lines = [n for n, ids in exp.items() if rid in ids]
        if not lines:
            continue
        _, fired = request.getfixturevalue(fx)
        for n in lines:
            got = fired.get(n, set())
            assert exp[n] <= got, "%s:%s: expected %s, fired %s" % (
                os.path.basename(path), n, sorted(exp[n]), sorted(got))
            checked += 1
    assert checked, "no attack realises rule %s (%s)" % (stem, rid)


GAPS = [q for q in REQS if q.get("gap")]


@pytest.mark.parametrize("q", [
    pytest.param(q, id=q["id"],
                 marks=pytest.mark.xfail(reason="rule gap: " + q["gap"],
                                         strict=True))
    for q in GAPS])
def test_known_rule_gap(q, jsonl_scan):
    """A faithful exploit request that the SigmaHQ rule, as written, misses.
    Expected to fail; an XPASS means the engine matched a value that is not
    in the request, i.e. an engine bug (strict)."""
    _, fired = jsonl_scan
    assert set(q["expect"]) <= fired.get(q["id"], set())


def test_every_rule_expected_by_an_attack():
    expected = set()
    for q in REQS:
        if not q.get("gap"):
            expected |= set(q["expect"])
    for exp in (ACCESS_EXPECT, ERROR_EXPECT):
        for ids in exp.values():
            expected |= ids
    assert set(RULES.values()) - expected == set()
    assert expected - set(RULES.values()) == set(), "unknown ids"


def test_request_ids_name_real_rules():
    for q in REQS:
        stem, kind, num = q["id"].rsplit("-", 2)
        assert stem in RULES and kind in ("attack", "benign") \
            and num.isdigit(), q["id"]
        assert bool(q["expect"]) == (kind == "attack"), q["id"]
        if q["expect"]:
            assert q["expect"][0] == RULES[stem], q["id"]


# ------------------------------------------------ whole-file properties --
def test_jsonl_benign_requests_raise_nothing(jsonl_scan):
    r, fired = jsonl_scan
    benign = {q["id"] for q in REQS if not q["expect"]}
    noisy = {i: sorted(fired[i]) for i in benign if fired.get(i)}
    assert not noisy
    assert re.search(r"\b0 malformed", r.stderr), r.stderr


def test_access_log_unlisted_lines_raise_nothing(access_scan):
    r, fired = access_scan
    noisy = {n: sorted(ids) for n, ids in fired.items()
             if n not in ACCESS_EXPECT}
    assert not noisy
    assert re.search(r"\b0 malformed", r.stderr), r.stderr


def test_error_log_unlisted_lines_raise_nothing(error_scan):
    r, fired = error_scan
    noisy = {n: sorted(ids) for n, ids in fired.items()
             if n not in ERROR_EXPECT}
    assert not noisy
    assert re.search(r"\b0 malformed", r.stderr), r.stderr


def import_oracle():
    pytest.importorskip("yaml")
    sys.path.insert(0, DATA)
    keep, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        import oracle
    finally:
        sys.path.remove(DATA)
        sys.dont_write_bytecode = keep
    return oracle


def oracle_hits(path, fmt):
    oracle = import_oracle()
    rules = oracle.load_rules(RULE_DIRS)
    want = collections.defaultdict(set)
    for key, ev in oracle.read_events(path, fmt):
        for rule in rules:
            if oracle.fires(rule, ev):
                want[key].add(rule["id"])
    return want


def diff_hits(want, fired):
    return {k: (sorted(want.get(k, ())), sorted(fired.get(k, ())))
            for k in set(want) | set(fired)
            if want.get(k, set()) != fired.get(k, set())}


def test_engine_agrees_with_reference_oracle(jsonl_scan):
    """Differential check: tests/sigmahq/oracle.py is a small independent
    Sigma evaluator with the documented field semantics; the engine must
    produce exactly the same (request, rule) pairs."""
    want = oracle_hits(REQUESTS, "jsonl")
    _, fired = jsonl_scan
    diff = diff_hits(want, fired)
    assert not diff, "id: (oracle, engine) %r" % diff


def clf_escape(s):
    """httpd's ap_escape_logitem for quoted access-log fields."""
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) >= 0x7f:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def as_combined(q):
    h = {k.lower(): v for k, v in q["headers"].items()}
    when = q["time"]  # YYYY-MM-DDTHH:MM:SSZ
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    clf = "%s/%s/%s:%s +0000" % (when[8:10], months[int(when[5:7]) - 1],
                                 when[0:4], when[11:19])
    return '%s - - [%s] "%s" %d %d "%s" "%s"' % (
        q["client"], clf,
        clf_escape("%s %s %s" % (q["method"], q["uri"], q["version"])),
        q["status"], 512, clf_escape(h.get("referer", "-")),
        clf_escape(h.get("user-agent", "-")))


def test_combined_form_agrees_with_reference_oracle(tmp_path):
    """The same requests written as httpd would log them (combined format,
    ap_escape_logitem escaping; only request line, status, Referer and UA
    survive): the engine must fire exactly what the oracle fires on them."""
    path = tmp_path / "requests-as-combined.log"
    path.write_text("".join(as_combined(q) + "\n" for q in REQS))
    r = run(["scan"] + rules_args() + ["--format", "combined", str(path)])
    assert r.returncode == 0, r.stderr
    assert re.search(r"\b0 malformed", r.stderr), r.stderr
    fired = alerts_by(r.stdout, "line")
    diff = diff_hits(oracle_hits(str(path), "combined"), fired)
    named = {REQS[int(k) - 1]["id"]: v for k, v in diff.items()}
    assert not named, "id: (oracle, engine) %r" % named


# ----------------------------------------------------- corpus replays --
SUMMARY = re.compile(r"\b(\d+) lines\b.*?\b(\d+) malformed", re.S)


@pytest.mark.parametrize("rel,fmt", [
    ("crs-requests.jsonl", "jsonl"),
    ("benign/elastic-apache.log", "auto"),
])
def test_corpus_scan_completes(rel, fmt):
    path = os.path.join(CORPUS, rel)
    r = run(["scan"] + rules_args() + ["--format", fmt, path])
    assert r.returncode == 0, r.stderr[-2000:]
    for line in r.stdout.splitlines():
        obj = json.loads(line)
        assert obj["event"]["kind"] == "alert" and obj["rule"]["id"]
    m = SUMMARY.search(r.stderr)
    assert m, "no summary with a malformed count on stderr:\n" + r.stderr
    assert int(m.group(1)) == count_lines(path), r.stderr
    assert int(m.group(2)) < int(m.group(1)), r.stderr
