# SPDX-License-Identifier: Apache-2.0
"""conf/rsyslog/20-iocwatch-mail.conf end to end: module -> real rsyslogd
running the shipped route -> ommail -> a local SMTP server (aiosmtpd)
receives the mail; alerts below the level send none; a burst sends one.
conf/cron/iocwatch-digest (the daily digest job) mails the report to it."""

import datetime
import email
import email.policy
import os
import re
import subprocess
import threading
import time
import uuid

import pytest

import iwtest
import iwroute

aiosmtpd = pytest.importorskip("aiosmtpd.controller")


class Inbox:
    def __init__(self):
        self.msgs = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.msgs.append((envelope.mail_from, list(envelope.rcpt_tos),
                              email.message_from_bytes(envelope.content,
                                                       policy=email.policy.default)))
        return "250 OK"

    def get(self):
        with self.lock:
            return list(self.msgs)


@pytest.fixture(scope="module")
def smtp():
    inbox = Inbox()
    port = iwtest.free_port()
    ctl = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    inbox.port = port
    yield inbox
    ctl.stop()


@pytest.fixture(scope="module")
def mailer(base_dir, smtp):
    rs = iwroute.Rsyslogd(base_dir, "rs-mail")
    rs.start(iwroute.shipped("20-iocwatch-mail.conf", {
        'port="25"': 'port="%d"' % smtp.port}))
    yield rs
    rs.stop()


def test_burst_of_high_alerts_sends_one_readable_mail(httpd, mailer, smtp, errlog):
    httpd.ensure('IocWatchRules "%s/basic.yml"\nIocWatchAlertTarget unix:%s\n'
                 % (iwtest.TEST_RULES, mailer.sock), "event")
    n = uuid.uuid4().hex[:10]
    # medium (rule B) and low (rule C) alerts: below the route's level
    for i in range(3):
        iwtest.http_get(httpd.port, "/iwpath-c/%s" % n,
                        headers={"User-Agent": "iwscanner-b"})
    time.sleep(1.0)
    assert smtp.get() == [], [m[2]["Subject"] for m in smtp.get()]
    # a scan: 60 high alerts (rule A) in a burst
    for i in range(60):
        iwtest.http_get(httpd.port, "/scan?q=iwattack-a&n=%s&i=%d" % (n, i))
    iwtest.wait_until(smtp.get, 10, what="a mail")
    time.sleep(2.0)                         # the rest of the burst would follow now
    msgs = smtp.get()
    assert len(msgs) == 1, [m[2]["Subject"] for m in msgs]
    frm, to, msg = msgs[0]
    assert frm == "iocwatch@localhost" and to == ["manager@example.org"]
    subject = str(msg["Subject"])
    assert subject == "[iocwatch] high alert: IW test A - marker in the query from 127.0.0.1"
    body = msg.get_body().get_content() if msg.is_multipart() else msg.get_content()
    # first the alert's own one-line `message`, then the fields.  The mail
    # carries the first alert rsyslog got, which need not be request 0's:
    # each child logs a request after answering it and sends its alerts
    # from its own queue, so across children they may arrive out of order
    first = re.match(r"\[high\] IW test A - marker in the query: 127\.0\.0\.1 GET "
                     r"/scan\?q=iwattack-a&n=%s&i=(\d+) -> 404;" % n, body)
    assert first and int(first.group(1)) < 60, body[:300]
    assert "Rule:     IW test A - marker in the query" in body
    assert "Rule id:  7b0c5a55-0000-4000-8000-00000000000a" in body
    assert "Client:   127.0.0.1" in body
    assert "Request:  GET /scan?q=iwattack-a&n=%s&i=%s\n" % (n, first.group(1)) in body
    assert "Status:   404" in body
    assert "Integration-test rule (query marker)." in body
    assert "{" not in body                  # fields, not raw JSON
    # rsyslogd -n writes every error and warning to stderr, most without the
    # word "error" ("suspended", "cannot", "not authorized"): a clean
    # delivery writes nothing there
    assert mailer.errors() == "", mailer.errors()


def test_daily_digest_job_mails_the_report(smtp, base_dir):
    """The shipped digest job: `iocwatch report` (text + HTML) mailed with
    curl to the SMTP server."""
    d = os.path.join(base_dir, "digest")
    os.makedirs(d, exist_ok=True)
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    log = "".join('203.0.113.%d - - [%s] "GET /x?q=iwattack-a HTTP/1.1" 404 1 "-" "iwscanner-b"\n'
                  % (i % 3, t.strftime("%d/%b/%Y:%H:%M:%S +0000")) for i in range(6))
    r = subprocess.run([iwtest.CLI, "scan", "--rules", os.path.join(iwtest.TEST_RULES, "basic.yml"),
                        "-"], input=log, capture_output=True, text=True, timeout=120)
    alerts = os.path.join(d, "alerts.json")
    with open(alerts, "w") as f:
        f.write(r.stdout)
    before = len(smtp.get())
    env = dict(os.environ, IOCWATCH_DIGEST_TO="manager@example.org, ciso@example.org",
               IOCWATCH_DIGEST_FROM="digest@example.org",
               IOCWATCH_DIGEST_SMTP="smtp://127.0.0.1:%d" % smtp.port,
               IOCWATCH_ALERTS=alerts, IOCWATCH=iwtest.CLI)
    job = os.path.join(iwtest.REPO, "conf", "cron", "iocwatch-digest")
    r = subprocess.run([job], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    msgs = smtp.get()[before:]
    assert len(msgs) == 1
    frm, to, msg = msgs[0]
    assert frm == "digest@example.org"
    assert to == ["manager@example.org", "ciso@example.org"]
    assert "12 alerts, 0 critical, 6 high (last 24h)" in str(msg["Subject"])
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "alerts: 12 (critical 0, high 6, medium 6" in text
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "203.0.113.1" in html
    # no recipient: a clear error, no mail
    env.pop("IOCWATCH_DIGEST_TO")
    r = subprocess.run([job], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "IOCWATCH_DIGEST_TO" in r.stderr
    assert len(smtp.get()) == before + 1
