# SPDX-License-Identifier: Apache-2.0
"""A regex that cannot be evaluated raises an alert instead of hiding one
(issue: `return rc >= 0` counted a PCRE2 limit as "no match"; padding a
value to 2,000 bytes silenced `^q=(a|b)*x`, a 40-character run
`(a|aa)+\\1$`).  On a real httpd: the padded request still alerts, the
one past the match limit gives an evaluation-error alert carrying the
request, once per rule, client and minute for the whole server, and the
status page counts it
(this process per rule, server-wide total, Prometheus per rule)."""

import uuid

import iwtest
from iwtest import get

RULES = """\
title: IW nested repeat on the query
id: 7a5e0e00-0000-4000-8000-000000000001
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query|re: '^q=(a|b)*x'
    condition: selection
level: high
---
title: IW exponential backtracking
id: 7a5e0e00-0000-4000-8000-000000000002
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query|re: '(a|aa)+\\1$'
    condition: selection
level: high
"""
PAD_ID = "7a5e0e00-0000-4000-8000-000000000001"
BT_ID = "7a5e0e00-0000-4000-8000-000000000002"


def test_padding_raises_an_alert(httpd, rsyslog):
    rule = httpd.write_rule("eval_errors.yml", RULES)
    httpd.ensure("""\
IocWatchRules "{rule}"
IocWatchAlertTarget unix:{sock}
<Location /iw-status>
  SetHandler iocwatch-status
</Location>
""".format(rule=rule, sock=rsyslog.sock), "event")
    n = uuid.uuid4().hex[:10]
    m = rsyslog.mark()
    # 3,000 bytes: past PCRE2's default JIT stack, within the module's
    # ("ab": no long run of a's for the other rule)
    iwtest.http_get(httpd.port, "/pad-%s?q=%sx" % (n, "ab" * 1500))
    (a,) = rsyslog.wait_alerts(m, 1, lambda a: n in (get(a, "url.original") or ""),
                               settle=0.5)
    assert get(a, "rule.id") == PAD_ID
    assert get(a, "iocwatch.evaluation_error") is None

    # past the match limit: no silent "no match", an alert that says so,
    # with the request; six times (three on one connection, three on
    # connections of their own, so several threads serve them): each
    # counted, alerted once per rule, client and minute for the server
    m = rsyslog.mark()
    target = "/bt-%s?%sb" % (n, "a" * 40)
    iwtest.http_raw(httpd.port, (("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % target) * 2
                                 + "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                                 % target).encode())
    for _ in range(3):
        iwtest.http_get(httpd.port, target)
    alerts = rsyslog.wait_alerts(m, 1, lambda a: n in (get(a, "url.original") or ""),
                                 settle=1.0)
    assert len(alerts) == 1, alerts
    e = alerts[0]
    assert get(e, "rule.id") == BT_ID
    assert get(e, "iocwatch.evaluation_error.reason") == "regex match limit"
    assert get(e, "iocwatch.evaluation_error.field") == "cs-uri-query"
    assert get(e, "iocwatch.evaluation_error.value").startswith("aaaa")
    assert get(e, "url.original") == target
    assert get(e, "source.ip") == "127.0.0.1"

    st = iwtest.settled_status(httpd.port, lambda s: s.get("total_eval_errors", 0) >= 6)
    assert st["total_eval_errors"] == 6, st
    st, resp = iwtest.http_get(httpd.port, "/iw-status?prometheus")
    assert ('iocwatch_rule_eval_errors_total{rule="%s",level="high"} 6' % BT_ID).encode() in resp
    # per rule on the status page of the process that served the requests
    seen = {}
    for _ in range(40):
        s = iwtest.status_page(httpd.port)
        if "eval_errors_rule_" + BT_ID in s:
            seen = s
            break
    # (the children share the six between them: the one that served the
    # keep-alive connection counted at least its three)
    assert 1 <= seen.get("eval_errors_rule_" + BT_ID, 0) <= 6, seen
    assert "eval_errors_rule_" + PAD_ID not in seen
