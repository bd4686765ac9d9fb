# SPDX-License-Identifier: Apache-2.0
"""conf/rsyslog/21-iocwatch-siem-tls.conf (omfwd over TLS, RFC 5424,
octet-counted, certificates checked both ways) and 22-iocwatch-siem-relp.conf
(RELP over TLS), each with its disk-assisted queue, from a real rsyslogd to
a second real rsyslogd running the shipped siem-receiver.conf; certificates
made with certtool.  Every alert of a burst arrives, and alerts raised while
the receiver is down arrive once it is back."""

import json
import os
import subprocess
import time
import uuid

import pytest

import iwtest
import iwroute

ROUTES = {"tls": "21-iocwatch-siem-tls.conf", "relp": "22-iocwatch-siem-relp.conf"}


@pytest.fixture(scope="module")
def certs(base_dir):
    return iwroute.make_certs(os.path.join(base_dir, "tls"))


def cert_subst(certs, side):
    """Certificate paths of the shipped files -> the test's."""
    return {"/etc/iocwatch/tls/ca.pem": certs["ca"],
            "/etc/iocwatch/tls/%s-cert.pem" % side: certs["%s-cert" % side],
            "/etc/iocwatch/tls/%s-key.pem" % side: certs["%s-key" % side]}


class Receiver:
    def __init__(self, base, name, certs):
        self.rs = iwroute.Rsyslogd(base, name, with_sock=False)
        self.tcp_port, self.relp_port = iwtest.free_port(), iwtest.free_port()
        self.out = self.rs.path("received.json")
        self.certs = certs

    def start(self):
        s = cert_subst(self.certs, "server")
        s.update({'input(type="imtcp" port="6514"':
                  'input(type="imtcp" address="127.0.0.1" port="%d"' % self.tcp_port,
                  'input(type="imrelp" port="2514"':
                  'input(type="imrelp" address="127.0.0.1" port="%d"' % self.relp_port,
                  "/var/log/iocwatch/received.json": self.out})
        self.rs.start(iwroute.shipped("siem-receiver.conf", s),
                      ready=lambda: self._listening())

    def _listening(self):
        """Both ports listening (read from /proc: a probe connection would
        be a failed TLS handshake in the receiver's log)."""
        with open("/proc/net/tcp") as f:
            rows = [l.split() for l in f.read().splitlines()[1:]]
        ports = {int(r[1].rsplit(":", 1)[1], 16) for r in rows if r[3] == "0A"}
        return {self.tcp_port, self.relp_port} <= ports

    def alerts(self, n):
        if not os.path.exists(self.out):
            return []
        with open(self.out, errors="replace") as f:
            done = f.read().split("\n")[:-1]   # the last line may be half written
        return [json.loads(l) for l in done if l and n in l]


@pytest.fixture(scope="module", params=["tls", "relp"])
def route(request, base_dir, certs):
    kind = request.param
    rcv = Receiver(base_dir, "rcv-" + kind, certs)
    rcv.start()
    snd = iwroute.Rsyslogd(base_dir, "snd-" + kind)
    s = cert_subst(certs, "client")
    s.update({'target="siem.example.org"': 'target="127.0.0.1"',
              'action.resumeInterval="10"': 'action.resumeInterval="1"'})
    if kind == "tls":
        s.update({'port="6514"': 'port="%d"' % rcv.tcp_port,
                  'StreamDriverPermittedPeers="siem.example.org"':
                  'StreamDriverPermittedPeers="localhost"'})
    else:
        s.update({'port="2514"': 'port="%d"' % rcv.relp_port,
                  'tls.permittedPeer=["siem.example.org"]': 'tls.permittedPeer=["localhost"]'})
    snd.start(iwroute.shipped(ROUTES[kind], s))
    yield kind, snd, rcv
    snd.stop()
    rcv.rs.stop()


def send(httpd, sock, n, count):
    httpd.ensure('IocWatchRules "%s/basic.yml"\nIocWatchAlertTarget unix:%s\n'
                 % (iwtest.TEST_RULES, sock), "event")
    for i in range(count):
        st, _ = iwtest.http_get(httpd.port, "/siem?q=iwattack-a&n=%s&i=%d" % (n, i))
        assert st == 404


def test_every_alert_of_a_burst_arrives(httpd, route):
    kind, snd, rcv = route
    n = uuid.uuid4().hex[:10]
    send(httpd, snd.sock, n, 200)
    iwtest.wait_until(lambda: len(rcv.alerts(n)) >= 200, 15, step=0.1,
                      what="200 alerts at the receiver (%s)" % kind)
    time.sleep(0.3)
    got = rcv.alerts(n)
    assert len(got) == 200
    assert sorted(int(a["url"]["original"].rsplit("=", 1)[1]) for a in got) == list(range(200))
    assert all(a["rule"]["id"] == "7b0c5a55-0000-4000-8000-00000000000a" for a in got)
    # rsyslogd -n writes every error and warning to stderr, most without the
    # word "error" ("suspended", "cannot", "not authorized"): a clean
    # delivery writes nothing there
    for r in (snd, rcv.rs):
        assert r.errors() == "", r.errors()


def test_alerts_raised_while_receiver_is_down_arrive_later(httpd, route):
    kind, snd, rcv = route
    n0 = uuid.uuid4().hex[:10]
    send(httpd, snd.sock, n0, 1)            # a live connection first
    iwtest.wait_until(lambda: rcv.alerts(n0), 10, what="first alert")
    rcv.rs.stop()
    n = uuid.uuid4().hex[:10]
    send(httpd, snd.sock, n, 30)
    time.sleep(1.5)                         # the sender notices, queues, retries
    rcv.start()
    iwtest.wait_until(lambda: len(rcv.alerts(n)) >= 30, 20, step=0.2,
                      what="30 queued alerts after the receiver came back (%s)" % kind)
    time.sleep(0.5)
    assert sorted(int(a["url"]["original"].rsplit("=", 1)[1])
                  for a in rcv.alerts(n)) == list(range(30))


@pytest.mark.parametrize("route", ["tls"], indirect=True)
def test_receiver_refuses_an_unknown_client_certificate(base_dir, certs, route):
    """Certificate validation: a sender whose certificate names a peer the
    receiver does not permit gets nothing through (checked on the TLS
    route with the receiver's own certificate as the client's)."""
    kind, snd, rcv = route
    assert kind == "tls"
    bad = iwroute.Rsyslogd(base_dir, "snd-bad")
    text = iwroute.shipped(ROUTES["tls"], {
        "/etc/iocwatch/tls/ca.pem": certs["ca"],
        "/etc/iocwatch/tls/client-cert.pem": certs["server-cert"],   # CN localhost
        "/etc/iocwatch/tls/client-key.pem": certs["server-key"],
        'target="siem.example.org"': 'target="127.0.0.1"',
        'port="6514"': 'port="%d"' % rcv.tcp_port,
        'StreamDriverPermittedPeers="siem.example.org"':
        'StreamDriverPermittedPeers="localhost"'})
    bad.start(text)
    try:
        n = uuid.uuid4().hex[:10]
        subprocess.run(["logger", "-u", bad.sock, "-t", "iocwatch",
                        '{"rule":{"id":"x"},"url":{"original":"/%s"}}' % n], timeout=10)
        iwtest.wait_until(lambda: "peer name not authorized" in rcv.rs.errors(), 10,
                          what="the receiver refusing the certificate")
        time.sleep(0.5)
        assert rcv.alerts(n) == []
    finally:
        bad.stop()
