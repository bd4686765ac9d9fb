# SPDX-License-Identifier: Apache-2.0
"""conf/fail2ban (filter + jail) with a real fail2ban-server reading the
alerts.json that a real rsyslogd writes with conf/rsyslog/30-iocwatch.conf
from the module's alerts.  The ban action only records the address.  An
attack burst bans its client; low-level alerts and an allow-listed network
do not.  fail2ban-regex checks each mode of the filter, the client of a
correlation alert without request fields, and that the alert's own
@timestamp (UTC) is the time used."""

import os
import shutil
import subprocess
import time
import uuid

import pytest

import iwtest
import iwroute

F2B_SERVER = os.environ.get("IW_F2B_SERVER", "/usr/bin/fail2ban-server")
F2B_REGEX = os.environ.get("IW_F2B_REGEX", "/usr/bin/fail2ban-regex")
F2B_CONF = os.path.join(iwtest.REPO, "conf", "fail2ban")
ALLOWED_NET = "192.0.2.0/24"


def jail_conf(alerts, bans):
    """The shipped jail with the test's paths, allow-list and a recording
    ban action (the shipped ignoreip line gets the allow-listed network,
    as an admin would add theirs)."""
    with open(os.path.join(F2B_CONF, "jail.d", "iocwatch.conf")) as f:
        text = f.read()
    for old, new in [("/var/log/iocwatch/alerts.json", alerts),
                     ("backend  = auto", "backend  = polling"),
                     ("ignoreip = 127.0.0.1/8 ::1", "ignoreip = 127.0.0.1/8 ::1 " + ALLOWED_NET)]:
        assert old in text
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def pipeline(base_dir):
    """rsyslogd (30-iocwatch.conf) -> alerts.json <- fail2ban-server."""
    rs = iwroute.Rsyslogd(base_dir, "rs-f2b")
    alerts = rs.path("alerts.json")
    rs.start(iwroute.shipped("30-iocwatch.conf", {"/var/log/iocwatch/alerts.json": alerts}))
    open(alerts, "a").close()
    d = os.path.join(base_dir, "fail2ban")
    for sub in ("filter.d", "action.d", "jail.d"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    shutil.copy(os.path.join(F2B_CONF, "filter.d", "iocwatch.conf"), os.path.join(d, "filter.d"))
    bans = os.path.join(d, "bans.txt")
    open(bans, "w").close()
    with open(os.path.join(d, "fail2ban.conf"), "w") as f:
        f.write("[Definition]\nloglevel = INFO\nlogtarget = %s\nsocket = %s\n"
                "pidfile = %s\ndbfile = :memory:\nallowipv6 = auto\ndbpurgeage = 1d\n"
                "syslogsocket = auto\n" % (os.path.join(d, "fail2ban.log"),
                                                      os.path.join(d, "f2b.sock"),
                                                      os.path.join(d, "f2b.pid")))
    with open(os.path.join(d, "action.d", "iwrecord.conf"), "w") as f:
        f.write("[Definition]\nactionstart =\nactionstop =\nactioncheck =\n"
                "actionban = echo <ip> >> <file>\nactionunban =\n"
                "[Init]\nfile = /dev/null\n")
    with open(os.path.join(d, "jail.conf"), "w") as f:
        f.write("[DEFAULT]\naction = iwrecord[file=\"%s\"]\n" % bans)
    with open(os.path.join(d, "jail.d", "iocwatch.conf"), "w") as f:
        f.write(jail_conf(alerts, bans))
    log = open(os.path.join(d, "stderr"), "w")
    proc = subprocess.Popen([F2B_SERVER, "-f", "-x", "-c", d, "-s", os.path.join(d, "f2b.sock"),
                             "-p", os.path.join(d, "f2b.pid")],
                            stdout=log, stderr=subprocess.STDOUT)
    f2blog = os.path.join(d, "fail2ban.log")
    try:
        iwtest.wait_until(lambda: proc.poll() is not None or (
            os.path.exists(f2blog) and "Jail 'iocwatch' started" in open(f2blog).read()),
            20, step=0.1, what="fail2ban jail started")
        assert proc.poll() is None, open(os.path.join(d, "stderr")).read()
        yield rs, alerts, bans, f2blog
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        rs.stop()


def banned(bans):
    with open(bans) as f:
        return [l.strip() for l in f if l.strip()]


def test_attack_bans_client_but_not_benign_or_allow_listed(httpd, pipeline):
    rs, alerts, bans, f2blog = pipeline
    httpd.ensure('IocWatchRules "%s/basic.yml"\nIocWatchAlertTarget unix:%s\n'
                 'RemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 127.0.0.1\n'
                 % (iwtest.TEST_RULES, rs.sock), "event")
    n = uuid.uuid4().hex[:8]
    attacker, benign, allowed = "198.51.100.7", "198.51.100.8", "192.0.2.9"

    def req(ip, target, ua="iwtest/1.0"):
        iwtest.http_get(httpd.port, target, headers={"X-Forwarded-For": ip, "User-Agent": ua})
    for i in range(5):
        req(benign, "/index.html?n=%s" % n)          # no alert
        req(benign, "/iwpath-c/%s/%d" % (n, i))      # a low-level alert
        req(allowed, "/x?q=iwattack-a&n=%s&i=%d" % (n, i))   # high, allow-listed
    iwtest.wait_until(lambda: open(alerts).read().count(n) >= 10, 10, what="10 alerts in the file")
    for i in range(4):
        req(attacker, "/x?q=iwattack-a&n=%s&i=%d" % (n, i))  # high: maxretry 3
    iwtest.wait_until(lambda: attacker in banned(bans), 15, step=0.2, what="the attacker banned")
    time.sleep(1.5)                                  # another polling round
    assert banned(bans) == [attacker]
    log = open(f2blog).read()
    assert "[iocwatch] Ban %s" % attacker in log
    assert "[iocwatch] Ignore %s by ip" % allowed in log   # seen, matched, ignored
    assert benign not in log
    bad = [l for l in log.splitlines() if (" ERROR " in l or " WARNING " in l)
           and "New database created" not in l]        # the in-memory database
    assert not bad, bad


def regex(lines_file, opts):
    r = subprocess.run([F2B_REGEX, "-v", lines_file,
                        "%s/filter.d/iocwatch.conf[%s]" % (F2B_CONF, opts)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    hits = []
    for ln in r.stdout.splitlines():
        parts = ln.strip("|` ").split()
        if len(parts) >= 6 and parts[0].count(".") == 3 and parts[-1].isdigit():
            hits.append((parts[0], " ".join(parts[1:])))
    return hits


def test_filter_modes_client_and_timestamp(base_dir):
    """Each mode on alerts the CLI renders with the module's renderer."""
    d = os.path.join(base_dir, "f2b-regex")
    os.makedirs(d, exist_ok=True)
    log = "".join(
        ['10.0.0.7 - - [06/Dec/2026:10:00:00 +0000] "GET /x?q=iwattack-a HTTP/1.1" 404 1 "-" "iwscanner-b"\n',
         '10.0.0.8 - - [06/Dec/2026:10:00:00 +0000] "GET /iwpath-c/ HTTP/1.1" 404 1 "-" "x"\n'])
    corr = "".join('10.0.0.9 - - [06/Dec/2026:11:00:0%d +0000] "GET /nope%d HTTP/1.1" 404 1 "-" "x"\n'
                   % (i, i) for i in range(1, 6))

    def scan(text, rules):
        r = subprocess.run([iwtest.CLI, "scan", "--rules", os.path.join(iwtest.TEST_RULES, rules), "-"],
                           input=text, capture_output=True, text=True, timeout=120)
        return [l for l in r.stdout.splitlines() if l.startswith("{")]
    lines = scan(log, "basic.yml") + [l for l in scan(corr, "corr_urgent.yml") if '"correlation"' in l]
    assert len(lines) == 4, lines          # A (high) + B (medium) for .7, C (low) for .8, correlation
    # a correlation alert closed on behalf of another request: no request
    # fields, the client only in its group
    c = lines[3]
    cut = c[:c.index(',"source":')] + c[c.index(',"http":'):]
    assert '"source"' not in cut and '"group":{"c-ip":"10.0.0.9"}' in cut
    lines.append(cut.replace("10.0.0.9", "10.0.0.10"))
    path = os.path.join(d, "alerts.json")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")

    assert sorted(ip for ip, _ in regex(path, "mode=level")) == ["10.0.0.7", "10.0.0.9"]
    assert [ip for ip, _ in regex(path, 'mode=level, levels="low"')] == ["10.0.0.8"]
    assert [ip for ip, _ in regex(path, 'mode=rule, rules="7b0c5a55-0000-4000-8000-00000000000b"')] \
        == ["10.0.0.7"]
    assert [ip for ip, _ in regex(path, r'mode=tag, tags="attack\.t1190"')] == ["10.0.0.7"]
    assert sorted(ip for ip, _ in regex(path, "mode=correlation")) == ["10.0.0.10", "10.0.0.9"]
    hits = regex(path, "mode=any")
    assert len(hits) == 4                  # the cut correlation alert has no source.ip
    # the alert's own time, read as UTC whatever the local zone
    env = dict(os.environ, TZ="UTC")
    r = subprocess.run([F2B_REGEX, "-v", path, "%s/filter.d/iocwatch.conf[mode=correlation]" % F2B_CONF],
                       capture_output=True, text=True, timeout=60, env=env)
    assert "10.0.0.9  Sun Dec 06 11:00:05 2026" in r.stdout, r.stdout
