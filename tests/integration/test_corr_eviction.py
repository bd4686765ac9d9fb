# SPDX-License-Identifier: Apache-2.0
"""Correlation state cannot be flushed by one-off clients (issue: 12,000
one-off client addresses evicted a brute-forcer's count, and its login
failures then gave no alert).  A real httpd with the shipped correlation
rules and the default 4 MiB table: a client POSTs 7 failed logins (the
shipped rule fires at 8 in 30 s), 12,000 other addresses send one 404 each
(every one feeds the probing and urgent-entry correlations: far more groups
than the table has slots), then the client POSTs 7 more: exactly one
brute-force alert, at its 8th.  Clients via X-Forwarded-For + mod_remoteip,
loopback only, bounded (about 12,000 requests)."""

import os
import random
import threading
import uuid

import pytest

import iwtest
from iwtest import get

# the shipped correlation rules that stand alone (the attack-burst one
# refers to the whole pack)
CORR = " ".join('"%s"' % os.path.join(iwtest.REPO, "conf", "rules", "correlation", f) for f in (
    "mr_login_form_bruteforce.yml", "mr_http_auth_bruteforce.yml", "mr_http_404_probing.yml",
    "mr_urgent_entries_same_client.yml", "mr_http_5xx_burst.yml"))
LOGIN_BF = "7c652fc2-5832-4060-bd06-9991dc3e8e23"   # 8 login POSTs / 30 s, one client
FLOOD = 12000


@pytest.fixture
def server(httpd, rsyslog):
    httpd.ensure("""\
RemoteIPHeader X-Forwarded-For
RemoteIPInternalProxy 127.0.0.1
IocWatchRules {rules}
IocWatchAlertTarget unix:{sock}
<Location /iw-status>
  SetHandler iocwatch-status
</Location>
""".format(rules=CORR, sock=rsyslog.sock), "event")
    return httpd


def req(method, path, ip, last):
    return ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0\r\n"
            "X-Forwarded-For: %s\r\nContent-Length: 0\r\nConnection: %s\r\n\r\n"
            % (method, path, ip, "close" if last else "keep-alive"))


def pipelined(port, reqs):
    """Requests on one connection, written at once; returns the 404 count."""
    data = "".join(req(m, p, ip, i == len(reqs) - 1) for i, (m, p, ip) in enumerate(reqs))
    _, resp = iwtest.http_raw(port, data.encode(), timeout=60)
    return resp.count(b" 404 Not Found")


def logins(port, ip, n):
    assert pipelined(port, [("POST", "/wp-login.php", ip)] * n) == n


def flood(port, net, tag):
    """FLOOD one-off clients (one request each), 4 connections at a time
    of 100 pipelined requests (MaxKeepAliveRequests)."""
    got = []
    chunks = [list(range(i, min(i + 100, FLOOD))) for i in range(0, FLOOD, 100)]

    def run(part):
        n = 0
        for ch in part:
            n += pipelined(port, [("GET", "/iwflood-%s/%d" % (tag, i),
                                   "10.%d.%d.%d" % (net, i // 250, i % 250 + 1))
                                  for i in ch])
        got.append(n)
    ts = [threading.Thread(target=run, args=(chunks[k::4],)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return sum(got)


def test_one_off_flood_does_not_flush_brute_force(server, rsyslog):
    ip = "192.0.2.%d" % random.randint(1, 254)
    tag = uuid.uuid4().hex[:8]
    st0 = iwtest.status_page(server.port)
    m = rsyslog.mark()
    logins(server.port, ip, 7)
    assert flood(server.port, random.randint(100, 199), tag) == FLOOD
    st = iwtest.status_page(server.port)
    # the flood made far more groups than the table holds: it had to evict
    assert st["corr_evictions"] - st0.get("corr_evictions", 0) > FLOOD // 2, st
    assert st["corr_slots"] < FLOOD, st
    logins(server.port, ip, 7)
    alerts = rsyslog.wait_alerts(m, 1, lambda a: get(a, "rule.id") == LOGIN_BF, timeout=15)
    assert len(alerts) == 1, alerts
    a = alerts[0]
    assert get(a, "iocwatch.correlation.group.c-ip") == ip
    assert get(a, "iocwatch.correlation.count") == 8
