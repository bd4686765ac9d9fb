#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""httpd throughput with and without mod_iocwatch (part of `make bench`).

A sandboxed httpd (event MPM, 127.0.0.1, temp dir) serves a 2 KB static file;
wrk (keep-alive) measures requests/s for each variant, interleaved over
several rounds so drift on a shared 2-core machine hits all variants alike.
Printed as ratios to the module-off baseline:
  sigmahq   the 88 SigmaHQ rules only
  on        all SigmaHQ rules + the shipped pack, alerts to a unix socket
  nocache   same with IocWatchScanCache Off (every request fully scanned)
  on-uniq   same as on, but every request distinct (wrk Lua script adds a
            unique query), against off-uniq (module off, same script)
  on-brws   same as on, every request with a browser's ~1 KB of headers
            (BROWSER_HEADERS), against off-brws
  on-real   same as on, replaying the GET requests of a real access log
            (corpus/benign/elastic-apache.log: 1,753 clients, their user
            agents and referers; the client in X-Forwarded-For, taken by
            mod_remoteip; every path served by the 2 KB file), against
            off-real
  corr      same, wrk hitting a path that feeds a correlation rule
  modsec    ModSecurity + CRS (PL1, DetectionOnly) as the reference,
            when Debian's libapache2-mod-security2 + modsecurity-crs exist
IW_BENCH_VARIANTS=on,on-uniq runs a subset (baselines are added);
IW_BENCH_ROUNDS / IW_BENCH_SECONDS set the rounds and seconds per run;
IW_BENCH_PIN the CPUs of httpd and wrk (default 0,1; "none");
IW_BENCH_RESTART=0 keeps the servers up across rounds (default: restart).
"""
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))
import iwhttpd  # noqa: E402  (the httpd sandbox shared with the tests)
SHARED = os.environ.get("IW_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
SIGMA = os.path.join(SHARED, "sigma", "sigmahq-rules")
REAL_LOG = os.path.join(SHARED, "corpus", "benign", "elastic-apache.log")
MODULE = os.environ.get("IW_MODULE", os.path.join(REPO, "build", "mod_iocwatch.so"))
MODDIR = iwhttpd.MODDIR
ROUNDS = int(os.environ.get("IW_BENCH_ROUNDS", "5"))
SECONDS = int(os.environ.get("IW_BENCH_SECONDS", "5"))
# "httpd-cpu,wrk-cpu": the servers and wrk on separate CPUs (taskset), as
# when the load comes from another machine; without it they compete for
# both CPUs and the rounds scatter by +-10-20 %.  "none" turns it off.
PIN = os.environ.get("IW_BENCH_PIN", "0,1" if (os.cpu_count() or 1) >= 2 else "none")
PIN = "" if PIN == "none" else PIN
RESTART = os.environ.get("IW_BENCH_RESTART", "1") != "0"

# What a current browser sends for a page of a site it has visited: ~1 KB
# of headers where wrk's own request has Host alone (the request key, and
# all the module reads, grows with them).
BROWSER_HEADERS = [
    ("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"),
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("Accept-Language", "en-GB,en;q=0.7,de;q=0.3"),
    ("Accept-Encoding", "gzip, deflate, br, zstd"),
    ("Referer", "http://127.0.0.1/index.html"),
    ("Connection", "keep-alive"),
    ("Cookie", "session=8f14e45fceea167a5a36dedd4bea2543; _ga=GA1.1.1234567890.1732780800; "
     "_ga_X1Y2Z3=GS1.1.1732780800.3.1.1732781100.0.0.0; prefs=%7B%22theme%22%3A%22dark%22%2C"
     "%22lang%22%3A%22en%22%2C%22tz%22%3A%22Europe%2FBerlin%22%7D; consent=analytics%3Dno%26"
     "marketing%3Dno%26functional%3Dyes; csrftoken=Qm9uam91ciBsZXMgYW1pcyBkZSBsYSBzZWN1cml0ZQ"),
    ("Upgrade-Insecure-Requests", "1"),
    ("Sec-Fetch-Dest", "document"),
    ("Sec-Fetch-Mode", "navigate"),
    ("Sec-Fetch-Site", "same-origin"),
    ("Sec-Fetch-User", "?1"),
    ("Priority", "u=0, i"),
]


def lua_str(v):
    """v as a Lua string literal."""
    return '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"')


# wrk Lua: each thread learns its number (1, 2, ...) as the global tid.
LUA_THREAD_IDS = """
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
"""


def browser_lua():
    """A wrk script sending BROWSER_HEADERS with every request."""
    return "".join("wrk.headers[%s] = %s\n" % (lua_str(k), lua_str(v)) for k, v in BROWSER_HEADERS)


# Real traffic: the requests of a real combined-format access log in its
# order.  Both real variants serve every path with the 2 KB file (the
# log's paths do not exist here) and take the client from X-Forwarded-For,
# as behind a proxy, so the module sees the log's 1,753 clients.  Host is
# the log's site (its referers' name): a bare IP with a remote client is
# what the pack's "Host Header Is a Bare IP Address" rule reports.
REAL_HOST = "semicomplete.com"
REAL_CONF = """LoadModule alias_module {m}/mod_alias.so
LoadModule remoteip_module {m}/mod_remoteip.so
RemoteIPHeader X-Forwarded-For
RemoteIPInternalProxy 127.0.0.1
AliasMatch "^/.*$" "{{d}}/htdocs/static.html"
""".format(m=MODDIR)
COMBINED = re.compile(r'^(\S+) \S+ \S+ \[[^\]]*\] "GET (\S+) HTTP/1\.[01]" \d+ \S+ "([^"]*)" "([^"]*)"')
PRINTABLE = re.compile(r"^[\x20-\x7e]*$")


def real_requests(path=None):
    """(client, target, referer, user agent) of each GET line of a real
    access log (REAL_LOG), in order; "-" marks an absent referer or agent.
    Lines with bytes a request line or header cannot carry are left out."""
    out = []
    with open(path or REAL_LOG, encoding="latin-1") as f:
        for line in f:
            m = COMBINED.match(line)
            if m and all(PRINTABLE.match(v) for v in m.groups()):
                out.append(m.groups())
    return out


def real_headers(client, referer, agent):
    """The header lines (name, value) sent for one real request."""
    h = [("Host", REAL_HOST), ("X-Forwarded-For", client)]
    if agent != "-":
        h.append(("User-Agent", agent))
    if referer != "-":
        h.append(("Referer", referer))
    return h


# A browser's full header set on real traffic (variant browser-real): the
# log's requests, each with what a current browser adds for a page of a
# site it has visited: accept lists, fetch metadata and a session cookie
# of ~320 bytes that stays the same for a client (its values derived from
# the client's address).  ~850 bytes of headers per request.
BROWSER_FIXED = [(k, v) for k, v in BROWSER_HEADERS
                 if k not in ("User-Agent", "Referer", "Connection", "Cookie")]


def client_cookie(client):
    """The per-client session cookie (~320 bytes, percent-encoded JSON in
    it, as sites set them)."""
    import hashlib
    h = hashlib.sha256(client.encode()).hexdigest()
    n = int(h[:8], 16)
    return ("session=%s; _ga=GA1.1.%d.1732780800; _ga_X1Y2Z3=GS1.1.1732780800.%d.1.1732781100.0.0.0; "
            "prefs=%%7B%%22theme%%22%%3A%%22%s%%22%%2C%%22lang%%22%%3A%%22en%%22%%2C%%22tz%%22%%3A"
            "%%22Europe%%2FBerlin%%22%%7D; consent=analytics%%3Dno%%26marketing%%3Dno%%26functional"
            "%%3Dyes; csrftoken=%s"
            % (h[:32], n, n % 9 + 1, ("dark", "light")[n & 1], h[32:64]))


def browser_real_headers(client, referer, agent):
    """The header lines (name, value) of one browser-real request."""
    h = real_headers(client, referer, agent)
    h[2:2] = BROWSER_FIXED[:3]                 # Accept, -Language, -Encoding
    h.append(("Cookie", client_cookie(client)))
    h.extend(BROWSER_FIXED[3:])                # upgrade, fetch metadata, priority
    return h


def real_lua(reqs):
    """A wrk script replaying reqs in a loop, each thread from its own
    offset (requests pre-formatted once per thread)."""
    rows = []
    for client, target, referer, agent in reqs:
        hs = ", ".join("[%s] = %s" % (lua_str(k), lua_str(v))
                       for k, v in real_headers(client, referer, agent))
        rows.append("{%s, {%s}}," % (lua_str(target), hs))
    return ("local R = {\n%s\n}\n" % "\n".join(rows)) + LUA_THREAD_IDS + """
function init(args)
  reqs = {}
  for i, r in ipairs(R) do reqs[i] = wrk.format("GET", r[1], r[2]) end
  n = ((tid or 1) - 1) * 4999
end
function request()
  n = n % #reqs + 1
  return reqs[n]
end
"""


BASE = """
ServerRoot "{d}"
ServerName bench.local
Listen 127.0.0.1:{port}
LoadModule mpm_event_module {m}/mod_mpm_event.so
LoadModule authz_core_module {m}/mod_authz_core.so
LoadModule mime_module {m}/mod_mime.so
{user}
PidFile {d}/httpd.pid
ErrorLog {d}/error.log
LogLevel warn
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog {d}/access.log common
TypesConfig /etc/mime.types
DocumentRoot "{d}/htdocs"
<Directory "{d}/htdocs">
    Require all granted
</Directory>
StartServers 2
ThreadsPerChild 25
MaxRequestWorkers 150
KeepAliveTimeout 30
MaxKeepAliveRequests 0
{extra}
"""

CORR_RULE = """title: bench correlation feeder
id: 6a0e2b1c-0b43-4a8e-9d0e-7d1b7c3f0001
name: bench_feed
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-uri-stem|startswith: '/corr/'
    condition: selection
level: low
---
title: bench correlation
id: 6a0e2b1c-0b43-4a8e-9d0e-7d1b7c3f0002
status: test
correlation:
    type: event_count
    rules:
        - bench_feed
    group-by:
        - c-ip
    timespan: 10s
    condition:
        gte: 1000000000
level: medium
"""


def drain(sock):
    while True:
        try:
            sock.recv(65536)
        except OSError:
            return


def pinned(which, cmd):
    """cmd under taskset on the IW_BENCH_PIN CPU for httpd (0) or wrk (1)."""
    if not PIN:
        return cmd
    return ["taskset", "-c", PIN.split(",")[which]] + cmd


class Httpd(iwhttpd.Server):
    def __init__(self, name, extra):
        self.d = tempfile.mkdtemp(prefix="iw-bench-%s-" % name)
        os.chmod(self.d, 0o755)
        os.makedirs(os.path.join(self.d, "htdocs", "corr"))
        with open(os.path.join(self.d, "htdocs", "static.html"), "w") as f:
            f.write("<html>" + "x" * (2048 - 13) + "</html>")
        with open(os.path.join(self.d, "htdocs", "corr", "index.html"), "w") as f:
            f.write("<html>" + "y" * (2048 - 13) + "</html>")
        super().__init__(self.d, conf=os.path.join(self.d, "httpd.conf"),
                         pidfile=os.path.join(self.d, "httpd.pid"),
                         errlog=os.path.join(self.d, "error.log"),
                         prefix=pinned(0, []))
        conf = BASE.format(d=self.d, port=self.port, m=MODDIR,
                           user=iwhttpd.user_directives(), extra=extra.format(d=self.d))
        with open(self.conf, "w") as f:
            f.write(conf)

    def log(self):
        try:
            with open(os.path.join(self.d, "error.log")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""


# Every request different (query "?t=<thread>&r=<n>"): defeats the
# module's whole-event cache and the scan cache for the target, the cost
# of a stream of distinct requests.
UNIQUE_LUA = LUA_THREAD_IDS + """
function init(args)
  n = 0
end
function request()
  n = n + 1
  return wrk.format(nil, wrk.path .. "?t=" .. tid .. "&r=" .. n)
end
"""


def wrk(port, path, script=None, seconds=None):
    """Requests/s and the number of requests of one wrk run."""
    cmd = ["wrk", "-t2", "-c32", "-d%ds" % (seconds or SECONDS)]
    if script:
        cmd += ["-s", script]
    r = subprocess.run(pinned(1, cmd + ["http://127.0.0.1:%d%s" % (port, path)]),
                       capture_output=True, text=True)
    rps = total = None
    for line in r.stdout.splitlines():
        if line.startswith("Requests/sec:"):
            rps = float(line.split()[1])
        elif " requests in " in line:
            total = int(line.split()[0])
    if rps is None or not total:
        raise RuntimeError("wrk: " + r.stdout + r.stderr)
    return rps, total


def httpd_cpu(conf):
    """CPU seconds (user+sys) used so far by every process of this httpd."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if conf.encode() not in f.read():
                    continue
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            continue
    return total / tick


def sigmahq_rules():
    """The SigmaHQ rule directories (88 webserver/apache rules)."""
    return ["%s/rules" % SIGMA, "%s/rules-emerging-threats" % SIGMA]


def module_conf(rules, sink, cache):
    """Config lines loading mod_iocwatch with these rules, JSON alerts to a
    unix datagram socket, compiled databases cached in cache.  Suppression
    off (the module's default is 60 s): every alert is rendered and sent,
    as in the recorded numbers."""
    return ("LoadModule iocwatch_module %s\nIocWatch On\nIocWatchRules %s\n"
            "IocWatchAlertTarget unix:%s\nIocWatchAlertFormat json\n"
            "IocWatchSuppress 0\n"
            "IocWatchCacheDir %s\n" % (MODULE, " ".join(rules), sink, cache))


def select_variants(variants, env):
    """The variants named in $env (comma-separated) and their baselines;
    all when unset.  A variant is a tuple: name first, baseline name last."""
    only = os.environ.get(env)
    if not only:
        return variants
    keep = set(only.split(","))
    keep.update(v[-1] for v in variants if v[0] in keep)
    return [v for v in variants if v[0] in keep]


def main():
    if not shutil.which("wrk"):
        print("wrk not installed: apt-get install wrk")
        return 0
    sockdir = tempfile.mkdtemp(prefix="iw-bench-sock-")
    os.chmod(sockdir, 0o755)
    sockpath = os.path.join(sockdir, "alerts.sock")
    sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sink.bind(sockpath)
    os.chmod(sockpath, 0o666)
    threading.Thread(target=drain, args=(sink,), daemon=True).start()
    corr_rule = os.path.join(sockdir, "corr.yml")
    with open(corr_rule, "w") as f:
        f.write(CORR_RULE)
    uniq = os.path.join(sockdir, "unique.lua")
    with open(uniq, "w") as f:
        f.write(UNIQUE_LUA)
    brws = os.path.join(sockdir, "browser.lua")
    with open(brws, "w") as f:
        f.write(browser_lua())
    real = os.path.join(sockdir, "real.lua")
    with open(real, "w") as f:
        f.write(real_lua(real_requests()))

    rules = sigmahq_rules()
    pack = os.path.join(REPO, "conf", "rules")
    if os.path.isdir(pack) and any(n.endswith(".yml") for _, _, fs in os.walk(pack) for n in fs):
        rules.append(pack)
    hscache = os.path.join(sockdir, "hscache")
    on = module_conf(rules, sockpath, hscache)
    sigmahq_only = module_conf(sigmahq_rules(), sockpath, hscache)
    # (name, config, path, wrk script, baseline for the ratio)
    variants = [("off", "", "/static.html", None, "off"),
                ("sigmahq", sigmahq_only, "/static.html", None, "off"),
                ("on", on, "/static.html", None, "off"),
                ("nocache", on + "IocWatchScanCache Off\n", "/static.html", None, "off"),
                ("off-uniq", "", "/static.html", uniq, "off-uniq"),
                ("on-uniq", on, "/static.html", uniq, "off-uniq"),
                ("off-brws", "", "/static.html", brws, "off-brws"),
                ("on-brws", on, "/static.html", brws, "off-brws"),
                ("off-real", REAL_CONF, "/", real, "off-real"),
                ("on-real", REAL_CONF + on, "/", real, "off-real"),
                ("corr", on.replace("IocWatchRules ", "IocWatchRules %s " % corr_rule),
                 "/corr/index.html", None, "off")]
    msec = os.path.join(MODDIR, "mod_security2.so")
    if os.path.exists(msec) and os.path.isdir("/usr/share/modsecurity-crs/rules"):
        variants.append(("modsec", (
            "LoadModule unique_id_module %s/mod_unique_id.so\n"
            "LoadModule security2_module %s\n"
            "SecRuleEngine DetectionOnly\nSecRequestBodyAccess On\n"
            "SecAuditEngine Off\nSecDataDir {d}\nSecTmpDir {d}\n"
            "Include /etc/modsecurity/crs/crs-setup.conf\n"
            "Include /usr/share/modsecurity-crs/rules/*.conf\n") % (MODDIR, msec),
            "/static.html", None, "off"))
    variants = select_variants(variants, "IW_BENCH_VARIANTS")
    servers = {v[0]: Httpd(v[0], v[1]) for v in variants}
    results = {v[0]: [] for v in variants}
    cpu = {v[0]: [] for v in variants}
    try:
        for rnd in range(ROUNDS):
            # fresh processes every round: where a server's memory lands
            # shifts its throughput for its whole life (the same module
            # measured 0.971 and 0.998 in two runs, each with rounds within
            # +-0.5 %), as much as the module costs
            if rnd == 0 or RESTART:
                for name in servers:
                    if rnd:
                        servers[name].stop()
                    servers[name].start()
            # alternate the order so drift on a shared machine hits all alike
            order = variants if rnd % 2 == 0 else list(reversed(variants))
            for name, _, path, script, _ in order:
                h = servers[name]
                wrk(h.port, path, script, seconds=1)    # warm-up
                c0 = httpd_cpu(h.conf)
                rps, total = wrk(h.port, path, script)
                results[name].append(rps)
                cpu[name].append((httpd_cpu(h.conf) - c0) / total * 1e6)
            print("round %d: %s" % (rnd + 1, "  ".join(
                "%s %.0f" % (v[0], results[v[0]][-1]) for v in variants)), flush=True)
    except RuntimeError as e:
        print("bench_httpd: %s" % e)
        return 1
    finally:
        for h in servers.values():
            h.stop()
    print("httpd event MPM, wrk -t2 -c32 -d%ds keep-alive, 2 KB static file, %d rounds "
          "(all servers up, order alternating%s%s); ratio = median of per-round ratios to module off"
          % (SECONDS, ROUNDS, ", servers restarted every round" if RESTART else "",
             ", httpd on CPU %s, wrk on CPU %s" % tuple(PIN.split(",")) if PIN else ""))
    labels = {"off": "module off", "sigmahq": "mod_iocwatch on (88 SigmaHQ rules only)",
              "on": "mod_iocwatch on (SigmaHQ + pack)",
              "nocache": "on, IocWatchScanCache Off",
              "off-uniq": "module off, every request distinct",
              "on-uniq": "on, every request distinct (vs off-uniq)",
              "off-brws": "module off, a browser's headers",
              "on-brws": "on, a browser's headers (vs off-brws)",
              "off-real": "module off, a real log's requests",
              "on-real": "on, a real log's requests (vs off-real)",
              "corr": "mod_iocwatch on, path feeding a correlation rule",
              "modsec": "ModSecurity + CRS PL1 DetectionOnly (reference)"}
    print("  (ratio: median [lowest-highest] of the rounds; CPU ratio: baseline's httpd CPU "
          "per request / this one's, medians)")
    for name, _, _, _, base in variants:
        ratios = sorted(r / b for r, b in zip(results[name], results[base]))
        c = statistics.median(cpu[name])
        base_cpu = statistics.median(cpu[base])
        print("  %-50s %8.0f req/s  ratio %.3f [%.3f-%.3f]  httpd CPU %6.1f us/req (%+.1f us,"
              " CPU ratio %.3f)"
              % (labels[name], statistics.median(results[name]), statistics.median(ratios),
                 ratios[0], ratios[-1], c, c - base_cpu, base_cpu / c if c else 0))
    for h in servers.values():
        shutil.rmtree(h.d, ignore_errors=True)
    shutil.rmtree(sockdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
