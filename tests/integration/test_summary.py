# SPDX-License-Identifier: Apache-2.0
"""IocWatchSummary On never drops rule ids silently (issue: 40 rules
matched, the summary alert listed 8, nothing said 32 were left out): the
alert lists whole entries while they fit in one alert, then says how many
more matched (iocwatch.rules_omitted, iocwatch.rules_total), and the status
page counts them (rules_omitted, server-wide total_rules_omitted)."""

import uuid

import iwtest
from iwtest import get

N = 40


def rules_yaml():
    docs = []
    for i in range(N):
        docs.append("""\
title: 'IW summary rule {i:02d}: {pad}'
id: 5e500000-0000-4000-8000-0000000000{i:02d}
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query|contains: 'iwsum40'
    condition: selection
level: {level}
""".format(i=i, pad="a long title of an attack class, as rules have them " * 3,
           level="high" if i == 7 else "medium"))
    return "---\n".join(docs)


def test_summary_says_how_many_more(httpd, rsyslog):
    rule = httpd.write_rule("summary40.yml", rules_yaml())
    httpd.ensure("""\
IocWatchRules "{rule}"
IocWatchAlertTarget unix:{sock}
IocWatchSummary On
<Location /iw-status>
  SetHandler iocwatch-status
</Location>
""".format(rule=rule, sock=rsyslog.sock), "event")
    n = uuid.uuid4().hex[:10]
    m = rsyslog.mark()
    iwtest.http_get(httpd.port, "/x?n=%s&q=iwsum40" % n)
    (a,) = rsyslog.wait_alerts(m, 1, lambda a: n in (get(a, "url.original") or ""),
                               settle=0.8)
    assert get(a, "rule.id") == "5e500000-0000-4000-8000-000000000007"   # highest level
    listed = [r["id"] for r in get(a, "iocwatch.rules")]
    omitted = get(a, "iocwatch.rules_omitted")
    assert 0 < len(listed) < N, listed
    assert omitted == N - len(listed)
    assert get(a, "iocwatch.rules_total") == N
    assert len(set(listed)) == len(listed)
    st = iwtest.settled_status(httpd.port, lambda s: s.get("total_rules_omitted", 0) >= omitted)
    assert st["total_rules_omitted"] == omitted, st
