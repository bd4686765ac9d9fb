# SPDX-License-Identifier: Apache-2.0
"""Form bodies (issue 17, item 5): what the handler itself reads of an
application/x-www-form-urlencoded body is inspected (cs-body,
cs-body-decoded); a body the handler never reads is never read by the
module (nor waited for); bytes past IocWatchBodyLimit are counted into
iw-truncated, never silently dropped.  mod_cgi (prefork) as the handler
that reads the body."""

import os
import socket

import pytest

import iwtest
from iwtest import by_url, get, nonce

R_BODY = "7b0c5a55-0000-4000-8000-0000000001b1"
R_RAWBODY = "7b0c5a55-0000-4000-8000-0000000001b2"
R_TRUNC = "7b0c5a55-0000-4000-8000-0000000001b3"

RULES = """\
title: IW body - SQL injection in the decoded form body
id: {body}
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-body-decoded|contains: "' union select "
    condition: selection
level: high
---
title: IW body - JSON marker in the raw body
id: {raw}
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-body|contains: '"iwjson":'
    condition: selection
level: high
---
title: IW body - request not inspected in full
id: {trunc}
status: test
logsource:
    category: webserver
detection:
    selection:
        iw-truncated|gt: 0
    condition: selection
level: medium
""".format(body=R_BODY, raw=R_RAWBODY, trunc=R_TRUNC)

NOREAD_LUA = """function handle(r)
    r.content_type = "text/plain"
    r:puts("noread\\n")
    return apache2.OK
end
"""

def body(rs, h):
    rules = h.write_rule("body.yml", RULES)
    cgi = iwtest.reading_cgi(h, "login.sh")
    h.write_doc("noread.lua", NOREAD_LUA)
    return """\
IocWatchRules "{rules}"
IocWatchAlertTarget unix:{sock}
ScriptAlias /cgi/ "{cgi}/"
ScriptAlias /small/ "{cgi}/"
<Directory "{cgi}">
  Require all granted
</Directory>
<Location /small/>
  IocWatchBodyLimit 1K
</Location>
<Location /iw-status>
  SetHandler iocwatch-status
</Location>
<Files "noread.lua">
  SetHandler lua-script
</Files>
""".format(rules=rules, sock=rs.sock, cgi=cgi)


@pytest.fixture
def server(httpd, rsyslog):
    httpd.ensure(body(rsyslog, httpd), "prefork", modules=("cgi", "lua"))
    return httpd


def post(h, target, data, ctype="application/x-www-form-urlencoded"):
    head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\n"
            "Content-Length: %d\r\nConnection: close\r\n\r\n" % (target, ctype, len(data)))
    return iwtest.http_raw(h.port, head.encode() + data.encode())[0]


def rule_ids(alerts):
    return sorted(get(a, "rule.id") for a in alerts)


SQLI = "user=admin%27+UNION+SELECT+password%2C1+FROM+users--&pass=x"


def test_form_body_read_by_the_handler_alerts(server, rsyslog):
    n = nonce()
    m = rsyslog.mark()
    assert post(server, "/cgi/login.sh?n=" + n, SQLI.replace("UNION+SELECT", "union+select")) == 200
    assert rule_ids(rsyslog.wait_alerts(m, 1, by_url(n))) == [R_BODY]


def test_json_body_raw_field(server, rsyslog):
    n = nonce()
    m = rsyslog.mark()
    assert post(server, "/cgi/login.sh?n=" + n, '{"iwjson": 1}', "application/json") == 200
    assert rule_ids(rsyslog.wait_alerts(m, 1, by_url(n))) == [R_RAWBODY]


def test_body_the_handler_never_reads_is_never_read(server, rsyslog):
    """A mod_lua handler that never reads the body.  With Expect: 100-continue
    the client sends the body only when something asks for it: the
    response (with httpd's own 100 Continue for discarding it afterwards)
    comes without the module waiting for or reading the body, and the SQLi
    in it gives no alert; the same body to the CGI does."""
    n1, n2 = nonce(), nonce()
    m = rsyslog.mark()
    payload = SQLI.replace("UNION+SELECT", "union+select").encode()
    head = ("POST /noread.lua?n=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n"
            "Expect: 100-continue\r\nConnection: close\r\n\r\n" % (n1, len(payload)))
    with socket.create_connection(("127.0.0.1", server.port), 10) as s:
        s.sendall(head.encode())
        first = s.recv(65536)
        assert first.startswith(b"HTTP/1.1 "), first[:100]
        if first.startswith(b"HTTP/1.1 100"):
            s.sendall(payload)          # httpd discards it after the handler
        resp = first
        while True:
            b = s.recv(65536)
            if not b:
                break
            resp += b
    assert b"200 OK" in resp and b"noread" in resp, resp[:300]
    assert post(server, "/cgi/login.sh?n=" + n2, payload.decode()) == 200
    rsyslog.wait_alerts(m, 1, by_url(n2))
    assert rsyslog.quiet(m, by_url(n1), wait=0.5) == []


def test_body_over_the_limit_is_counted_and_alerts(server, rsyslog):
    """IocWatchBodyLimit 1K: the first KiB is inspected, the rest counted
    into iw-truncated (alert) and inspect_truncated."""
    before = iwtest.status_page(server.port)["total_inspect_truncated"]
    n = nonce()
    m = rsyslog.mark()
    data = SQLI.replace("UNION+SELECT", "union+select") + "&pad=" + "p" * 5000
    assert post(server, "/small/login.sh?n=" + n, data) == 200
    assert rule_ids(rsyslog.wait_alerts(m, 2, by_url(n))) == sorted([R_BODY, R_TRUNC])
    st = iwtest.settled_status(server.port,
                               lambda s: s["total_inspect_truncated"] > before)
    assert st["total_inspect_truncated"] == before + 1


def test_body_limit_directive_values(httpd):
    def conf(extra):
        return httpd.render('IocWatchRules "%s/basic.yml"\n%s' % (iwtest.TEST_RULES, extra),
                            "prefork")
    rc, out = httpd.configtest(conf("IocWatchBodyLimit lots\n"))
    assert rc != 0 and "IocWatchBodyLimit: expected Off or a size up to 64M" in out, out
    rc, out = httpd.configtest(conf("<Location /x>\nIocWatchBodyLimit Off\n</Location>\n"))
    assert rc == 0, out


SQLI_BOOL = "b834355d-f4bb-42dc-81bf-31f8de6bed60"   # conf/rules/sqli/sqli_bool.yml


def test_shipped_pack_reads_the_form_body(httpd, rsyslog):
    """The shipped pack (conf/rules): a tautology POSTed to a login form
    (nothing in the URL) alerts with the pack's SQLi rule; the same form
    with ordinary credentials does not."""
    conf = body(rsyslog, httpd).replace(
        'IocWatchRules "%s"' % os.path.join(httpd.dir, "rules", "body.yml"),
        'IocWatchRules "%s"' % os.path.join(iwtest.REPO, "conf", "rules"))
    assert os.path.join(iwtest.REPO, "conf", "rules") in conf
    httpd.ensure(conf, "prefork", modules=("cgi", "lua"))
    n_bad, n_ok = nonce(), nonce()
    m = rsyslog.mark()
    assert post(httpd, "/cgi/login.sh?n=" + n_ok, "username=alice&password=S3cret%21&remember=on") == 200
    assert post(httpd, "/cgi/login.sh?n=" + n_bad, "username=admin%27+or+%271%27%3D%271&password=x") == 200
    assert SQLI_BOOL in rule_ids(rsyslog.wait_alerts(m, 1, lambda a: by_url(n_bad)(a) and
                                                     get(a, "rule.id") == SQLI_BOOL))
    assert SQLI_BOOL not in rule_ids(rsyslog.alerts(m, by_url(n_ok)))
