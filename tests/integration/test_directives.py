# SPDX-License-Identifier: Apache-2.0
"""The remaining directives on a real httpd (one vhost each):
IocWatchMinLevel, IocWatchPlaceholder (|expand feed), IocWatchSuppress,
IocWatchErrorLog Off / LEVEL, IocWatchFilters wiring; and the shipped
configuration files: conf/debian/iocwatch.conf passes `httpd -t`,
conf/rsyslog/30-iocwatch.conf routes alerts in a real rsyslogd."""

import os
import re
import subprocess
import time

import pytest

import iwtest
from iwtest import by_url, get, nonce

RULE_A = "7b0c5a55-0000-4000-8000-00000000000a"
RULE_B = "7b0c5a55-0000-4000-8000-00000000000b"
RULE_C = "7b0c5a55-0000-4000-8000-00000000000c"
RULE_E = "7b0c5a55-0000-4000-8000-00000000000e"
RULE_X = "7b0c5a55-0000-4000-8000-0000000000e1"

EXPAND_RULE = """\
title: IW test X - agents from a feed
id: 7b0c5a55-0000-4000-8000-0000000000e1
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-user-agent|expand|contains: '%iw_agents%'
    condition: selection
level: high
"""


def ids(alerts):
    return sorted(get(a, "rule.id") for a in alerts)


def body(h, rs):
    rules = '"%s/basic.yml" "%s/errorlog.yml"' % (iwtest.TEST_RULES, iwtest.TEST_RULES)
    xrule = h.write_rule("expand.yml", EXPAND_RULE)
    feed = h.write_rule("agents.txt", "# bad agents\nevilbot-x1\n\nbadcrawler-x2\n")
    vh = ""
    for name, extra in [
            ("main.test", ""),
            ("minlevel.test", "IocWatchMinLevel medium"),
            ("feed.test", 'IocWatchRules "%s"\n  IocWatchPlaceholder iw_agents "%s"'
             % (xrule, feed)),
            ("suppress.test", "IocWatchSuppress 2"),
            ("noerrlog.test", "IocWatchErrorLog Off"),
            ("critonly.test", "IocWatchErrorLog crit"),
            ("filter.test", 'IocWatchFilters "%s/filter.yml"' % iwtest.TEST_RULES)]:
        vh += """<VirtualHost 127.0.0.1:{port}>
  ServerName {name}
  {extra}
</VirtualHost>
""".format(port=h.port, name=name, extra=extra)
    return """\
IocWatchRules {rules}
IocWatchAlertTarget unix:{sock}
<Location /denied>
  Require all denied
</Location>
{vh}""".format(rules=rules, sock=rs.sock, vh=vh)


@pytest.fixture
def server(httpd, rsyslog):
    httpd.ensure(body(httpd, rsyslog), "event")
    return httpd


def attack(h, host, n, ua="iwscanner-b", path="/iwpath-c/x"):
    return iwtest.http_get(h.port, "%s?n=%s&q=iwattack-a" % (path, n),
                           {"Host": host, "User-Agent": ua})[0]


def test_min_level(server, rsyslog):
    n1, n2 = nonce(), nonce()
    m = rsyslog.mark()
    attack(server, "minlevel.test", n1)
    attack(server, "main.test", n2)
    assert ids(rsyslog.wait_alerts(m, 3, by_url(n2))) == [RULE_A, RULE_B, RULE_C]
    assert ids(rsyslog.wait_alerts(m, 2, by_url(n1))) == [RULE_A, RULE_B]


def test_placeholder_feed_expand(server, rsyslog):
    n1, n2 = nonce(), nonce()
    m = rsyslog.mark()
    attack(server, "feed.test", n1, ua="Mozilla/5.0 badcrawler-x2")
    attack(server, "feed.test", n2, ua="Mozilla/5.0 goodbot")
    assert ids(rsyslog.wait_alerts(m, 1, by_url(n1))) == [RULE_X]
    assert rsyslog.alerts(m, by_url(n2)) == []


def test_suppress_window_and_count(server, rsyslog):
    """IocWatchSuppress 2: the first alert per rule+client passes, the next
    two are held back, the first one after the window reports 2."""
    n = nonce()
    m = rsyslog.mark()
    t0 = time.monotonic()
    for i in range(3):
        iwtest.http_get(server.port, "/x?n=%s-%d&q=iwattack-a" % (n, i),
                        {"Host": "suppress.test"})
    assert time.monotonic() - t0 < 1.5
    iwtest.wait_until(lambda: rsyslog.alerts(m, by_url(n)), 10, what="the first alert")
    # the window runs from when the first alert was sent (before we saw it)
    seen = time.monotonic()
    first = rsyslog.quiet(m, by_url(n), wait=0.5)
    assert len(first) == 1 and not get(first[0], "iocwatch.suppressed")
    time.sleep(max(0, 2.1 - (time.monotonic() - seen)))
    iwtest.http_get(server.port, "/x?n=%s-late&q=iwattack-a" % n, {"Host": "suppress.test"})
    got = rsyslog.wait_alerts(m, 2, by_url(n))
    assert len(got) == 2
    assert get(got[1], "iocwatch.suppressed") == 2


@pytest.mark.parametrize("host,fires", [("main.test", True), ("noerrlog.test", False),
                                        ("critonly.test", False)])
def test_errorlog_off_and_level(server, rsyslog, errlog, host, fires):
    """IocWatchErrorLog: the 403 of /denied logs AH01630 (level error) on
    every vhost; main.test alerts on it (rule E), noerrlog.test (Off) and
    critonly.test (crit) do not.  The denied request and an attack are
    pipelined on one connection, so one child queues both in that order:
    once the attack's alerts have landed, an alert of the error entry
    would have landed before them."""
    errlog.expect(r"AH01630")
    n = nonce()
    m = rsyslog.mark()
    since = server.errlog_size()

    def req(target, ua, conn):
        return ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nConnection: %s\r\n\r\n"
                % (target, host, ua, conn)).encode()

    st, resp = iwtest.http_raw(server.port,
                               req("/denied/%s" % n, "iwtest/1.0", "keep-alive") +
                               req("/iwpath-c/x?n=%s&q=iwattack-a" % n, "iwscanner-b", "close"))
    assert st == 403 and resp.count(b"HTTP/1.1 ") == 2, resp[:300]
    # the entry each vhost hands (or not) to the module: this request's AH01630
    # (its text names the existing part of the path, /denied, not the nonce)
    denied = [ln for ln in server.errlog_lines(since) if "AH01630" in ln]
    assert len(denied) == 1, server.errlog_lines(since)
    assert ids(rsyslog.wait_alerts(m, 3, by_url(n))) == [RULE_A, RULE_B, RULE_C]
    mine = rsyslog.alerts(m, lambda a: get(a, "rule.id") == RULE_E)
    if fires:
        assert len(mine) == 1, mine
        assert "client denied by server configuration" in get(mine[0], "error.message")
    else:
        assert mine == []


def test_filters(server, rsyslog):
    """rules/filter.yml (pySigma semantics: rule AND filter condition)
    keeps rule B quiet for our own scanner on filter.test only."""
    n1, n2, n3 = nonce(), nonce(), nonce()
    m = rsyslog.mark()
    attack(server, "filter.test", n1, ua="iwscanner-b trusted-scan")
    attack(server, "filter.test", n2, ua="iwscanner-b")
    attack(server, "main.test", n3, ua="iwscanner-b trusted-scan")
    assert ids(rsyslog.wait_alerts(m, 3, by_url(n2))) == [RULE_A, RULE_B, RULE_C]
    assert ids(rsyslog.wait_alerts(m, 3, by_url(n3))) == [RULE_A, RULE_B, RULE_C]
    assert ids(rsyslog.wait_alerts(m, 2, by_url(n1))) == [RULE_A, RULE_C]


def test_filters_file_is_loaded(server, rsyslog):
    """IocWatchFilters feeds the loader: a broken filter file fails
    `httpd -t` with its file:line."""
    bad = server.write_rule("filter-bad.yml", "title: f\nfilter:\n  rules: [x\n")
    text = server.render('IocWatchRules "%s/basic.yml"\nIocWatchFilters "%s"\n'
                         % (iwtest.TEST_RULES, bad), "event")
    rc, out = server.configtest(text)
    assert rc != 0 and re.search(re.escape(bad) + r":\d+", out), out


# ------------------------------------------------------ shipped config files

def test_debian_conf_passes_configtest(server, rsyslog):
    src = os.path.join(iwtest.REPO, "conf", "debian", "iocwatch.conf")
    with open(src) as f:
        text = f.read()
    text = text.replace("/usr/share/iocwatch/rules /etc/iocwatch/rules",
                        os.path.join(iwtest.TEST_RULES, "basic.yml"))
    text = text.replace("unix:/dev/log", "unix:" + rsyslog.sock)
    inc = server.write_rule("debian-iocwatch.conf", text)
    rc, out = server.configtest(server.render("Include %s\n" % inc, "event"))
    assert rc == 0 and "Syntax OK" in out, out


def test_example_httpd_conf_passes_configtest(server, rsyslog):
    src = os.path.join(iwtest.REPO, "conf", "httpd-example.conf")
    with open(src) as f:
        text = f.read()
    basic = os.path.join(iwtest.TEST_RULES, "basic.yml")
    text = (text.replace("LoadModule iocwatch_module modules/mod_iocwatch.so", "")
            .replace("/etc/iocwatch/rules /etc/iocwatch/shop-rules", basic)
            .replace("/etc/iocwatch/rules", basic)
            .replace("unix:/dev/log", "unix:" + rsyslog.sock))
    inc = server.write_rule("example.conf", text)
    rc, out = server.configtest(server.render("Include %s\n" % inc, "event"))
    assert rc == 0 and "Syntax OK" in out, out


def test_rsyslog_route_example(httpd, rsyslog, base_dir):
    """conf/rsyslog/30-iocwatch.conf in a real rsyslogd: alerts (and only
    they) land as one bare JSON object per line."""
    rs2 = iwtest.Rsyslog(os.path.join(base_dir, "route"))
    out = os.path.join(rs2.dir, "alerts.json")
    with open(os.path.join(iwtest.REPO, "conf", "rsyslog", "30-iocwatch.conf")) as f:
        route = f.read().replace("/var/log/iocwatch/alerts.json", out)
    rs2.write_conf()
    with open(rs2.conf) as f:
        base = f.read()
    # the route first (it stops iocwatch messages), then the catch-all
    lines = base.splitlines()
    cut = next(i for i, l in enumerate(lines) if l.startswith("template("))
    with open(rs2.conf, "w") as f:
        f.write("\n".join(lines[:cut]) + "\n" + route + "\n" + "\n".join(lines[cut:]) + "\n")
    orig_write = rs2.write_conf
    rs2.write_conf = lambda: None
    rs2.start()
    try:
        httpd.ensure('IocWatchRules "%s/basic.yml"\nIocWatchAlertTarget unix:%s\n'
                     % (iwtest.TEST_RULES, rs2.sock), "event")
        n = nonce()
        iwtest.http_get(httpd.port, "/x?n=%s&q=iwattack-a" % n)
        subprocess.run(["logger", "-u", rs2.sock, "-t", "other", "not an alert"],
                       timeout=10)
        iwtest.wait_until(lambda: os.path.exists(out) and n in open(out).read(), 10,
                          what="routed alert")
        time.sleep(0.3)
        with open(out) as f:
            lines = [l for l in f.read().splitlines() if l]
        assert len(lines) == 1, lines
        import json
        a = json.loads(lines[0])                  # bare JSON, nothing before
        assert get(a, "rule.id") == RULE_A
        assert "not an alert" in open(rs2.out).read()
        assert n not in open(rs2.out).read()      # `stop`: not in the catch-all
        if os.geteuid() == 0:                     # readable by group adm, no one else
            import grp
            import stat
            st = os.stat(out)
            assert grp.getgrgid(st.st_gid).gr_name == "adm"
            assert stat.S_IMODE(st.st_mode) == 0o640
    finally:
        rs2.stop()
        rs2.write_conf = orig_write


PARENT_RULE = """\
title: IW test P - parent restart notice
id: 7b0c5a55-0000-4000-8000-0000000000e2
status: test
logsource:
    service: apache
detection:
    keywords:
        - 'SIGHUP received'
    condition: keywords
level: low
"""


def test_parent_process_entries_alert(httpd, rsyslog):
    """Entries logged by the parent (no request, no connection) are seen
    too -- the parent has its own queue: AH00494 on a restart."""
    rule = httpd.write_rule("parent.yml", PARENT_RULE)
    httpd.ensure('IocWatchRules "%s"\nIocWatchAlertTarget unix:%s\n'
                 % (rule, rsyslog.sock), "event")
    parent = httpd.pid()
    m = rsyslog.mark()
    httpd.restart()
    (a,) = rsyslog.wait_alerts(m, 1, lambda a: get(a, "rule.id") ==
                               "7b0c5a55-0000-4000-8000-0000000000e2")
    assert "SIGHUP received" in get(a, "error.message")
    assert get(a, "process.pid") == parent
    assert get(a, "source.ip") is None
