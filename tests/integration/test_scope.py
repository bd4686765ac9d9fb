# SPDX-License-Identifier: Apache-2.0
"""Configuration scope: per-vhost and per-location On/Off, vhost-specific
rules, per-location rule exclusion, .htaccess refused, `httpd -t` naming
the broken rule's file:line, graceful restart applying changed rules."""

import os
import re
import subprocess

import pytest

import iwtest
from iwtest import by_url, get, nonce

RULE_A = "7b0c5a55-0000-4000-8000-00000000000a"
RULE_B = "7b0c5a55-0000-4000-8000-00000000000b"
RULE_C = "7b0c5a55-0000-4000-8000-00000000000c"
RULE_V = "7b0c5a55-0000-4000-8000-0000000000f1"

VHOST_RULE = iwtest.marker_rule("IW test V - vhost-only rule", RULE_V, "iwvhost-v")


def scope_body(rs, h):
    vrule = h.write_rule("vhost.yml", VHOST_RULE)
    os.makedirs(os.path.join(h.htdocs, "ht"), exist_ok=True)
    os.chmod(os.path.join(h.htdocs, "ht"), 0o755)
    return """\
IocWatchRules "{rules}/basic.yml"
IocWatchAlertTarget unix:{sock}
<Location /iw-status>
  SetHandler iocwatch-status
</Location>
<Location /off>
  IocWatch Off
</Location>
<Location /off/on-again>
  IocWatch On
</Location>
<Location /no-a>
  IocWatchExcludeRule 7b0c5a55-0000-4000-8000-00000000000a
</Location>
<Location /no-a/no-b>
  IocWatchExcludeRule 7b0c5a55-0000-4000-8000-00000000000b
</Location>
<Directory "{docs}/ht">
  AllowOverride All
</Directory>
<VirtualHost 127.0.0.1:{port}>
  ServerName main.test
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
  ServerName quiet.test
  IocWatch Off
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
  ServerName own.test
  IocWatchRules "{vrule}"
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
  ServerName summary.test
  IocWatchSummary On
</VirtualHost>
""".format(rules=iwtest.TEST_RULES, sock=rs.sock, docs=h.htdocs, port=h.port,
           vrule=vrule)


@pytest.fixture
def server(httpd, rsyslog):
    httpd.ensure(scope_body(rsyslog, httpd), "event")
    return httpd


def attack(h, path, n, host="main.test"):
    """Request matching rules A (query) and B (user agent)."""
    return iwtest.http_get(h.port, "%s?n=%s&q=iwattack-a&x=iwvhost-v" % (path, n),
                           {"Host": host, "User-Agent": "iwscanner-b"})[0]


def rule_ids(alerts):
    return sorted(get(a, "rule.id") for a in alerts)


def test_location_off_and_on_again(server, rsyslog):
    n1, n2, n3 = nonce(), nonce(), nonce()
    m = rsyslog.mark()
    attack(server, "/off/x", n1)
    attack(server, "/off/on-again/x", n2)
    attack(server, "/on/x", n3)
    assert rule_ids(rsyslog.wait_alerts(m, 2, by_url(n2))) == [RULE_A, RULE_B]
    assert rule_ids(rsyslog.wait_alerts(m, 2, by_url(n3))) == [RULE_A, RULE_B]
    assert rsyslog.alerts(m, by_url(n1)) == []


def test_vhost_off(server, rsyslog):
    n1, n2 = nonce(), nonce()
    m = rsyslog.mark()
    attack(server, "/x", n1, host="quiet.test")
    attack(server, "/x", n2, host="main.test")
    rsyslog.wait_alerts(m, 2, by_url(n2))
    assert rsyslog.alerts(m, by_url(n1)) == []


def test_vhost_specific_rules(server, rsyslog):
    # own.test has its own engine: rule V only, not the main server's A/B
    n1, n2 = nonce(), nonce()
    m = rsyslog.mark()
    attack(server, "/x", n1, host="own.test")
    attack(server, "/x", n2, host="main.test")
    assert rule_ids(rsyslog.wait_alerts(m, 1, by_url(n1))) == [RULE_V]
    assert rule_ids(rsyslog.wait_alerts(m, 2, by_url(n2))) == [RULE_A, RULE_B]
    st = iwtest.status_page(server.port)
    assert st["engines"] == 2


def test_location_exclusions_accumulate(server, rsyslog):
    n1, n2 = nonce(), nonce()
    m = rsyslog.mark()
    attack(server, "/no-a/x", n1)
    attack(server, "/no-a/no-b/x", n2)
    # /no-a/no-b excludes A (inherited) and B: the request of n2 alerts
    # nothing; a request with the C marker proves the location is watched
    iwtest.http_get(server.port, "/no-a/no-b/iwpath-c/?n=%s&q=iwattack-a" % n2,
                    {"Host": "main.test", "User-Agent": "iwscanner-b"})
    assert rule_ids(rsyslog.wait_alerts(m, 1, by_url(n1))) == [RULE_B]
    assert rule_ids(rsyslog.wait_alerts(m, 1, by_url(n2))) == [RULE_C]


def test_summary_mode_one_alert_per_request(server, rsyslog):
    n = nonce()
    m = rsyslog.mark()
    iwtest.http_get(server.port, "/iwpath-c/?n=%s&q=iwattack-a" % n,
                    {"Host": "summary.test", "User-Agent": "iwscanner-b"})
    (a,) = rsyslog.wait_alerts(m, 1, by_url(n), settle=0.8)
    assert get(a, "rule.id") == RULE_A                  # highest level first
    text = str(a)
    for rid in (RULE_A, RULE_B, RULE_C):
        assert rid in text, "summary lists every matching rule"


@pytest.mark.parametrize("directive", [
    "IocWatch Off",
    "IocWatchRules /dev/null",
    "IocWatchExcludeRule 7b0c5a55-0000-4000-8000-00000000000a",
    "IocWatchAlertTarget udp://127.0.0.1:9",
])
def test_htaccess_refused(server, rsyslog, errlog, directive):
    errlog.expect(r"\.htaccess: %s not allowed here" % directive.split()[0])
    server.write_doc("ht/.htaccess", directive + "\n")
    server.write_doc("ht/page.html", "hi\n")
    n = nonce()
    m = rsyslog.mark()
    st = attack(server, "/ht/page.html", n)
    assert st == 500
    # monitoring was not switched off nor changed by the .htaccess attempt
    assert rule_ids(rsyslog.wait_alerts(m, 2, by_url(n))) == [RULE_A, RULE_B]
    lines = [l for l in errlog.new_lines() if "not allowed here" in l]
    assert lines, "httpd did not refuse the directive"


BROKEN = [
    # (file content, expected line, what)
    ("title: broken condition\nid: 7b0c5a55-0000-4000-8000-0000000000b1\n"
     "logsource:\n    category: webserver\ndetection:\n    sel:\n"
     "        cs-uri-query|contains: x\n    condition: sel and nothere\n"
     "level: high\n", 8, "unknown selection"),
    ("title: broken yaml\nid: 7b0c5a55-0000-4000-8000-0000000000b2\n"
     "logsource:\n    category: webserver\ndetection:\n    sel:\n"
     "        cs-uri-query|contains: [x\n    condition: sel\n", (7, 8), "yaml"),
    ("title: broken regex\nid: 7b0c5a55-0000-4000-8000-0000000000b3\n"
     "logsource:\n    category: webserver\ndetection:\n    sel:\n"
     "        cs-uri-query|re: 'a(b'\n    condition: sel\nlevel: high\n", 7,
     "regex"),
]


@pytest.mark.parametrize("content,line,what", BROKEN, ids=[b[2] for b in BROKEN])
def test_configtest_names_broken_rule(server, rsyslog, content, line, what):
    bad = server.write_rule("broken-%s.yml" % what.replace(" ", "-"), content)
    text = server.render('IocWatchRules "%s"\nIocWatchAlertTarget unix:%s\n'
                         % (bad, rsyslog.sock), "event")
    rc, out = server.configtest(text)
    assert rc != 0, out
    assert "Syntax OK" not in out
    lines = line if isinstance(line, tuple) else (line,)
    assert re.search(re.escape(bad) + r":(%s)(:\d+)?:" % "|".join(map(str, lines)),
                     out), out


def test_configtest_ok(server, rsyslog):
    rc, out = server.configtest(server.render(scope_body(rsyslog, server), "event"))
    assert rc == 0 and "Syntax OK" in out, out


def test_missing_rules_path_names_httpd_conf_line(server, rsyslog):
    text = server.render('IocWatchRules "/nonexistent/rules.yml"\n', "event")
    rc, out = server.configtest(text)
    assert rc != 0
    assert "IocWatchRules: cannot access '/nonexistent/rules.yml'" in out, out
    assert re.search(r"Syntax error on line \d+ of .*configtest.conf", out), out


def test_bad_directive_values_refused(server, rsyslog):
    for d, msg in [("IocWatchAlertFormat xml", "IocWatchAlertFormat"),
                   ("IocWatchMinLevel severe", "IocWatchMinLevel"),
                   ("IocWatchSyslogFacility local9", "IocWatchSyslogFacility"),
                   ("IocWatchQueueSize 0", "IocWatchQueueSize"),
                   ("IocWatchScanCache lots", "IocWatchScanCache: expected a number"),
                   ("IocWatchSharedMemory 12X", "IocWatchSharedMemory"),
                   ("IocWatchAlertTarget ftp://x", "IocWatchAlertTarget")]:
        rc, out = server.configtest(server.render(d + "\n", "event"))
        assert rc != 0 and msg in out, (d, out)


def grace_rule(marker):
    return iwtest.marker_rule("IW test G - graceful marker",
                              "7b0c5a55-0000-4000-8000-0000000000a9", marker)


def test_graceful_restart_applies_changed_rules(httpd, rsyslog, errlog):
    rule = httpd.write_rule("grace.yml", grace_rule("iwgrace-one"))
    body = scope_body(rsyslog, httpd) + 'IocWatchRules "%s"\n' % rule
    httpd.ensure(body, "event")
    n1 = nonce()
    m = rsyslog.mark()
    iwtest.http_get(httpd.port, "/x?n=%s&v=iwgrace-one" % n1)
    rsyslog.wait_alerts(m, 1, by_url(n1))
    gen0 = iwtest.status_page(httpd.port)["mpm_generation"]

    httpd.write_rule("grace.yml", grace_rule("iwgrace-two"))
    httpd.restart(graceful=True)
    iwtest.wait_until(lambda: iwtest.status_page(httpd.port)["mpm_generation"] > gen0,
                      15, step=0.2, what="new generation serving")
    n2 = nonce()
    m = rsyslog.mark()
    iwtest.http_get(httpd.port, "/x?n=%s&v=iwgrace-one&w=iwgrace-two" % n2)
    alerts = rsyslog.wait_alerts(m, 1, by_url(n2))
    assert [get(a, "rule.id") for a in alerts] == ["7b0c5a55-0000-4000-8000-0000000000a9"]
    assert len(alerts) == 1
    n3 = nonce()
    iwtest.http_get(httpd.port, "/x?n=%s&v=iwgrace-one" % n3)
    assert rsyslog.quiet(m, by_url(n3), wait=1.0) == []


def test_broken_rule_file_configtest_fails_but_stop_works(httpd, rsyslog, errlog):
    """A rule file broken while httpd runs: `httpd -t` names it, and
    `httpd -k stop` (which reads the config too) still stops the server."""
    rule = httpd.write_rule("grace2.yml", grace_rule("iwgrace-ok"))
    body = scope_body(rsyslog, httpd) + 'IocWatchRules "%s"\n' % rule
    httpd.ensure(body, "event")
    rc, out = httpd.configtest(httpd.running_conf)
    assert rc == 0, out
    httpd.write_rule("grace2.yml", "title: x\ndetection: [\n")
    rc, out = httpd.configtest(httpd.running_conf)
    assert rc != 0 and "grace2.yml:" in out, out
    r = subprocess.run(httpd._cmd("-k", "stop"), capture_output=True, text=True,
                       timeout=300, env=httpd._env())
    assert r.returncode == 0, r.stdout + r.stderr
    iwtest.wait_until(lambda: not httpd.alive(), 10, what="httpd stopped by -k stop")
    httpd.running_conf = None
