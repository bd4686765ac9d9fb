"""Correlation across httpd's children (shared memory, locked per
partition by robust process-shared mutexes inside the block):
N requests from one client spread over several children trigger the
correlation alert exactly at the N-th; clients are counted apart; a burst
from 10,000 distinct clients fills the table with the documented eviction
and no crash; a graceful restart with unchanged rules keeps the counts.
Clients are faked with mod_remoteip (X-Forwarded-For from 127.0.0.1)."""

import socket
import threading
import time
import uuid

import pytest

import iwtest
from iwtest import get

CORR_ID = "7b0c5a55-0000-4000-8000-0000000000c5"
BASE_ID = "7b0c5a55-0000-4000-8000-0000000000c4"
N = 5

CORR_RULES = """\
title: IW test corr base - probe marker
id: 7b0c5a55-0000-4000-8000-0000000000c4
name: iw_corr_probe
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query|contains: 'iwcorr'
    condition: selection
level: low
---
title: IW test corr - 5 probes from one client in 60s
id: 7b0c5a55-0000-4000-8000-0000000000c5
status: test
correlation:
    type: event_count
    rules:
        - iw_corr_probe
    group-by:
        - c-ip
    timespan: 60s
    condition:
        gte: 5
level: high
"""

# prefork keeps an old `Mutex ... iocwatch-corr` line: accepted for
# compatibility and ignored (the table locks its partitions itself,
# docs/CORRELATION.md "Locking"), so it must not change the results
PREFORK = """\
Mutex flock iocwatch-corr
StartServers 5
MinSpareServers 5
MaxSpareServers 10
ServerLimit 16
MaxRequestWorkers 16
"""


def body(h, rs, shm="4M"):
    rules = h.write_rule("corr.yml", CORR_RULES)
    return """\
IocWatchRules "{rules}"
IocWatchAlertTarget unix:{sock}
IocWatchSharedMemory {shm}
RemoteIPHeader X-Forwarded-For
RemoteIPInternalProxy 127.0.0.1
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
LogFormat "%a %P" iwcorr
CustomLog "{log}" iwcorr
<Location /iw-status>
  SetHandler iocwatch-status
</Location>
""".format(rules=rules, sock=rs.sock, shm=shm, log=h.dir + "/logs/corr.log")


@pytest.fixture(scope="module", params=["prefork", "event"])
def mpm(request):
    return request.param


@pytest.fixture
def server(httpd, rsyslog, mpm):
    text = body(httpd, rsyslog) + (PREFORK if mpm == "prefork" else "")
    httpd.ensure(text, mpm)
    return httpd


class Conn:
    """A keep-alive connection: stays with one child (prefork) while open."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), 10)

    def get(self, target, client):
        req = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: iwtest\r\n"
               "X-Forwarded-For: %s\r\n\r\n" % (target, client)).encode()
        self.s.sendall(req)
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += self.s.recv(65536)
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


def corr_alerts(rs, since, client):
    return rs.alerts(since, lambda a: get(a, "rule.id") == CORR_ID
                     and client in str(get(a, "iocwatch.correlation")))


def client_ip():
    u = uuid.uuid4().int
    return "10.%d.%d.%d" % ((u >> 16) % 250 + 1, (u >> 8) % 250, u % 250 + 1)


def pids_for(h, client):
    with open(h.dir + "/logs/corr.log") as f:
        return {ln.split()[1] for ln in f if ln.split()[0] == client}


def test_nth_request_across_children(server, rsyslog, mpm):
    client = client_ip()
    m = rsyslog.mark()
    conns = [Conn(server.port) for _ in range(4)]
    try:
        for i in range(1, N + 2):
            c = conns[(i - 1) % len(conns)]
            assert c.get("/p%d?iwcorr=%d" % (i, i), client) == 404
            if i == N - 1:
                assert rsyslog.quiet(m, lambda a: get(a, "rule.id") == CORR_ID
                                     and client in str(a), wait=0.5) == [], \
                    "correlation alert before the %d-th request" % N
            if i == N:
                got = rsyslog.wait_alerts(m, 1, lambda a: get(a, "rule.id") == CORR_ID
                                          and client in str(a), settle=0.1)
                assert len(got) == 1
        time.sleep(0.8)
        got = corr_alerts(rsyslog, m, client)
        assert len(got) == 1, "exactly one alert: at the N-th, not at N+1"
        c = get(got[0], "iocwatch.correlation")
        assert c["count"] == N, c
        assert get(got[0], "source.ip") == client
        assert get(got[0], "log.level") == "high"
        # the base rule only feeds the correlation (generate: false)
        assert rsyslog.alerts(m, lambda a: get(a, "rule.id") == BASE_ID) == []
    finally:
        for c in conns:
            c.close()
    if mpm == "prefork":
        assert len(pids_for(server, client)) >= 4, "requests did not spread"


def test_two_clients_counted_apart(server, rsyslog):
    a, b = client_ip(), client_ip()
    m = rsyslog.mark()
    conns = [Conn(server.port) for _ in range(3)]
    try:
        for i in range(N - 1):
            conns[i % 3].get("/a?iwcorr=%d" % i, a)
            conns[(i + 1) % 3].get("/b?iwcorr=%d" % i, b)
        rsyslog.quiet(m, wait=0.5)
        assert corr_alerts(rsyslog, m, a) == [] and corr_alerts(rsyslog, m, b) == []
        conns[0].get("/a?iwcorr=last", a)
        rsyslog.wait_alerts(m, 1, lambda x: get(x, "rule.id") == CORR_ID, settle=0.5)
        assert len(corr_alerts(rsyslog, m, a)) == 1
        assert corr_alerts(rsyslog, m, b) == []
    finally:
        for c in conns:
            c.close()


def flood(port, clients, nthreads=4):
    """One request per client, over a few keep-alive connections."""
    errs = []

    def run(part):
        c = Conn(port)
        try:
            for ip in part:
                if c.get("/f?iwcorr=1", ip) != 404:
                    errs.append(ip)
        except OSError as e:
            errs.append(str(e))
        finally:
            c.close()
    ts = [threading.Thread(target=run, args=(clients[i::nthreads],))
          for i in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errs


def test_10000_clients_fill_small_table(httpd, rsyslog, mpm):
    """64 KiB table: a few hundred slots.  10,000 distinct clients fill it;
    the oldest groups are evicted (counted), nothing crashes, and the table
    still counts a new client exactly afterwards."""
    text = body(httpd, rsyslog, shm="64K") + (PREFORK if mpm == "prefork" else "")
    httpd.ensure(text, mpm)
    before = iwtest.status_page(httpd.port)
    clients = ["10.200.%d.%d" % (i // 250, i % 250 + 1) for i in range(10000)]
    errs = flood(httpd.port, clients)
    assert errs == []
    st = iwtest.settled_status(httpd.port, lambda st: st["corr_updates"]
                        - before.get("corr_updates", 0) >= 10000)
    assert st["corr_slots"] < 1000
    assert st["corr_used"] == st["corr_slots"]
    assert st["corr_updates"] - before.get("corr_updates", 0) >= 10000, st
    # every new group beyond the capacity took the slot of an older one
    assert st["corr_evictions"] + st.get("corr_recycled", 0) >= 10000 - st["corr_slots"]
    assert st["corr_lock_failures"] == 0
    # no child died holding a partition lock, no partition head was rebuilt
    assert st["corr_partitions"] >= 1, st
    assert st["corr_lock_recovered"] == before["corr_lock_recovered"], st
    assert st["corr_lock_repaired"] == before["corr_lock_repaired"], st
    assert httpd.alive()
    client = client_ip()
    m = rsyslog.mark()
    c = Conn(httpd.port)
    try:
        for i in range(N):
            c.get("/after?iwcorr=%d" % i, client)
    finally:
        c.close()
    got = rsyslog.wait_alerts(m, 1, lambda a: get(a, "rule.id") == CORR_ID
                              and client in str(a), settle=0.5)
    assert len(got) == 1


def test_graceful_restart_keeps_counts(httpd, rsyslog, mpm, errlog):
    text = body(httpd, rsyslog) + (PREFORK if mpm == "prefork" else "")
    httpd.ensure(text, mpm)
    client = client_ip()
    m = rsyslog.mark()
    c = Conn(httpd.port)
    for i in range(N - 2):
        c.get("/g?iwcorr=%d" % i, client)
    c.close()
    gen0 = iwtest.status_page(httpd.port)["mpm_generation"]
    httpd.restart(graceful=True)
    iwtest.wait_until(lambda: iwtest.status_page(httpd.port)["mpm_generation"] > gen0,
                      15, step=0.2, what="new generation")
    assert any("state table" in l and "kept" in l for l in errlog.new_lines())
    c = Conn(httpd.port)
    c.get("/g?iwcorr=a", client)
    assert rsyslog.quiet(m, lambda a: get(a, "rule.id") == CORR_ID, wait=0.5) == []
    c.get("/g?iwcorr=b", client)
    c.close()
    got = rsyslog.wait_alerts(m, 1, lambda a: get(a, "rule.id") == CORR_ID
                              and client in str(a), settle=0.3)
    assert len(got) == 1
    assert get(got[0], "iocwatch.correlation")["count"] == N
