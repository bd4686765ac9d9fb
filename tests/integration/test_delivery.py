# SPDX-License-Identifier: Apache-2.0
"""The alert path never slows a request: targets of every transport and
format land in rsyslog; with the socket missing, a listener that never
reads, or a flood, requests stay fast, drops are counted exactly (status
page) and reported once the path recovers; each sender logs one line
when delivery starts failing and one when it recovers (IW0021, IW0022)."""

import os
import re
import statistics
import threading
import time


import iwtest
from iwtest import by_url, get, nonce

RULE_A = "7b0c5a55-0000-4000-8000-00000000000a"

# one child process, so the status page shows every counter of the server
ONE_CHILD = """\
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MaxRequestWorkers 16
MinSpareThreads 1
MaxSpareThreads 16
"""


def flood_rules(h, n=40):
    docs = []
    for i in range(n):
        docs.append("""\
title: IW flood rule {i}
id: 7b0c5a55-0000-4000-8000-0000000f{i:04d}
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query|contains: 'iwflood'
    condition: selection
level: medium
""".format(i=i))
    return h.write_rule("flood.yml", "---\n".join(docs))


def base(rules, target, extra=""):
    return """\
{one}
IocWatchRules {rules}
IocWatchAlertTarget {target}
IocWatchQueueSize 8
<Location /iw-status>
  SetHandler iocwatch-status
</Location>
<Location /off>
  IocWatch Off
</Location>
{extra}
""".format(one=ONE_CHILD, rules=rules, target=target, extra=extra)


def timed_requests(port, path_fmt, count):
    """Sequential requests; returns the list of durations (s)."""
    out = []
    for i in range(count):
        t = time.monotonic()
        st, _ = iwtest.http_get(port, path_fmt % i)
        out.append(time.monotonic() - t)
        assert st in (200, 404), st
    return out


def assert_not_slower(on, off):
    """Generous bound (no benchmark): the module-on requests must not wait
    for the alert path.  A blocking send would add >= 100 ms to each, so
    the medians tell; a busy machine stalling one or two requests of either
    series does not move them (means and maxima it does)."""
    on_med, off_med = statistics.median(on), statistics.median(off)
    assert max(on) < 5.0, max(on)
    assert on_med < off_med * 5 + 0.05, (on_med, off_med)


def counted(port, total, before=None):
    """The status page once the `total` alerts raised since `before` are
    counted and accounted for (queued or dropped): httpd counts in
    log_transaction, after the response went out, so the last request's
    alert may not be counted yet when its response arrives."""
    b = before or {"alerts": 0, "queued": 0, "dropped": 0}
    return iwtest.settled_status(port, lambda s: s["alerts"] - b["alerts"] >= total and
                                 s["queued"] + s["dropped"] - b["queued"] - b["dropped"]
                                 >= total)


# ------------------------------------------------------------- transports

def test_transports_and_formats(httpd, rsyslog):
    """One vhost per target: udp (RFC 5424), tcp (RFC 5424, octet
    counting), unix datagram with JSON, unix datagram RFC 3164 with a
    custom facility."""
    rules = '"%s/basic.yml"' % iwtest.TEST_RULES
    vh = ""
    targets = {
        "udp.test": ("udp://127.0.0.1:%d" % rsyslog.udp_port, ""),
        "tcp.test": ("tcp://127.0.0.1:%d" % rsyslog.tcp_port, ""),
        "json.test": ("unix:" + rsyslog.sock, "IocWatchAlertFormat json"),
        "fac.test": ("unix:" + rsyslog.sock, "IocWatchSyslogFacility local5"),
    }
    for name, (t, extra) in targets.items():
        vh += """<VirtualHost 127.0.0.1:{port}>
  ServerName {name}
  IocWatchAlertTarget {t}
  {extra}
</VirtualHost>
""".format(port=httpd.port, name=name, t=t, extra=extra)
    httpd.ensure(base(rules, "unix:" + rsyslog.sock, vh), "event")
    m = rsyslog.mark()
    ns = {}
    for name in targets:
        ns[name] = nonce()
        iwtest.http_get(httpd.port, "/x?n=%s&q=iwattack-a" % ns[name], {"Host": name})
    got = {name: rsyslog.wait_alerts(m, 1, by_url(n), settle=0.1)
           for name, n in ns.items()}
    rsyslog.quiet(m, wait=0.3)
    for name, alerts in got.items():
        assert len(alerts) == 1, (name, alerts)
        assert get(alerts[0], "rule.id") == RULE_A
    # PRI = facility * 8 + severity (high -> 3)
    assert got["udp.test"][0]["_syslog_header"].startswith("<131>1 ")
    assert " iocwatch " in got["udp.test"][0]["_syslog_header"]
    assert got["tcp.test"][0]["_syslog_header"].startswith("<131>1 ")
    assert got["json.test"][0]["_syslog_header"] == ""
    assert got["fac.test"][0]["_syslog_header"].startswith("<%d>" % (21 * 8 + 3))


# ------------------------------------------------------- failing targets

def delivery_notes(lines, target):
    """{pid: [tags]} of the module's "delivery failing" (IW0021) and
    "delivery recovered" (IW0022) lines for `target`, in order."""
    out = {}
    for ln in lines:
        m = re.search(r"\[pid (\d+).*(IW002[12]): iocwatch: alert target (\S+): ", ln)
        if m and m.group(3) == target:
            out.setdefault(m.group(1), []).append(m.group(2))
    return out


def test_missing_socket_then_recovery(httpd, rsyslog, errlog):
    path = os.path.join(httpd.dir, "run", "late.sock")
    if os.path.exists(path):
        os.unlink(path)
    rules = '"%s/basic.yml"' % iwtest.TEST_RULES
    httpd.ensure(base(rules, "unix:" + path), "event")
    n = nonce()
    off = timed_requests(httpd.port, "/off/x?i=%d&q=iwattack-a", 30)
    on = timed_requests(httpd.port, "/on/x?i=%%d&n=%s&q=iwattack-a" % n, 30)
    assert_not_slower(on, off)
    st = counted(httpd.port, 30)
    assert st["alerts"] == 30
    # every alert is either in the queue (8 slots + at most one held by the
    # sender) or counted as dropped: exact accounting
    assert st["queued"] + st["dropped"] == 30, st
    assert 30 - 9 <= st["dropped"] <= 30 - 8, st
    assert st["sent"] == 0

    sink = iwtest.Sink("unix", path)
    try:
        # the sender retries with backoff (<= 5 s): queued alerts arrive,
        # then one "N alerts dropped" alert
        iwtest.wait_until(lambda: any(get(a, "rule.id") == "iocwatch-dropped"
                                      for a in sink.alerts()), 15, step=0.2,
                          what="drop report")
        # the report goes out after the first successful send, before the
        # rest of the queue (iw_notify.c step()): wait for those too
        iwtest.wait_until(lambda: len(sink.alerts(by_url(n))) >= st["queued"], 10,
                          what="queued alerts")
        time.sleep(0.3)
        got = sink.alerts(by_url(n))
        assert len(got) == st["queued"]
        rep = [a for a in sink.alerts() if get(a, "rule.id") == "iocwatch-dropped"]
        assert len(rep) == 1
        assert get(rep[0], "iocwatch.dropped") == st["dropped"]
        st2 = iwtest.status_page(httpd.port)
        assert st2["dropped"] == st["dropped"]
        assert st2["drop_reports"] == 1
    finally:
        sink.close()
    # each sender said once that delivery fails, and once that it recovered
    # (not once per retry); both at warn, so they are expected here
    errlog.expect(r"IW002[12]: iocwatch: alert target unix:" + re.escape(path))

    def both():
        d = delivery_notes(errlog.new_lines(), "unix:" + path)
        return d if d and all(len(v) >= 2 for v in d.values()) else None
    notes = iwtest.wait_until(both, 5, what="IW0022 after IW0021")
    assert all(v == ["IW0021", "IW0022"] for v in notes.values()), notes


def test_stalled_listener_then_recovery(httpd, rsyslog):
    path = os.path.join(httpd.dir, "run", "stall.sock")
    if os.path.exists(path):
        os.unlink(path)
    sink = iwtest.Sink("unix-stream", path, stalled=True)
    try:
        rules = '"%s/basic.yml"' % iwtest.TEST_RULES
        httpd.ensure(base(rules, "unix-stream:" + path), "event")
        n = nonce()
        # a long query makes each alert large, so the socket buffer fills
        pad = "p" * 3000
        off = timed_requests(httpd.port, "/off/x?i=%d&q=iwattack-a", 40)
        on = timed_requests(httpd.port, "/on/x?i=%%d&n=%s&q=iwattack-a&%s" % (n, pad), 400)
        assert_not_slower(on, off)
        st = counted(httpd.port, 400)
        assert st["alerts"] == 400
        assert st["dropped"] > 0, st
        assert st["queued"] + st["dropped"] == 400, st

        sink.resume()
        iwtest.wait_until(lambda: any(get(a, "rule.id") == "iocwatch-dropped"
                                      for a in sink.alerts()), 15, step=0.2,
                          what="drop report")
        iwtest.wait_until(lambda: len(sink.alerts(by_url(n))) >= st["queued"], 10,
                          what="queued alerts")
        time.sleep(0.3)
        assert len(sink.alerts(by_url(n))) == st["queued"]
        # a report follows each successful send after losses: the socket
        # buffer may have taken a few alerts between drops, so there can be
        # more than one; together they account for every drop
        rep = [a for a in sink.alerts() if get(a, "rule.id") == "iocwatch-dropped"]
        assert rep
        assert sum(get(a, "iocwatch.dropped") for a in rep) == st["dropped"]
        assert iwtest.status_page(httpd.port)["drop_reports"] == len(rep)
    finally:
        sink.close()


def test_flood_counted_exactly(httpd, rsyslog):
    """40 rules match one request: 8 parallel requests raise 320 alerts at
    once into an 8-slot queue.  What rsyslog receives plus what was dropped
    is exactly what was raised, and any loss is reported.  (Whether the
    sender keeps up depends on scheduling; the stalled and missing targets
    above force drops deterministically.)"""
    rules = '"%s"' % flood_rules(httpd)
    httpd.ensure(base(rules, "unix:" + rsyslog.sock), "event")
    before = iwtest.status_page(httpd.port)
    n = nonce()
    m = rsyslog.mark()
    threads = [threading.Thread(target=iwtest.http_get,
                                args=(httpd.port, "/x?n=%s-%d&q=iwflood" % (n, i)))
               for i in range(8)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - t0 < 5
    st = counted(httpd.port, 8 * 40, before)
    raised = st["alerts"] - before["alerts"]
    assert raised == 8 * 40
    dropped = st["dropped"] - before["dropped"]
    if dropped:
        iwtest.wait_until(lambda: any(get(a, "rule.id") == "iocwatch-dropped"
                                      for a in rsyslog.alerts(m)), 10,
                          what="drop report")
    iwtest.wait_until(lambda: len(rsyslog.alerts(m, by_url(n))) + dropped >= raised,
                      10, what="all queued alerts")
    got = rsyslog.quiet(m, by_url(n), wait=0.3)
    assert len(got) + dropped == raised
    reports = [a for a in rsyslog.alerts(m) if get(a, "rule.id") == "iocwatch-dropped"]
    assert sum(get(a, "iocwatch.dropped") for a in reports) == dropped
