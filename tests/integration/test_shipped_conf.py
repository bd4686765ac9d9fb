# SPDX-License-Identifier: Apache-2.0
"""The shipped Debian configuration (conf/debian/iocwatch.conf) with the
shipped rule pack (conf/rules) on a real httpd: its threshold rules fire.
`IocWatchMinLevel low` there once kept the informational feeder rules from
compiling, so 404 probing, brute force, 5xx bursts and "5 urgent entries"
never alerted; a level threshold filters alerts, never what correlations
count."""

import os
import uuid

import pytest

import iwtest
from iwtest import get

PACK = os.path.join(iwtest.REPO, "conf", "rules")
PROBING = "3845d349-df54-417c-a3ff-025612db1b32"   # >= 10 distinct 4xx paths / 10 s, medium
FEEDERS = ("aa44350e-bdde-498a-b9b8-8ab0794d78dc",) # informational, feeds PROBING


def debian_conf(rs):
    with open(os.path.join(iwtest.REPO, "conf", "debian", "iocwatch.conf")) as f:
        text = f.read()
    assert "IocWatchMinLevel low" in text       # what this test is about
    # the package's rule directories: the shipped pack, the admin's own
    return (text.replace("/usr/share/iocwatch/rules /etc/iocwatch/rules", PACK)
            .replace("unix:/dev/log", "unix:" + rs.sock))


@pytest.fixture
def server(httpd, rsyslog):
    inc = httpd.write_rule("debian-iocwatch.conf", debian_conf(rsyslog))
    httpd.ensure("RemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 127.0.0.1\n"
                 "Include %s\n" % inc, "event")
    return httpd


def pipelined(port, paths, ip):
    """All requests on one connection in one write (well within 1 s)."""
    reqs = []
    for i, p in enumerate(paths):
        last = i == len(paths) - 1
        reqs.append("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0\r\n"
                    "X-Forwarded-For: %s\r\nConnection: %s\r\n\r\n"
                    % (p, ip, "close" if last else "keep-alive"))
    _, resp = iwtest.http_raw(port, "".join(reqs).encode())
    return resp.count(b"HTTP/1.1 404 ")


def test_404_burst_fires_probing_correlation(server, rsyslog):
    ip, n = "198.18.%d.%d" % (os.getpid() % 250, 7), uuid.uuid4().hex[:8]
    m = rsyslog.mark()
    assert pipelined(server.port, ["/iwmin-%s/page%d" % (n, i) for i in range(30)], ip) == 30
    alerts = rsyslog.wait_alerts(
        m, 1, lambda a: get(a, "rule.id") == PROBING, timeout=15)
    a = alerts[0]
    assert get(a, "iocwatch.correlation.group.c-ip") == ip
    assert get(a, "iocwatch.correlation.type") == "value_count"
    assert get(a, "iocwatch.correlation.count") >= 10
    # the informational feeder feeds, it never alerts (below the level, and
    # generate: false)
    assert rsyslog.alerts(m, lambda a: get(a, "rule.id") in FEEDERS) == []
