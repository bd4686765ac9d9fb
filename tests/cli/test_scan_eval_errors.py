# SPDX-License-Identifier: Apache-2.0
"""`iocwatch scan` and evaluation errors (issue: a regex past a PCRE2 limit
counted as "no match"): a padded request still alerts, one past the match
limit gives an alert with iocwatch.evaluation_error (once per rule, client
and minute), and the summary lists the evaluation errors per rule; the
same serial and with worker threads."""
import json
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CLI = os.environ.get("IW_CLI", os.path.join(REPO, "build", "iocwatch"))
RULES = os.path.join(REPO, "tests", "fuzz", "rules", "eval.yml")
PAD = "7a5e0f00-0000-4000-8000-0000000000f1"
BT = "7a5e0f00-0000-4000-8000-0000000000f3"


def req(i, uri, client, t):
    return json.dumps({"id": i, "method": "GET", "uri": uri, "version": "HTTP/1.1",
                       "headers": {"User-Agent": "curl/8"}, "status": 200,
                       "client": client, "time": t})


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_scan_reports_evaluation_errors(tmp_path, jobs):
    t = 1764600000
    lines = [req("pad", "/?q=" + "ab" * 1500 + "x", "192.0.2.1", t)]
    # past the match limit: three times from one client in one minute, once
    # from another client, once a minute later
    bt = "/?" + "a" * 40 + "b"
    lines += [req("bt%d" % k, bt, "192.0.2.1", t + k) for k in range(3)]
    lines += [req("bt-other", bt, "192.0.2.2", t + 5), req("bt-later", bt, "192.0.2.1", t + 70)]
    path = tmp_path / "reqs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    r = subprocess.run([CLI, "scan", "--no-progress", "--jobs", jobs, "--format", "jsonl",
                        "--rules", RULES, str(path)], capture_output=True, text=True,
                       env=dict(os.environ, IOCWATCH_CACHE_DIR=str(tmp_path / "cache")))
    assert r.returncode == 0, r.stderr
    alerts = [json.loads(x) for x in r.stdout.splitlines()]
    pad = [a for a in alerts if a["iocwatch"]["input"]["id"] == "pad"]
    assert [a["rule"]["id"] for a in pad] == [PAD]            # evaluated: it matches
    errs = [a for a in alerts if "evaluation_error" in a["iocwatch"]]
    assert sorted(a["iocwatch"]["input"]["id"] for a in errs) == ["bt-later", "bt-other", "bt0"]
    for a in errs:
        assert a["rule"]["id"] == BT
        e = a["iocwatch"]["evaluation_error"]
        assert e["reason"] == "regex match limit" and e["field"] == "cs-uri-query"
        assert a["url"]["original"] == bt
    assert "5 evaluation error(s) in 1 rule(s)" in r.stderr, r.stderr
    assert "       5  %s" % BT in r.stderr
