# SPDX-License-Identifier: Apache-2.0
"""The shipped rule pack (conf/rules, conf/feeds) - issue 5.

- `iocwatch check conf/rules` passes; the pack and every SigmaHQ webserver/apache
  rule load together (no id clashes);
- every rule carries the SigmaHQ-style metadata (UUIDv4 id, title, description,
  author, date, level, ATT&CK tags, references, false positives);
- every detection rule has at least one positive and one negative case, and each
  case fires exactly the pack rules listed in its `expect` (SigmaHQ rules loaded
  alongside are ignored) - access requests in cases.jsonl, error-log entries in
  errors.log (+ errors.expect.json);
- the correlation rules fire for exactly the clients of correlation.expect.json;
- the feed rules work with --placeholder and fail clearly without it.

Run: /usr/bin/python3 -m pytest -q tests/pack   (IW_CLI / IW_SHARED override the
paths to build/iocwatch and ../shared)."""
import json
import os
import re
import subprocess
import time

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED = os.environ.get("IW_SHARED", os.path.join(REPO, "..", "shared"))
CLI = os.environ.get("IW_CLI", os.path.join(REPO, "build", "iocwatch"))
PACK = os.path.join(REPO, "conf", "rules")
FEEDS = os.path.join(REPO, "conf", "feeds")
SIGMAHQ_OVERLAP = os.path.join(REPO, "conf", "sigmahq")
CRS_LISTS = os.path.join(REPO, "conf", "crs")
CRS_DATA = "/usr/share/modsecurity-crs/rules"   # Debian modsecurity-crs
CRS_PLACEHOLDERS = {"crs_lfi_os_files": "lfi-os-files", "crs_restricted_files": "restricted-files",
                    "crs_unix_shell": "unix-shell",
                    "crs_windows_powershell_commands": "windows-powershell-commands",
                    "crs_php_function_names": "php-function-names-933150",
                    "crs_java_classes": "java-classes", "crs_scanners_user_agents": "scanners-user-agents"}
SIGMAHQ = os.path.join(SHARED, "sigma", "sigmahq-rules")
SIGMAHQ_DIRS = [os.path.join(SIGMAHQ, "rules"), os.path.join(SIGMAHQ, "rules-emerging-threats")]
PLACEHOLDERS = ["iocwatch_bad_ips=" + os.path.join(FEEDS, "bad-ips.txt"),
                "iocwatch_bad_user_agents=" + os.path.join(FEEDS, "bad-user-agents.txt")]
TIMEOUT = 600
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
LEVELS = {"informational", "low", "medium", "high", "critical"}


def run(args, timeout=TIMEOUT):
    if not os.access(CLI, os.X_OK):
        pytest.skip("%s not built (make cli)" % CLI)
    return subprocess.run([CLI] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout)


def scan(inputs, rules, fmt="auto", placeholders=(), extra=()):
    args = ["scan", "--no-progress", "--format", fmt] + list(extra)
    for r in rules:
        args += ["--rules", r]
    for p in placeholders:
        args += ["--placeholder", p]
    res = run(args + list(inputs))
    assert res.returncode == 0, res.stderr.decode(errors="replace")[-3000:]
    return [json.loads(l) for l in res.stdout.decode().splitlines() if l.strip()]


def yml_files(top):
    for d, _, files in os.walk(top):
        for f in sorted(files):
            if f.endswith((".yml", ".yaml")):
                yield os.path.join(d, f)


def load_docs(top):
    docs = []
    for path in yml_files(top):
        with open(path, encoding="utf-8") as fh:
            for doc in yaml.safe_load_all(fh):
                if doc:
                    docs.append((path, doc))
    return docs


PACK_DOCS = load_docs(PACK)
FEED_DOCS = load_docs(FEEDS)
CRS_LIST_DOCS = load_docs(CRS_LISTS)
PACK_IDS = {d["id"] for _, d in PACK_DOCS}
BY_STEM = {os.path.basename(p)[:-4]: d["id"] for p, d in PACK_DOCS
           if "detection" in d and "name" not in d}


def is_feeder(doc):
    return "detection" in doc and "name" in doc


def read_jsonl(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(l) for l in fh if l.strip()]


CASES = read_jsonl(os.path.join(HERE, "cases.jsonl"))
with open(os.path.join(HERE, "errors.expect.json"), encoding="utf-8") as _fh:
    ERR_EXPECT = json.load(_fh)


# ---- loading -----------------------------------------------------------------

def test_check_pack():
    res = run(["check", PACK])
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert b"error" not in res.stderr.lower().replace(b"0 error", b"")


def test_pack_and_sigmahq_load_together():
    res = run(["check", PACK] + SIGMAHQ_DIRS)
    assert res.returncode == 0, res.stderr.decode(errors="replace")[-3000:]
    sigma_ids = set()
    for top in SIGMAHQ_DIRS:
        for path in yml_files(top):
            with open(path, encoding="utf-8") as fh:
                m = re.search(r"^id:\s*(\S+)", fh.read(), re.M)
            if m:
                sigma_ids.add(m.group(1))
    assert len(sigma_ids) >= 80
    assert not (PACK_IDS & sigma_ids)


def test_crs_list_rules():
    """conf/crs/ reads CRS's data files through placeholders: without them loading fails naming
    the placeholder; with Debian's modsecurity-crs lists each rule fires on a request of its
    class (crs_lists.jsonl `expect`) and none fires on the benign cases."""
    res = run(["check", CRS_LISTS])
    assert res.returncode != 0 and b"crs_lfi_os_files" in res.stderr
    if not os.path.isdir(CRS_DATA):
        pytest.skip("modsecurity-crs not installed")
    ph = ["%s=%s/%s.data" % (k, CRS_DATA, v) for k, v in CRS_PLACEHOLDERS.items()]
    ids = {os.path.basename(p)[:-4]: d["id"] for p, d in CRS_LIST_DOCS}
    rows = read_jsonl(os.path.join(HERE, "crs_lists.jsonl"))
    assert {r["for"] for r in rows if r["expect"]} == set(ids)
    alerts = scan([os.path.join(HERE, "crs_lists.jsonl")], [CRS_LISTS], fmt="jsonl", placeholders=ph)
    got = {}
    for a in alerts:
        got.setdefault(a["iocwatch"]["input"]["id"], set()).add(a["rule"]["id"])
    for r in rows:
        assert got.get(r["id"], set()) == {ids[x] for x in r["expect"]}, r["id"]


def test_feed_rules_need_their_placeholders():
    res = run(["check", PACK, FEEDS])
    assert res.returncode != 0
    assert b"iocwatch_bad_ips" in res.stderr
    res = run(["check"] + sum((["--placeholder", p] for p in PLACEHOLDERS), []) + [PACK, FEEDS])
    assert res.returncode == 0, res.stderr.decode(errors="replace")


# ---- metadata ----------------------------------------------------------------

@pytest.mark.parametrize("path,doc", PACK_DOCS + FEED_DOCS + CRS_LIST_DOCS,
                         ids=[os.path.relpath(p, REPO) + ":" + str(d.get("title"))[:40]
                              for p, d in PACK_DOCS + FEED_DOCS + CRS_LIST_DOCS])
def test_rule_metadata(path, doc):
    assert UUID4.match(str(doc.get("id", ""))), "id must be a UUIDv4"
    assert doc.get("title") and len(doc["title"]) <= 256
    assert doc.get("author") == "mod_iocwatch"
    assert re.match(r"^\d{4}-\d{2}-\d{2}$", str(doc.get("date")))
    assert doc.get("description")
    assert doc.get("level") in LEVELS
    if is_feeder(doc):
        assert doc["level"] == "informational"
        assert re.match(r"^iw_feed_\w+$", doc["name"])
        return
    assert doc.get("status") in {"stable", "test", "experimental"}
    tags = doc.get("tags") or []
    assert any(re.match(r"^attack\.t\d{4}(\.\d{3})?$", t) for t in tags), tags
    assert any(re.match(r"^attack\.[a-z-]+$", t) for t in tags), "tactic tag missing"
    assert doc.get("references") and doc.get("falsepositives")
    if "detection" in doc:
        ls = doc["logsource"]
        assert ls.get("category") == "webserver" or ls.get("service") == "apache"


def test_generated_rules_up_to_date():
    """conf/rules/ files generated from conf/rules.in/ + conf/lists/ (make rules) match
    their template and lists, and every generated file still has its template."""
    res = subprocess.run(["/usr/bin/python3", os.path.join(REPO, "tools", "genrules.py"), "--check"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    for out, src in ((PACK, "rules.in"), (SIGMAHQ_OVERLAP, "sigmahq.in")):
        for path in yml_files(out):
            with open(path, encoding="utf-8") as fh:
                generated = fh.readline().startswith("# GENERATED by tools/genrules.py")
            if generated:
                assert os.path.exists(os.path.join(REPO, "conf", src, os.path.relpath(path, out))), path


def test_sigmahq_overlap_filter():
    """conf/sigmahq/ loaded with SigmaHQ's web rules: a scanner User-Agent the pack reports
    gives one alert (the pack's), not a second one from SigmaHQ's recon-tool rule; without
    the filter both fire (so the filter is what removes the duplicate)."""
    if not os.path.isdir(SIGMAHQ):
        pytest.skip("SigmaHQ rules not found")
    pack_ua, sigmahq_ua = "2d27f514-f347-40b3-be2d-c4db393a7501", "19aa4f58-94ca-45ff-bc34-92e533c0994a"
    req = {"id": "ua", "method": "GET", "uri": "/", "version": "HTTP/1.1", "status": 200,
           "client": "192.0.2.9", "headers": {"Host": "www.example.org",
                                              "User-Agent": "sqlmap/1.8.2#stable (https://sqlmap.org)"}}
    path = os.path.join(HERE, ".overlap.jsonl")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(req) + "\n")
    try:
        without = {a["rule"]["id"] for a in scan([path], [PACK] + SIGMAHQ_DIRS, fmt="jsonl")}
        with_filter = {a["rule"]["id"] for a in scan([path], [PACK, SIGMAHQ_OVERLAP] + SIGMAHQ_DIRS,
                                                     fmt="jsonl")}
    finally:
        os.unlink(path)
    assert {pack_ua, sigmahq_ua} <= without
    assert pack_ua in with_filter and sigmahq_ua not in with_filter


def test_ids_unique():
    ids = [d["id"] for _, d in PACK_DOCS + FEED_DOCS]
    assert len(ids) == len(set(ids))


def test_every_detection_rule_has_positive_and_negative_case():
    seen = {}
    for c in CASES:
        seen.setdefault(c["for"], set()).add(c["id"].split("-")[2])
    for e in ERR_EXPECT.values():
        seen.setdefault(e["for"], set()).add(e["kind"])
    for stem in BY_STEM:
        assert seen.get(stem) == {"pos", "neg"}, stem


# ---- access-log cases ----------------------------------------------------------

@pytest.fixture(scope="module")
def case_alerts():
    # a small inspection limit: the request_not_fully_inspected cases stay
    # small (every other case is far below it)
    alerts = scan([os.path.join(HERE, "cases.jsonl")], [PACK] + SIGMAHQ_DIRS, fmt="jsonl",
                  extra=["--inspect-limit", "16K"])
    fired = {}
    for a in alerts:
        if "correlation" in a["iocwatch"]:
            continue
        fired.setdefault(a["iocwatch"]["input"]["id"], set()).add(a["rule"]["id"])
    return fired


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case_alerts, case):
    got = {r for r in case_alerts.get(case["id"], set()) if r in PACK_IDS}
    assert got == set(case["expect"])
    target = BY_STEM[case["for"]]
    if case["id"].split("-")[2] == "pos":
        assert target in got
    else:
        assert target not in got


# ---- error-log cases -----------------------------------------------------------

@pytest.fixture(scope="module")
def error_alerts():
    alerts = scan([os.path.join(HERE, "errors.log")], [PACK], fmt="error")
    fired = {}
    for a in alerts:
        if "correlation" not in a["iocwatch"]:
            fired.setdefault(a["iocwatch"]["input"]["line"], set()).add(a["rule"]["id"])
    return fired


@pytest.mark.parametrize("line", sorted(ERR_EXPECT, key=int))
def test_error_log_case(error_alerts, line):
    e = ERR_EXPECT[line]
    got = error_alerts.get(int(line), set())
    assert got == set(e["expect"])
    assert (BY_STEM[e["for"]] in got) == (e["kind"] == "pos")


# ---- correlations ----------------------------------------------------------------

def test_correlations():
    with open(os.path.join(HERE, "correlation.expect.json"), encoding="utf-8") as fh:
        expect = {tuple(p) for p in json.load(fh)["expect"]}
    alerts = scan([os.path.join(HERE, "correlation.jsonl"),
                   os.path.join(HERE, "correlation-errors.log")], [PACK])
    got = set()
    detections = 0
    for a in alerts:
        corr = a["iocwatch"].get("correlation")
        if corr:
            got.add((a["rule"]["id"], corr["group"]["c-ip"]))
        elif a["rule"]["id"] in PACK_IDS:
            detections += 1
    assert got == expect
    # generate: true on the attack-burst correlations keeps the single alerts
    assert detections >= 9


# ---- feeds -----------------------------------------------------------------------

def test_feeds():
    feed_rules = {os.path.basename(p)[:-4]: d["id"] for p, d in FEED_DOCS}
    rows = read_jsonl(os.path.join(HERE, "feeds.jsonl"))
    alerts = scan([os.path.join(HERE, "feeds.jsonl")], [FEEDS], fmt="jsonl",
                  placeholders=PLACEHOLDERS)
    fired = {}
    for a in alerts:
        fired.setdefault(a["iocwatch"]["input"]["id"], set()).add(a["rule"]["id"])
    for r in rows:
        got = fired.get(r["id"], set())
        assert (feed_rules["feed_bad_ip"] in got) == r["expect_bad_ip"], r["id"]
        assert (feed_rules["feed_bad_user_agent"] in got) == r["expect_bad_ua"], r["id"]


def test_large_ip_feed(tmp_path):
    """100k networks: still compiles quickly and matches exactly."""
    feed = tmp_path / "big.netset"
    lines = ["# generated"]
    for i in range(100000):
        a, b, c = 11 + i // 65536, (i // 256) % 256, i % 256
        lines.append("%d.%d.%d.0/24" % (a, b, c))
    feed.write_text("\n".join(lines) + "\n")
    reqs = tmp_path / "r.jsonl"
    reqs.write_text("".join(json.dumps({"id": cid, "method": "GET", "uri": "/", "client": ip}) + "\n"
                            for cid, ip in (("in-first", "11.0.0.9"), ("in-last", "12.134.159.200"),
                                            ("out", "12.134.160.1"), ("doc", "192.0.2.1"))))
    t0 = time.time()
    alerts = scan([str(reqs)], [os.path.join(FEEDS, "feed_bad_ip.yml")], fmt="jsonl",
                  placeholders=["iocwatch_bad_ips=%s" % feed])
    assert time.time() - t0 < 120
    assert {a["iocwatch"]["input"]["id"] for a in alerts} == {"in-first", "in-last"}


# ---- OSSEC attack samples (the log-monitor project's reference page) ---------------

def test_ossec_attack_samples(tmp_path):
    """Every exploit line of the OSSEC apache_attacks samples (Mambo/phpBB RFI +
    cmd=wget, PHP-Nuke UNION SELECT, awstats configdir injection) alerts, and
    the xmlrpc.php POST sweeps trip the login brute-force correlation."""
    rst = os.path.join(SHARED, "corpus", "ossec", "apache_attacks.rst")
    if not os.path.exists(rst):
        pytest.skip("OSSEC samples not available")
    with open(rst, encoding="utf-8") as fh:
        lines = [l.strip() for l in fh
                 if re.match(r"^\s+(\[\d+/|[\w.-]+ - - \[)", l)]
    log = tmp_path / "attacks.log"
    log.write_text("\n".join(lines) + "\n")
    alerts = scan([str(log)], [PACK], fmt="combined")
    hit = {a["iocwatch"]["input"]["line"] for a in alerts if "correlation" not in a["iocwatch"]}
    exploit = {i for i, l in enumerate(lines, 1) if re.search(r"cmd=|UNION|configdir=", l)}
    assert len(exploit) >= 20
    assert exploit <= hit
    login = {d["id"] for _, d in PACK_DOCS if d.get("title") == "Login Form or XML-RPC Brute Force From One Client"}
    sweeps = {a["iocwatch"]["correlation"]["group"]["c-ip"] for a in alerts
              if "correlation" in a["iocwatch"] and a["rule"]["id"] in login}
    assert sweeps == {"195.82.6.xxx", "81.186.243.xxx"}


# ---- class coverage beyond the per-rule cases -------------------------------------

def test_attack_variants_alert():
    """attacks.jsonl: common real-world payload shapes (SQLi, XSS, LFI, RCE, SSTI,
    SSRF, RFI, Java, webshells, sensitive files, NoSQL, XXE, CRLF, traversal)
    written independently of the CRS corpus; each must raise a pack alert."""
    rows = read_jsonl(os.path.join(HERE, "attacks.jsonl"))
    alerts = scan([os.path.join(HERE, "attacks.jsonl")], [PACK], fmt="jsonl")
    hit = {a["iocwatch"]["input"]["id"] for a in alerts
           if "correlation" not in a["iocwatch"] and a["rule"]["id"] in PACK_IDS}
    assert [r["id"] for r in rows if r["id"] not in hit] == []


def test_benign_requests_do_not_alert():
    """benign.jsonl: modern everyday traffic (searches with quotes and SQL words,
    OAuth/UTM/GraphQL parameters, JWT and analytics cookies, crawlers, health
    checks, WordPress admin) - no pack rule may fire."""
    alerts = scan([os.path.join(HERE, "benign.jsonl")], [PACK], fmt="jsonl")
    fired = sorted({(a["iocwatch"]["input"]["id"], a["rule"]["name"]) for a in alerts
                    if "correlation" not in a["iocwatch"]})
    assert fired == []
