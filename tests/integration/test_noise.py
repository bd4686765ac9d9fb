# SPDX-License-Identifier: Apache-2.0
"""Noise an admin can live with (module defaults): one client's directory
brute force -- 10,000 requests for word-list paths, as gobuster sends them,
within a minute -- against the shipped pack gives at most 20 alerts in all,
and every rule that matches still alerts at least once.  Two mechanisms
(docs/MODULE.md, docs/CORRELATION.md): IocWatchSuppress is on by default
(60 s: the first alert of each rule per client goes out, later ones are
counted into the next), and a correlation alert fires once per group and
timespan window, not at every re-crossing of its threshold.  The client
comes via X-Forwarded-For + mod_remoteip; loopback only, bounded."""

import os
import subprocess
import threading

import iwtest
from iwtest import get

PACK = os.path.join(iwtest.REPO, "conf", "rules")
N = 10000
IP = "198.51.100.77"

WORDS = """admin administrator backup backups bak old new test tests tmp temp dev staging api v1 v2
config configs conf settings setup install login logout register user users account accounts upload
uploads files file download downloads images img css js static assets media data db database sql dump
logs log debug console panel cpanel dashboard manager private secret hidden internal portal web www
site home index default main app apps application services service cgi-bin scripts include includes
lib libs vendor modules plugins themes templates cache archive archives export import report reports
stats status info phpinfo server shop store cart checkout order orders payment blog news forum wiki docs
doc help support contact about search feed rss mail email webmail crm erp cms editor edit beta demo
example sample bkp copy orig save wp wordpress joomla drupal magento products product catalog category
categories gallery photos video videos music events calendar jobs careers team staff members member
profile profiles signup signin auth oauth token session sessions password reset forgot verify""".split()
SUFFIXES = ["", "/", ".php", ".html", ".htm", ".asp", ".aspx", ".jsp", ".txt", ".bak", ".old",
            ".zip", ".tar.gz", ".sql", ".json", ".xml", ".cfg", ".conf", ".inc", ".log", "1", "2",
            "_old", "-backup", ".orig", ".swp", "~", ".save", ".tmp", ".dist", ".yml", ".ini",
            "/index.php", "/login", "/admin", "/config.php", "/.git/HEAD", "/.svn/entries",
            "/backup.zip", ".do", ".cgi", ".pl", "/test", "/old", "/new", "2020", "2021", "2022",
            "2023", "2024", ".1", ".2", "-old", "-new", "_bak", ".copy", ".phtml", ".shtml",
            ".cfm", ".jspx", "/v1", "/api", "/status", "/upload", "-dev", "_dev", ".bak2"]


def wordlist(n):
    out = []
    for s in SUFFIXES:
        for w in WORDS:
            out.append("/" + w + s)
    assert len(set(out)) >= n
    return out[:n]


def pipelined(port, paths):
    reqs = "".join("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: gobuster/3.6\r\n"
                   "X-Forwarded-For: %s\r\nConnection: %s\r\n\r\n"
                   % (p, IP, "close" if i == len(paths) - 1 else "keep-alive")
                   for i, p in enumerate(paths))
    _, resp = iwtest.http_raw(port, reqs.encode(), timeout=60)
    return resp.count(b"HTTP/1.1 ")


def brute_force(port, paths):
    """4 connections at a time, 100 requests each (MaxKeepAliveRequests)."""
    chunks = [paths[i:i + 100] for i in range(0, len(paths), 100)]
    got = []

    def run(part):
        got.append(sum(pipelined(port, ch) for ch in part))
    ts = [threading.Thread(target=run, args=(chunks[k::4],)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    return sum(got)


def mine(a):
    return get(a, "source.ip") == IP or get(a, "iocwatch.correlation.group.c-ip") == IP


def test_directory_brute_force_at_most_20_alerts(httpd, rsyslog, base_dir):
    httpd.ensure("""\
RemoteIPHeader X-Forwarded-For
RemoteIPInternalProxy 127.0.0.1
IocWatchRules "{pack}"
IocWatchAlertTarget unix:{sock}
""".format(pack=PACK, sock=rsyslog.sock), "event", module_defaults=True)
    m = rsyslog.mark()
    t0 = iwtest.time.monotonic()
    assert brute_force(httpd.port, wordlist(N)) == N
    took = iwtest.time.monotonic() - t0
    assert took < 60, "the brute force took %.0f s" % took
    alerts = rsyslog.quiet(m, mine, wait=3.0)
    ids = [get(a, "rule.id") for a in alerts]

    # what the same requests match: the engine on httpd's own access log
    # (no suppression in the CLI, correlations once per window there too)
    log = os.path.join(base_dir, "noise-access.log")
    with open(log, "w") as f:
        f.write("".join(ln + "\n" for ln in httpd.acclog_lines() if ln.startswith(IP + " ")))
    r = subprocess.run([iwtest.CLI, "scan", "--no-progress", "--rules", PACK, log],
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, IOCWATCH_CACHE_DIR=os.path.join(httpd.dir, "run", "iocwatch-cache")))
    assert r.returncode == 0, r.stderr
    cli = [iwtest.json.loads(ln) for ln in r.stdout.splitlines() if ln.strip()]
    matched = set(get(a, "rule.id") for a in cli)
    assert len(cli) > 5000                      # thousands of matches ...
    assert len(alerts) <= 20, sorted(ids)       # ... at most 20 alerts
    assert matched <= set(ids), matched - set(ids)   # every rule at least once
