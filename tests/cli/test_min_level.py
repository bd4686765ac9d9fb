# SPDX-License-Identifier: Apache-2.0
"""`--min-level` filters alerts, never the rules that feed correlations
(issue: with `--min-level low` the informational feeder rules of the shipped
pack were not compiled, so 404 probing and brute force never fired)."""
import json
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CLI = os.environ.get("IW_CLI", os.path.join(REPO, "build", "iocwatch"))
PACK = os.path.join(REPO, "conf", "rules")
PROBING = "3845d349-df54-417c-a3ff-025612db1b32"      # >= 10 distinct 404 paths / 10 s
FEEDER = "aa44350e-bdde-498a-b9b8-8ab0794d78dc"       # informational, generate: false

RULES = """\
title: IW minlevel feeder (informational, alerts itself)
id: 5e5e5e5e-0000-4000-8000-000000000001
name: iw_ml_feed
logsource:
    category: webserver
detection:
    sel:
        cs-uri-stem|startswith: '/iwml/'
    condition: sel
level: informational
---
title: IW minlevel correlation (high)
id: 5e5e5e5e-0000-4000-8000-000000000002
correlation:
    type: event_count
    rules: [iw_ml_feed]
    generate: true
    group-by: [c-ip]
    timespan: 60s
    condition:
        gte: 3
level: high
---
title: IW minlevel correlation (low)
id: 5e5e5e5e-0000-4000-8000-000000000003
correlation:
    type: event_count
    rules: [iw_ml_feed]
    group-by: [c-ip]
    timespan: 60s
    condition:
        gte: 3
level: low
"""


def log_lines(n, path_fmt, status):
    return "".join('203.0.113.7 - - [06/Dec/2026:10:00:%02d +0000] "GET %s HTTP/1.1" %d 196 "-" "curl/8"\n'
                   % (i * 30 // n, path_fmt % i, status) for i in range(n))


def scan(tmp_path, rules, text, *args):
    log = tmp_path / "access.log"
    log.write_text(text)
    env = dict(os.environ, IOCWATCH_CACHE_DIR=str(tmp_path / "cache"))
    r = subprocess.run([CLI, "scan", "--no-progress", "--jobs", "1", "--rules", rules]
                       + list(args) + [str(log)], capture_output=True, text=True, env=env,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    return [json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]


def rule_ids(alerts):
    return [a["rule"]["id"] for a in alerts]


def test_shipped_pack_probing_fires_with_min_level_low(tmp_path):
    # 30 404s in 1 s (distinct non-static paths) from one client
    text = "".join('203.0.113.7 - - [06/Dec/2026:10:00:00 +0000] "GET /iwprobe/p%d HTTP/1.1" 404 196 "-" "curl/8"\n'
                   % i for i in range(30))
    ids = rule_ids(scan(tmp_path, PACK, text, "--min-level", "low"))
    assert ids.count(PROBING) >= 1, ids
    assert FEEDER not in ids


def test_min_level_filters_alerts_not_feeders(tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    text = log_lines(5, "/iwml/%d", 200)
    every = rule_ids(scan(tmp_path, str(rules), text))
    assert every.count("5e5e5e5e-0000-4000-8000-000000000001") == 5
    assert every.count("5e5e5e5e-0000-4000-8000-000000000002") == 1
    assert every.count("5e5e5e5e-0000-4000-8000-000000000003") == 1
    # --min-level medium: the informational feeder and the low correlation
    # do not alert, the high correlation fed by the feeder still does
    ids = rule_ids(scan(tmp_path, str(rules), text, "--min-level", "medium"))
    assert ids == ["5e5e5e5e-0000-4000-8000-000000000002"], ids
