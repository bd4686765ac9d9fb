# SPDX-License-Identifier: Apache-2.0
"""time-taken is measured when a rule reads it: the module reads the clock
for it only then (iw_engine_reads_field, iw_corr_reads_field), so a rule on
time-taken must still see it set on every request."""

import uuid

import iwtest
from iwtest import get

RULE = """\
title: IW time-taken is known
id: 7b0c5a55-0000-4000-8000-0000000000f1
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query|contains: 'iwtt'
        time-taken|gte: 0
    condition: selection
level: high
"""


def test_rule_on_time_taken_sees_it(httpd, rsyslog):
    rule = httpd.write_rule("timetaken.yml", RULE)
    httpd.ensure("""\
IocWatchRules "{rule}"
IocWatchAlertTarget unix:{sock}
""".format(rule=rule, sock=rsyslog.sock), "event")
    n = uuid.uuid4().hex[:10]
    m = rsyslog.mark()
    iwtest.http_get(httpd.port, "/x?n=%s&q=iwtt" % n)
    (a,) = rsyslog.wait_alerts(m, 1, lambda a: n in (get(a, "url.original") or ""),
                               settle=0.8)
    assert get(a, "rule.id") == "7b0c5a55-0000-4000-8000-0000000000f1"
