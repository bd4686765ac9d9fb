# SPDX-License-Identifier: Apache-2.0
"""Per-parameter fields (issue 17, item 2) on a real httpd: a rule anchored
on one query parameter value, one cookie and one POSTed form-body
parameter alerts with that parameter as its evidence, and stays quiet when
the same bytes are elsewhere in the request (also in a JSON body); the access log of the same
requests scanned by `iocwatch scan` gives the same query-parameter alerts
(a combined log has the query, not the cookies or the body)."""

import json
import os
import subprocess

import pytest

import iwtest
from iwtest import by_url, get, nonce

R_QUOTE = "7b0c5a55-0000-4000-8000-0000000001c1"
R_COOKIE = "7b0c5a55-0000-4000-8000-0000000001c2"
R_BODY = "7b0c5a55-0000-4000-8000-0000000001c3"
R_RFI = "7b0c5a55-0000-4000-8000-0000000001c4"

RULES = """\
title: IW param - a query parameter value starting with a quote
id: {quote}
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query-param-value|startswith: "'"
    condition: selection
level: high
---
title: IW param - debug cookie set
id: {cookie}
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-cookie-param: 'iwdebug=on air'
    condition: selection
level: medium
---
title: IW param - form field 'user' is a tautology
id: {body}
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-body-param|re|i: "^user='.*\\\\bor\\\\b"
    condition: selection
level: high
---
title: IW param - a whole parameter value is a remote URL
id: {rfi}
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query-param-value|re|i: '^(?:https?|ftp)://'
    condition: selection
level: high
""".format(quote=R_QUOTE, cookie=R_COOKIE, body=R_BODY, rfi=R_RFI)

def conf(rs, h):
    rules = h.write_rule("params.yml", RULES)
    cgi = iwtest.reading_cgi(h, "form.sh")
    return """\
IocWatchRules "{rules}"
IocWatchAlertTarget unix:{sock}
ScriptAlias /cgi/ "{cgi}/"
<Directory "{cgi}">
  Require all granted
</Directory>
""".format(rules=rules, sock=rs.sock, cgi=cgi)


@pytest.fixture
def server(httpd, rsyslog):
    httpd.ensure(conf(rsyslog, httpd), "prefork", modules=("cgi",))
    return httpd


def evidence(a):
    return [(m.get("field"), m.get("value")) for m in (get(a, "iocwatch.matches") or [])]


def post(h, target, data, ctype="application/x-www-form-urlencoded", headers=""):
    head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n%s"
            "Content-Length: %d\r\nConnection: close\r\n\r\n" % (target, ctype, headers, len(data)))
    return iwtest.http_raw(h.port, head.encode() + data.encode())[0]


def test_query_parameter(server, rsyslog):
    n1, n2, n3 = nonce(), nonce(), nonce()
    m = rsyslog.mark()
    assert iwtest.http_get(server.port, "/x?n=%s&id=%%27+or+%%271%%27%%3D%%271" % n1)[0] == 404
    # the quote inside a value, or in the path: no parameter starts with it
    assert iwtest.http_get(server.port, "/x?n=%s&name=O%%27Brien" % n2)[0] == 404
    assert iwtest.http_get(server.port, "/it%%27s?n=%s" % n3)[0] == 404
    a = rsyslog.wait_alerts(m, 1, by_url(n1))
    assert [get(x, "rule.id") for x in a] == [R_QUOTE]
    assert evidence(a[0]) == [("cs-uri-query-param-value", "' or '1'='1")]
    assert rsyslog.quiet(m, lambda x: by_url(n2)(x) or by_url(n3)(x), wait=0.5) == []


def test_cookie_parameter(server, rsyslog):
    n1, n2 = nonce(), nonce()
    m = rsyslog.mark()
    assert iwtest.http_get(server.port, "/c?n=" + n1,
                           {"Cookie": 'sid=abc; iwdebug="on%20air"; lang=en'})[0] == 404
    # the same name and value, but not in one cookie (an item on the name
    # field AND one on the value field would fire here: the pair field
    # ties them)
    assert iwtest.http_get(server.port, "/c?n=" + n2,
                           {"Cookie": "sid=abc; iwdebug=off; note=on air"})[0] == 404
    a = rsyslog.wait_alerts(m, 1, by_url(n1))
    assert [get(x, "rule.id") for x in a] == [R_COOKIE]
    assert evidence(a[0]) == [("cs-cookie-param", "iwdebug=on air")]
    assert rsyslog.quiet(m, by_url(n2), wait=0.5) == []


def test_form_body_parameter(server, rsyslog):
    n1, n2 = nonce(), nonce()
    m = rsyslog.mark()
    assert post(server, "/cgi/form.sh?n=" + n1, "pass=x&user=%27+OR+1%3D1--") == 200
    # the tautology in another field
    assert post(server, "/cgi/form.sh?n=" + n2, "user=alice&comment=%27+or+1%3D1") == 200
    a = rsyslog.wait_alerts(m, 1, by_url(n1))
    assert [get(x, "rule.id") for x in a] == [R_BODY]
    assert evidence(a[0]) == [("cs-body-param", "user=' OR 1=1--")]
    assert rsyslog.quiet(m, by_url(n2), wait=0.5) == []


def test_json_body_parameter(server, rsyslog):
    """A JSON body's leaves are parameters named by their key."""
    n1, n2 = nonce(), nonce()
    m = rsyslog.mark()
    assert post(server, "/cgi/form.sh?n=" + n1, '{"login": {"user": "\' or 1=1 -- ", "remember": true}}',
                "application/json") == 200
    assert post(server, "/cgi/form.sh?n=" + n2, '{"user": "alice", "note": "\' or 1=1"}',
                "application/json") == 200
    a = rsyslog.wait_alerts(m, 1, by_url(n1))
    assert [get(x, "rule.id") for x in a] == [R_BODY]
    assert evidence(a[0]) == [("cs-body-param", "user=' or 1=1 -- ")]
    assert rsyslog.quiet(m, by_url(n2), wait=0.5) == []


def test_access_log_scan_gives_the_same_query_alerts(server, rsyslog, tmp_path):
    """The module's alerts and `iocwatch scan` of httpd's own combined
    access log agree on the query-parameter rules, request by request."""
    tag = nonce()
    targets = ["/p?t=%s&i=%d&%s" % (tag, i, q) for i, q in enumerate([
        "id=%27+or+1%3D1", "id=1%27", "page=http%3A%2F%2Fevil.example%2Fx.txt",
        "page=%2Fgo%3Fu%3Dhttp%3A%2F%2Fevil.example", "a=1&b=%2527x", "u=ftp://h/%27",
        "q=x&q=%27", "plain=1"])]
    m = rsyslog.mark()
    for t in targets:
        assert iwtest.http_get(server.port, t)[0] == 404
    iwtest.wait_until(lambda: sum(tag in ln for ln in server.acclog_lines()) == len(targets), 10,
                      what="access log")
    mod = {(get(a, "url.original"), get(a, "rule.id"))
           for a in rsyslog.quiet(m, lambda a: tag in (get(a, "url.original") or ""), wait=1.0)}
    log = tmp_path / "access.log"
    log.write_text("".join(ln + "\n" for ln in server.acclog_lines() if tag in ln))
    r = subprocess.run([iwtest.CLI, "scan", "--no-progress", "--format", "combined", "--rules",
                        os.path.join(server.dir, "rules", "params.yml"), str(log)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 1), r.stderr
    cli = {(get(json.loads(ln), "url.original"), get(json.loads(ln), "rule.id"))
           for ln in r.stdout.splitlines()}
    if mod != cli:
        # alerts leave through the sender after the access-log line: on a
        # loaded machine a few may still be on their way (bounded wait; a
        # real difference stays and is shown)
        def now():
            return {(get(a, "url.original"), get(a, "rule.id"))
                    for a in rsyslog.alerts(m, lambda a: tag in (get(a, "url.original") or ""))}
        try:
            iwtest.wait_until(lambda: now() == cli, 10, step=0.2, what="the module's alerts")
        except AssertionError:
            pass
        mod = now()
    assert len(mod) >= 5, mod
    assert mod == cli, "module-only: %s\ncli-only: %s" % (sorted(mod - cli), sorted(cli - mod))
