# SPDX-License-Identifier: Apache-2.0
"""The status page is served only where server config enabled it (issue 14,
item 6): `SetHandler iocwatch-status` (or `AddHandler`) in an .htaccess file
does not expose it past the admin's `Require local`; a server-config
`<Location>` keeps working also where an .htaccess file applies."""

import os

import pytest

import iwtest

REFUSED = r"iocwatch: status page refused for /"


def body(rs, h):
    for d, ht in (("ht-attack", "SetHandler iocwatch-status\n"),
                  ("ht-add", "AddHandler iocwatch-status .html\n"),
                  ("ht-ok", "AddType text/plain .iwtxt\n")):
        os.makedirs(os.path.join(h.htdocs, d), exist_ok=True)
        os.chmod(os.path.join(h.htdocs, d), 0o755)
        h.write_doc(d + "/.htaccess", ht)
        h.write_doc(d + "/index.html", "plain page\n")
    return """\
IocWatchRules "{rules}/basic.yml"
IocWatchAlertTarget unix:{sock}
<Location /iw-status>
  SetHandler iocwatch-status
  Require local
</Location>
<Directory "{docs}">
  AllowOverride FileInfo
</Directory>
<Location /ht-ok/status>
  SetHandler iocwatch-status
</Location>
<VirtualHost 127.0.0.1:{port}>
  ServerName vh.test
  <If "%{{QUERY_STRING}} == 'st'">
    SetHandler iocwatch-status
  </If>
</VirtualHost>
""".format(rules=iwtest.TEST_RULES, sock=rs.sock, docs=h.htdocs, port=h.port)


@pytest.fixture
def server(httpd, rsyslog):
    httpd.ensure(body(rsyslog, httpd), "event")
    return httpd


def get(h, path, host="127.0.0.1"):
    st, resp = iwtest.http_get(h.port, path, {"Host": host})
    return st, resp.split(b"\r\n\r\n", 1)[-1]


def test_server_config_location_serves_the_page(server):
    st, b = get(server, "/iw-status")
    assert st == 200 and b"enabled: 1" in b


def test_htaccess_sethandler_does_not_expose_the_page(server, errlog):
    errlog.expect(REFUSED + r"ht-attack/")
    st, b = get(server, "/ht-attack/")
    assert st == 403, b[:300]
    assert b"enabled:" not in b
    assert any("status page refused for /ht-attack/" in ln for ln in errlog.new_lines())


def test_htaccess_addhandler_does_not_expose_the_page(server, errlog):
    errlog.expect(REFUSED + r"ht-add/")
    st, b = get(server, "/ht-add/index.html")
    assert st == 403, b[:300]
    assert b"enabled:" not in b


def test_location_under_an_htaccess_directory(server):
    """The admin's <Location> in a directory with an .htaccess: served."""
    st, b = get(server, "/ht-ok/status")
    assert st == 200 and b"enabled: 1" in b
    st, b = get(server, "/ht-ok/index.html")
    assert st == 200 and b"plain page" in b


def test_if_section_in_a_vhost(server):
    st, b = get(server, "/anything?st", host="vh.test")
    assert st == 200 and b"enabled: 1" in b
    st, b = get(server, "/index.html?x", host="vh.test")
    assert st == 200 and b"hello" in b
