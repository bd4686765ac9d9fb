# SPDX-License-Identifier: Apache-2.0
"""Which process sends what (docs/MODULE.md "Alerts"): no alert leaves from
the parent process, which runs as root when httpd starts as root.  Request
alerts are sent by the children; the parent's own alerts (error-log entries
the parent writes, here AH00494 "SIGHUP received") go through a relay
process that runs as httpd's User.  The sink is a unix datagram socket with
SO_PASSCRED: the kernel tells the sending process's pid and uid."""

import json
import subprocess
import os
import pwd
import socket
import struct
import threading
import uuid

import pytest

import iwtest
from iwtest import get

RULES = """\
title: IW test P - parent restart notice
id: 7b0c5a55-0000-4000-8000-0000000000f1
status: test
logsource:
    service: apache
detection:
    keywords:
        - 'SIGHUP received'
    condition: keywords
level: low
---
title: IW test R - request marker
id: 7b0c5a55-0000-4000-8000-0000000000f2
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query|contains: 'iwpriv-attack'
    condition: selection
level: high
"""


class CredSink:
    """Unix datagram receiver: each message with the sender's (pid, uid)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.settimeout(0.2)
        self.msgs = []
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        size = socket.CMSG_SPACE(struct.calcsize("iII"))
        while not self.stop:
            try:
                data, anc, _, _ = self.sock.recvmsg(65536, size)
            except socket.timeout:
                continue
            except OSError:
                return
            pid = uid = None
            for lvl, typ, d in anc:
                if lvl == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
                    pid, uid, _ = struct.unpack("iII", d[:struct.calcsize("iII")])
            text = data.decode("utf-8", "replace")
            i = text.find("{")
            if i >= 0:
                self.msgs.append((pid, uid, json.loads(text[i:])))

    def wait(self, pred, timeout=10):
        return iwtest.wait_until(lambda: [m for m in self.msgs if pred(m[2])], timeout,
                                 what="an alert at the sink")

    def close(self):
        self.stop = True
        self.t.join(2)
        self.sock.close()


def ppid_of(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for ln in f:
                if ln.startswith("PPid:"):
                    return int(ln.split()[1])
    except OSError:                 # gone meanwhile
        pass
    return None


@pytest.fixture
def sink(httpd):
    s = CredSink(os.path.join(httpd.dir, "run", "cred.sock"))
    yield s
    s.close()


def test_parent_alerts_leave_through_unprivileged_relay(httpd, rsyslog, sink):
    rule = httpd.write_rule("priv.yml", RULES)
    httpd.ensure('IocWatchRules "%s"\nIocWatchAlertTarget unix:%s\n'
                 % (rule, sink.sock.getsockname()), "event")
    parent = httpd.pid()
    user_uid = pwd.getpwnam("nobody").pw_uid if iwtest.IS_ROOT else os.getuid()

    # a request alert: sent by a child, as User
    n = uuid.uuid4().hex[:10]
    iwtest.http_get(httpd.port, "/x?n=%s&q=iwpriv-attack" % n)
    (pid, uid, a), = sink.wait(lambda a: n in (get(a, "url.original") or ""))
    assert uid == user_uid and pid != parent and ppid_of(pid) == parent

    # the parent's own entry: AH00494 is logged by the parent (process.pid),
    # the alert is sent by the relay: not the parent, not root
    httpd.restart()
    (pid, uid, a), = sink.wait(lambda a: get(a, "rule.id") ==
                               "7b0c5a55-0000-4000-8000-0000000000f1")
    assert get(a, "process.pid") == parent
    assert pid != parent, "the parent sent its own alert"
    assert uid == user_uid, "sent as uid %d" % uid
    # that was the previous generation's relay: it flushed, exited with
    # the restart and was reaped (no zombie left for the MPM to meet)
    iwtest.wait_until(lambda: not os.path.exists("/proc/%d" % pid), 15,
                      what="the old relay reaped")
    # the new generation's parent alerts go the same way
    m = len(sink.msgs)
    httpd.restart()
    iwtest.wait_until(lambda: [x for x in sink.msgs[m:] if get(x[2], "rule.id") ==
                               "7b0c5a55-0000-4000-8000-0000000000f1"], 10,
                      what="the second restart's alert")
    (pid2, uid2, _), = [x for x in sink.msgs[m:] if get(x[2], "rule.id") ==
                        "7b0c5a55-0000-4000-8000-0000000000f1"]
    assert pid2 not in (parent, pid) and uid2 == user_uid


def test_one_process_mode_has_no_relay(base_dir, rsyslog):
    """httpd -X (one process, its own child): no relay process is forked
    (bench_instr runs httpd -X under callgrind), and alerts still go out
    from that process's own sender."""
    h = iwtest.Httpd(base_dir, "h_privileges_x")
    rule = h.write_rule("priv.yml", RULES)
    with open(h.conf, "w") as f:
        f.write(h.render('IocWatchRules "%s"\nIocWatchAlertTarget unix:%s\n'
                         % (rule, rsyslog.sock), "event"))
    p = subprocess.Popen(h._cmd("-X"), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=h._env())
    try:
        iwtest.wait_until(h._up, 120, what="httpd -X up")
        kids = [int(k) for k in os.listdir("/proc") if k.isdigit()
                and os.path.exists("/proc/%s/status" % k) and ppid_of(int(k)) == p.pid]
        assert kids == [], kids
        n = uuid.uuid4().hex[:10]
        m = rsyslog.mark()
        iwtest.http_get(h.port, "/x?n=%s&q=iwpriv-attack" % n)
        rsyslog.wait_alerts(m, 1, lambda a: n in (get(a, "url.original") or ""))
    finally:
        p.terminate()
        p.wait(15)
