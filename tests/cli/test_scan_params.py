# SPDX-License-Identifier: Apache-2.0
"""Per-parameter fields through `iocwatch scan` (docs/FIELDS.md): a
correlation grouped by a multi-valued field groups by the whole list of
values (shown joined by '&'); value_count counts distinct lists; a
combined access-log line has the query (its parameters), not the cookies.

    /usr/bin/python3 -m pytest tests/cli/test_scan_params.py
"""
import json
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CLI = os.environ.get("IW_CLI", os.path.join(REPO, "build", "iocwatch"))

RULES = """\
title: search request
id: 6d1f6c1e-0000-4000-8000-0000000000e1
name: iw_test_search
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-uri-stem: /search
        cs-uri-query-param-name|exists: true
    condition: selection
level: informational
---
title: same parameter set 3 times
id: 6d1f6c1e-0000-4000-8000-0000000000e2
status: test
correlation:
    type: event_count
    rules: [iw_test_search]
    group-by: [c-ip, cs-uri-query-param-name]
    timespan: 60s
    condition:
        gte: 3
level: medium
---
title: 3 distinct value lists
id: 6d1f6c1e-0000-4000-8000-0000000000e3
status: test
correlation:
    type: value_count
    rules: [iw_test_search]
    group-by: [c-ip]
    timespan: 60s
    condition:
        field: cs-uri-query-param-value
        gte: 3
level: medium
---
title: cookie param
id: 6d1f6c1e-0000-4000-8000-0000000000e4
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-cookie-param-name: debug
    condition: selection
level: low
---
title: query value starts with a quote
id: 6d1f6c1e-0000-4000-8000-0000000000e5
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query-param-value|startswith: "'"
    condition: selection
level: high
"""


def scan(tmp_path, lines, fmt):
    if not os.access(CLI, os.X_OK):
        pytest.skip("%s not built (make cli)" % CLI)
    rules = tmp_path / "r.yml"
    rules.write_text(RULES)
    inp = tmp_path / ("in." + fmt)
    inp.write_text("".join(l + "\n" for l in lines))
    r = subprocess.run([CLI, "scan", "--no-progress", "--jobs", "1", "--format", fmt, "--rules", str(rules),
                        str(inp)], capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 1), r.stderr
    return [json.loads(l) for l in r.stdout.splitlines()]


def req(i, uri, cookie=None):
    d = {"id": "r%d" % i, "method": "GET", "uri": uri, "version": "HTTP/1.1", "client": "192.0.2.9",
         "time": 1764240000 + i, "headers": {"Host": "h"}}
    if cookie:
        d["headers"]["Cookie"] = cookie
    return json.dumps(d)


def test_group_by_and_value_count_on_a_multi_valued_field(tmp_path):
    uris = ["/search?q=a&page=1", "/search?q=b&page=2", "/search?page=3&q=c", "/search?q=d&page=4"]
    alerts = scan(tmp_path, [req(i, u) for i, u in enumerate(uris)], "jsonl")
    corr = [a for a in alerts if a["rule"]["id"].endswith("e2")]
    # q&page three times (the third request's order page&q is another list)
    assert len(corr) == 1, alerts
    assert corr[0]["iocwatch"]["correlation"]["group"] == {"c-ip": "192.0.2.9",
                                                           "cs-uri-query-param-name": "q&page"}
    vc = [a for a in alerts if a["rule"]["id"].endswith("e3")]
    assert len(vc) == 1


def test_combined_log_has_query_parameters_not_cookies(tmp_path):
    lines = ['192.0.2.9 - - [27/Nov/2025:10:40:00 +0000] "GET /x?a=1&id=%27or HTTP/1.1" 200 5 "-" "ua"',
             '192.0.2.9 - - [27/Nov/2025:10:40:01 +0000] "GET /x?id=1%27 HTTP/1.1" 200 5 "-" "ua"']
    got = [(a["iocwatch"]["input"]["line"], a["rule"]["id"][-2:]) for a in scan(tmp_path, lines, "combined")]
    assert got == [(1, "e5")]
    js = scan(tmp_path, [req(0, "/x", cookie="debug=1; s=2"), req(1, "/x", cookie="s=debug")], "jsonl")
    assert [(a["iocwatch"]["input"]["id"], a["rule"]["id"][-2:]) for a in js] == [("r0", "e4")]
