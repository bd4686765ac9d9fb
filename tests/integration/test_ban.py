# SPDX-License-Identifier: Apache-2.0
"""Active response (IocWatchBan*) on a real httpd: a client for whom a
trigger rule alerts is refused at its next request by another child (event,
worker, prefork), also after a correlation trigger; bans end (alert on the
client's return, and from the parent's monitor when it never returns);
allow-listed networks are never denied; DryRun only alerts "would deny";
an admin lists bans on the status page and lifts them with a POST; a
graceful restart keeps bans; a flood of distinct clients into a small table
evicts only with an alert per eviction.  Clients are faked with
mod_remoteip (X-Forwarded-For from 127.0.0.1, itself allow-listed)."""

import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest

import iwtest
from iwtest import get

HIT_ID = "7b0c5a55-0000-4000-8000-0000000000b1"
SHORT_ID = "7b0c5a55-0000-4000-8000-0000000000b2"
CORR_ID = "7b0c5a55-0000-4000-8000-0000000000b4"
TOKEN = "iw-test-token-0123456789abcdef"

RULES = """\
title: IW ban test - marker
id: 7b0c5a55-0000-4000-8000-0000000000b1
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query|contains: 'iwban'
    condition: selection
level: high
---
title: IW ban test - short ban marker
id: 7b0c5a55-0000-4000-8000-0000000000b2
status: test
tags:
    - attack.iw_short
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query|contains: 'iwshort'
    condition: selection
level: low
---
title: IW ban test - probe
id: 7b0c5a55-0000-4000-8000-0000000000b3
name: iw_ban_probe
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query|contains: 'iwprobe'
    condition: selection
level: low
---
title: IW ban test - 3 probes from one client
id: 7b0c5a55-0000-4000-8000-0000000000b4
status: test
correlation:
    type: event_count
    rules:
        - iw_ban_probe
    group-by:
        - c-ip
    timespan: 60s
    condition:
        gte: 3
level: high
"""

PREFORK = """\
StartServers 4
MinSpareServers 4
MaxSpareServers 8
ServerLimit 16
MaxRequestWorkers 16
"""


def body(h, rs, extra="", table=None):
    rules = h.write_rule("ban.yml", RULES)
    tok = os.path.join(h.dir, "conf", "ban.token")
    with open(tok, "w") as f:
        f.write(TOKEN + "\n")
    return """\
IocWatchRules "{rules}"
IocWatchAlertTarget unix:{sock}
RemoteIPHeader X-Forwarded-For
RemoteIPInternalProxy 127.0.0.1
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
LogFormat "%a %P %>s %{{iocwatch-ban}}n %U" iwban
CustomLog "{log}" iwban
IocWatchBan On
IocWatchBanTrigger rule:{hit} 600
IocWatchBanTrigger tag:attack.iw_short 2
IocWatchBanTrigger rule:{corr} 600
IocWatchBanAllow 127.0.0.0/8 ::1 198.51.100.0/24
IocWatchBanTokenFile "{tok}"
{table}
<Location /iw-status>
  SetHandler iocwatch-status
</Location>
<VirtualHost 127.0.0.1:{port}>
  ServerName 127.0.0.1
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
  ServerName dry.test
  IocWatchBan DryRun
</VirtualHost>
{extra}
""".format(rules=rules, sock=rs.sock, log=h.dir + "/logs/ban.log", hit=HIT_ID,
           corr=CORR_ID, tok=tok, port=h.port, extra=extra,
           table="IocWatchBanTableSize %d" % table if table else "")


class Conn:
    """A keep-alive connection: stays with one child (prefork) while open."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), 10)

    def get(self, target, client, host="127.0.0.1"):
        req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: iwtest\r\n"
               "X-Forwarded-For: %s\r\n\r\n" % (target, host, client)).encode()
        self.s.sendall(req)
        buf = b""
        while b"\r\n\r\n" not in buf:
            b = self.s.recv(65536)
            if not b:
                raise OSError("connection closed")
            buf += b
        head, rest = buf.split(b"\r\n\r\n", 1)
        clen = 0
        for ln in head.split(b"\r\n"):
            if ln.lower().startswith(b"content-length:"):
                clen = int(ln.split(b":")[1])
        while len(rest) < clen:
            rest += self.s.recv(65536)
        return int(head.split()[1])

    def close(self):
        self.s.close()


def once(port, target, client, host="127.0.0.1"):
    c = Conn(port)
    try:
        return c.get(target, client, host)
    finally:
        c.close()


def client_ip():
    u = uuid.uuid4().int
    return "10.%d.%d.%d" % ((u >> 16) % 250 + 1, (u >> 8) % 250, u % 250 + 1)


def ban_alerts(rs, since, client, action=None):
    return rs.alerts(since, lambda a: str(get(a, "rule.id", "")).startswith("iocwatch-ban")
                     and get(a, "source.ip") == client
                     and (action is None or get(a, "event.action") == action))


def log_rows(h, client, n=None):
    """The ban.log rows of `client`; with n, once there are n of them (a
    child writes a request's row after answering it)."""
    def rows():
        with open(h.dir + "/logs/ban.log") as f:
            return [ln.split() for ln in f if ln.split()[0] == client]
    if n is None:
        return rows()
    iwtest.wait_until(lambda: len(rows()) >= n, 10, what="%d ban.log rows" % n)
    return rows()


def post_control(port, form, token=TOKEN):
    data = form.encode()
    hdr = {"Content-Type": "application/x-www-form-urlencoded",
           "Content-Length": str(len(data))}
    if token:
        hdr["X-IocWatch-Token"] = token
    lines = ["POST /iw-status HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += ["%s: %s" % kv for kv in hdr.items()]
    st, resp = iwtest.http_raw(port, ("\r\n".join(lines) + "\r\n\r\n").encode() + data)
    return st, resp.split(b"\r\n\r\n", 1)[-1].decode()


@pytest.fixture(scope="module", params=["event", "worker", "prefork"])
def mpm(request):
    return request.param


def test_denied_at_next_request_by_another_child(httpd, rsyslog, mpm):
    httpd.ensure(body(httpd, rsyslog, PREFORK if mpm == "prefork" else ""), mpm)
    client = client_ip()
    before = iwtest.status_page(httpd.port)
    m = rsyslog.mark()
    a, b = Conn(httpd.port), Conn(httpd.port)     # two children under prefork
    try:
        assert b.get("/warm", client) == 404
        assert a.get("/x?iwban=1", client) == 404   # the trigger itself is served
        hit = rsyslog.wait_alerts(m, 1, lambda x: get(x, "rule.id") == HIT_ID
                                  and get(x, "source.ip") == client, settle=0)
        ban = rsyslog.wait_alerts(m, 1, lambda x: get(x, "rule.id") == "iocwatch-ban",
                                  settle=0)
        assert b.get("/next?iwban=2", client) == 403
    finally:
        a.close()
        b.close()
    # refused requests: counted, not evaluated (no new detection alert), no
    # new ban alert, the ban not extended
    for i in range(3):
        assert once(httpd.port, "/again?iwban=%d" % i, client) == 403
    time.sleep(0.5)
    assert len(rsyslog.alerts(m, lambda x: get(x, "rule.id") == HIT_ID
                              and get(x, "source.ip") == client)) == 1
    bans = ban_alerts(rsyslog, m, client)
    assert len(bans) == 1, bans
    ban = bans[0]
    assert get(ban, "rule.name") == "client denied for 600 s after rule " + HIT_ID
    assert get(ban, "event.action") == "ban"
    trig = get(ban, "iocwatch.ban")["trigger"]
    assert trig["rule"] == HIT_ID
    assert trig["request_id"] == get(hit[0], "http.request.id")
    st = iwtest.status_page(httpd.port)
    assert st["ban_refused"] - before.get("ban_refused", 0) == 4
    assert st["ban_added"] - before.get("ban_added", 0) == 1
    assert st["ban_exists"] == before.get("ban_exists", 0)
    page = iwtest.http_get(httpd.port, "/iw-status")[1].decode()
    line = [ln for ln in page.splitlines() if ln.startswith("ban: %s " % client)]
    assert len(line) == 1 and "refused=4" in line[0] and "rule=" + HIT_ID in line[0], page
    rows = log_rows(httpd, client, 6)
    # children write a row after answering (and the trigger's only after
    # its ban alert went out): completion order, not request order
    assert sorted(r[2] for r in rows) == ["403"] * 4 + ["404"] * 2, rows
    assert all((r[2] == "403") == (r[3] == "refused") for r in rows), rows
    if mpm == "prefork":
        # by path: children write their log lines after answering, so two
        # children's lines may land out of request order
        pid = {r[4]: r[1] for r in rows}
        assert pid["/x"] != pid["/next"], "trigger and refusal in the same child"


def test_correlation_trigger(httpd, rsyslog):
    httpd.ensure(body(httpd, rsyslog), "event")
    client = client_ip()
    m = rsyslog.mark()
    for i in range(3):
        assert once(httpd.port, "/p?iwprobe=%d" % i, client) == 404
    rsyslog.wait_alerts(m, 1, lambda x: get(x, "rule.id") == "iocwatch-ban"
                        and get(x, "source.ip") == client, settle=0)
    assert once(httpd.port, "/p?iwprobe=4", client) == 403
    ban = ban_alerts(rsyslog, m, client)
    assert len(ban) == 1
    assert get(ban[0], "iocwatch.ban")["trigger"]["rule"] == CORR_ID


def test_ban_ends(httpd, rsyslog):
    """2 s bans (tag trigger): one client comes back after its end and is
    served (its end alerted then); the other never does: the parent's
    monitor (every ~10 s) reports its end."""
    httpd.ensure(body(httpd, rsyslog), "event")
    gone = client_ip()
    for attempt in range(3):
        back = client_ip()
        m = rsyslog.mark()
        t = time.monotonic()
        assert once(httpd.port, "/s?iwshort=1", back) == 404
        rsyslog.wait_alerts(m, 1, lambda x: get(x, "rule.id") == "iocwatch-ban"
                            and get(x, "source.ip") == back, settle=0)
        if once(httpd.port, "/s", back) == 403:
            break
        # the ban runs 2 s from its trigger's logging, after t: a request
        # answered before t + 2 s was inside it.  A machine too slow to ask
        # in time tries again with a new client.
        assert time.monotonic() - t >= 2.0, "served %.2f s after the trigger of a 2 s ban" % (
            time.monotonic() - t)
    else:
        pytest.fail("3 attempts too slow to see a 2 s ban")
    time.sleep(2.2)
    m2 = rsyslog.mark()
    assert once(httpd.port, "/s?iwshort=1", gone) == 404
    assert once(httpd.port, "/s", back) == 404
    end = rsyslog.wait_alerts(m2, 1, lambda x: get(x, "event.action") == "ban-expired"
                              and get(x, "source.ip") == back, settle=0)
    assert get(end[0], "rule.id") == "iocwatch-ban-end"
    assert get(end[0], "iocwatch.ban")["refused"] == 1
    assert "ended after 2 s, 1 requests refused" in get(end[0], "rule.name")
    # no request from anyone now: only the monitor can report `gone`
    end = rsyslog.wait_alerts(m2, 1, lambda x: get(x, "event.action") == "ban-expired"
                              and get(x, "source.ip") == gone, timeout=25, settle=0)
    assert len(end) == 1
    assert len(ban_alerts(rsyslog, m, back, "ban-expired")) == 1


def test_allow_list(httpd, rsyslog):
    httpd.ensure(body(httpd, rsyslog), "event")
    before = iwtest.status_page(httpd.port)
    client = "198.51.100.%d" % (uuid.uuid4().int % 250 + 1)
    m = rsyslog.mark()
    assert once(httpd.port, "/a?iwban=1", client) == 404
    rsyslog.wait_alerts(m, 1, lambda x: get(x, "rule.id") == HIT_ID
                        and get(x, "source.ip") == client, settle=0.5)
    assert once(httpd.port, "/a", client) == 404
    assert ban_alerts(rsyslog, m, client) == []
    st = iwtest.status_page(httpd.port)
    assert st["ban_allowlisted"] - before.get("ban_allowlisted", 0) == 1
    assert st["ban_added"] == before["ban_added"]


def test_dry_run(httpd, rsyslog):
    """The dry.test vhost has IocWatchBan DryRun: alerts say "would deny",
    requests are served and counted as would-refuse."""
    httpd.ensure(body(httpd, rsyslog), "event")
    before = iwtest.status_page(httpd.port)
    client = client_ip()
    m = rsyslog.mark()
    assert once(httpd.port, "/d?iwban=1", client, host="dry.test") == 404
    got = rsyslog.wait_alerts(m, 1, lambda x: get(x, "rule.id") == "iocwatch-ban"
                              and get(x, "source.ip") == client, settle=0)
    assert get(got[0], "event.action") == "would-ban"
    assert "would be denied for 600 s" in get(got[0], "rule.name")
    assert get(got[0], "iocwatch.ban")["dry_run"] is True
    # served everywhere: the dry-run ban never refuses, also not in the
    # enforcing vhost; requests are evaluated as usual
    assert once(httpd.port, "/d?iwban=2", client, host="dry.test") == 404
    assert once(httpd.port, "/d", client) == 404
    rsyslog.wait_alerts(m, 2, lambda x: get(x, "rule.id") == HIT_ID
                        and get(x, "source.ip") == client, settle=0.3)
    assert len(ban_alerts(rsyslog, m, client)) == 1
    st = iwtest.status_page(httpd.port)
    assert st["ban_dry_added"] - before.get("ban_dry_added", 0) == 1
    assert st["ban_would_refuse"] - before.get("ban_would_refuse", 0) == 2
    assert st["ban_refused"] == before["ban_refused"]
    # rows in completion order: the trigger's row may come after the next
    # request's (its alert goes out before mod_log_config writes the row)
    notes = [r[3] for r in log_rows(httpd, client, 3)]
    assert sorted(notes) == ["-", "would-refuse", "would-refuse"], notes


def test_lift(httpd, rsyslog):
    httpd.ensure(body(httpd, rsyslog), "event")
    client = client_ip()
    m = rsyslog.mark()
    once(httpd.port, "/l?iwban=1", client)
    rsyslog.wait_alerts(m, 1, lambda x: get(x, "rule.id") == "iocwatch-ban"
                        and get(x, "source.ip") == client, settle=0)
    assert once(httpd.port, "/l", client) == 403
    # admin-only: the token is required
    assert post_control(httpd.port, "lift=" + client, token=None)[0] == 403
    assert post_control(httpd.port, "lift=" + client, token=TOKEN + "x")[0] == 403
    assert post_control(httpd.port, "lift=nonsense")[0] == 400
    st, text = post_control(httpd.port, "lift=" + client)
    assert st == 200 and text == "lifted: %s\n" % client
    assert once(httpd.port, "/l", client) == 404
    end = rsyslog.wait_alerts(m, 1, lambda x: get(x, "event.action") == "ban-lifted"
                              and get(x, "source.ip") == client, settle=0.3)
    assert len(end) == 1 and get(end[0], "iocwatch.ban")["refused"] == 1
    assert post_control(httpd.port, "lift=" + client)[1] == "not banned: %s\n" % client
    assert "ban: %s " % client not in iwtest.http_get(httpd.port, "/iw-status")[1].decode()


def test_restarts_keep_bans(httpd, rsyslog, errlog):
    httpd.ensure(body(httpd, rsyslog), "event")
    client = client_ip()
    m = rsyslog.mark()
    once(httpd.port, "/g?iwban=1", client)
    rsyslog.wait_alerts(m, 1, lambda x: get(x, "rule.id") == "iocwatch-ban"
                        and get(x, "source.ip") == client, settle=0)
    gen0 = iwtest.status_page(httpd.port)["mpm_generation"]
    httpd.restart(graceful=True)
    iwtest.wait_until(lambda: iwtest.status_page(httpd.port)["mpm_generation"] > gen0,
                      15, step=0.2, what="new generation")
    assert any("ban table" in ln and "kept" in ln for ln in errlog.new_lines())
    assert once(httpd.port, "/g", client) == 403
    # a plain restart (SIGHUP: every child replaced) keeps them too
    httpd.restart(graceful=False)
    assert once(httpd.port, "/g", client) == 403
    assert len(ban_alerts(rsyslog, m, client)) == 1


def test_flood_evictions_alerted(httpd, rsyslog):
    """A table of 8 bans, 40 distinct clients each triggering one: every
    eviction is counted and alerted (the first client's ban included), and
    exactly the evicted clients are served again."""
    httpd.ensure(body(httpd, rsyslog, table=8), "event")
    st, text = post_control(httpd.port, "lift=all")   # earlier tests' bans
    assert st == 200 and text.startswith("lifted: "), text
    before = iwtest.status_page(httpd.port)
    assert before["ban_active"] == 0
    clients = ["10.250.%d.%d" % (i // 200, i % 200 + 1) for i in range(40)]
    m = rsyslog.mark()
    c = Conn(httpd.port)
    try:
        for ip in clients:
            assert c.get("/f?iwban=1", ip) == 404
    finally:
        c.close()
    evicted = iwtest.wait_until(
        lambda: (lambda e: e if len(e) >= 32 else None)(
            rsyslog.alerts(m, lambda x: get(x, "event.action") == "ban-evicted")),
        15, what="32 eviction alerts")
    time.sleep(0.3)
    evicted = rsyslog.alerts(m, lambda x: get(x, "event.action") == "ban-evicted")
    ev_ips = [get(x, "source.ip") for x in evicted]
    assert len(ev_ips) == 32 and len(set(ev_ips)) == 32
    assert clients[0] in ev_ips
    assert get(evicted[0], "log.level") == "high"
    st = iwtest.status_page(httpd.port)
    assert st["ban_capacity"] == 8 and st["ban_active"] == 8
    assert st["ban_evicted"] - before.get("ban_evicted", 0) == 32
    still = [ip for ip in clients if ip not in ev_ips]
    assert len(still) == 8
    assert once(httpd.port, "/f", still[0]) == 403
    assert once(httpd.port, "/f", ev_ips[0]) == 404
    # the same numbers in the Prometheus exposition, which promtool accepts
    prom = iwtest.http_get(httpd.port, "/iw-status?format=prometheus")[1]
    prom = prom.split(b"\r\n\r\n", 1)[1].decode()
    series = dict(ln.split(" ", 1) for ln in prom.splitlines() if ln.startswith("iocwatch_ban_"))
    assert int(series["iocwatch_ban_evicted_total"]) == st["ban_evicted"]
    assert int(series["iocwatch_ban_active"]) == 8
    assert int(series["iocwatch_ban_refused_total"]) == st["ban_refused"] + 1
    if shutil.which("promtool"):
        r = subprocess.run(["promtool", "check", "metrics"], input=prom, text=True,
                           capture_output=True)
        assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("line,msg", [
    ("IocWatchBan Maybe", "IocWatchBan: expected On, Off or DryRun"),
    ("IocWatchBanTrigger rule: 10", "IocWatchBanTrigger: expected rule:ID"),
    ("IocWatchBanTrigger level:huge 10", "IocWatchBanTrigger: expected rule:ID"),
    ("IocWatchBanTrigger tag:x 0", "IocWatchBanTrigger: expected a number from 1"),
    ("IocWatchBanAllow 10.0.0.0/33", "IocWatchBanAllow: '10.0.0.0/33' is not an address"),
    ("IocWatchBanStatus 200", "IocWatchBanStatus: expected a number from 400 to 599"),
    ("IocWatchBanTableSize 0", "IocWatchBanTableSize: expected a number from 1"),
    ("<VirtualHost 127.0.0.1:1>\nIocWatchBanTableSize 10\n</VirtualHost>",
     "IocWatchBanTableSize cannot occur within"),
    ("IocWatchBanTokenFile /nonexistent/token", "IocWatchBanTokenFile: cannot read"),
    ("IocWatchBanTokenFile {short}", "must hold one token of 16 to 255 characters"),
])
def test_bad_values_fail_configtest(httpd, rsyslog, line, msg):
    short = os.path.join(httpd.dir, "conf", "short.token")
    with open(short, "w") as f:
        f.write("abc\n")
    text = httpd.render(body(httpd, rsyslog) + line.format(short=short) + "\n", "event")
    rc, out = httpd.configtest(text)
    assert rc != 0 and msg in out, out
