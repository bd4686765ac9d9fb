# SPDX-License-Identifier: Apache-2.0
"""The scan-result cache (src/iw_engine_memo.c) never changes what is detected.

Every input is scanned three times with the same rules: cache off
(`--scan-cache 0`), the default cache, and a one-entry cache (every
lookup evicts the last, so stores, misses and ring reuse are exercised
constantly).  stdout (alerts with their evidence) must be byte-identical,
and so must the per-rule counts on stderr.  Inputs repeat their values a
lot (the benign log shares User-Agents, paths and hosts; the corpus files
are also scanned twice in one run) so the default cache really hits.

    /usr/bin/python3 -m pytest tests/cli/test_scan_cache.py
"""
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


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_cache_never_changes_results(name):
    path = INPUTS[name]
    if not os.access(CLI, os.X_OK):
        pytest.skip("CLI not built: %s" % CLI)
    if not os.path.exists(path):
        pytest.skip("missing %s" % path)
    off = scan(0, path)
    assert off[0] in (0, 1), off[2]
    assert b"\n" in off[1] or name == "benign", "no alerts at all: the comparison would be empty"
    for cache in (512, 1):
        got = scan(cache, path)
        assert got[0] == off[0], "exit code, --scan-cache %d" % cache
        assert got[1] == off[1], "alerts differ, --scan-cache %d" % cache
        assert got[2] == off[2], "summary differs, --scan-cache %d" % cache


def test_scan_cache_option_is_checked():
    if not os.access(CLI, os.X_OK):
        pytest.skip("CLI not built: %s" % CLI)
    p = subprocess.run([CLI, "scan", "--scan-cache", "lots", "-"], input=b"",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, check=False)
    assert p.returncode == 2
    assert b"--scan-cache wants 0.." in p.stderr
