#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""make detect-tools: held-out detection check with live attack tools.

Starts one sandboxed httpd on 127.0.0.1 (temp dir, event MPM) that runs both
engines on every request: mod_iocwatch with the shipped pack (suppression
off, alerts as JSON to a unix datagram socket of this script) and Debian's
ModSecurity + OWASP CRS at paranoia level 1 in DetectionOnly.  A small mod_lua
application (links, a search form, a POST login form, a JSON API) gives the
tools parameters to attack; it reads every body, so form bodies are inspected.
Then runs the attack tools that Debian packages (sqlmap, wapiti, nmap's
http-* scripts, wfuzz with its own payload lists, dirb, whatweb), one after
the other, each bounded in time and requests, against that server only.

Per tool it counts the requests flagged by iocwatch only, CRS only, both and
neither.  The tools' own User-Agent rules are left out on both sides (CRS
913xxx removed; the pack's tool User-Agent rule excluded), so the numbers are
about payloads, not names.  A request counts for CRS when its inbound anomaly
score reached the PL1 threshold (rule 949110), as in tools/detect.py.
CRS-only requests are listed by CRS class (the rule file of their highest
scoring rules) with examples.  The result replaces the "Held-out: live attack
tools" section of docs/DETECTION.md (tools/detect.py keeps that section).

No tool output or payload list is copied into the tree: the lists are read
where the Debian packages install them.  Only the standard library is used."""

import argparse
import collections
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwhttpd  # noqa: E402
import detect   # noqa: E402  (ModSecurity paths, git_commit)

ROOT = detect.ROOT
SECTION = detect.TOOLS_SECTION
TOOL_UA_RULE = '2d27f514-f347-40b3-be2d-c4db393a7501'   # scanners/scanner_attack_tool_user_agent
CRS_CLASS = {'920': 'protocol', '921': 'protocol-attack', '930': 'lfi', '931': 'rfi', '932': 'rce',
             '933': 'php', '934': 'generic', '941': 'xss', '942': 'sqli', '943': 'session-fixation',
             '944': 'java', '911': 'method', '913': 'scanner'}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ target --

APP_LUA = r"""
-- the target application: every page links to the others and reflects its
-- parameters (so scanners find something to attack); reads every body
local function page(r, args, body)
  r.content_type = "text/html; charset=utf-8"
  r:puts("<html><head><title>iw shop</title></head><body>\n")
  r:puts('<a href="/app/item?id=1">item</a> <a href="/app/search?q=apple">search</a> ')
  r:puts('<a href="/app/page?file=about.txt">about</a> ')
  r:puts('<a href="/app/view?lang=en&amp;template=home">view</a> ')
  r:puts('<a href="/app/redirect?url=/index.html">out</a> <a href="/app/api?user=1">api</a>\n')
  r:puts('<form action="/app/search" method="get"><input name="q"><input type="submit"></form>\n')
  r:puts('<form action="/app/login" method="post"><input name="username">')
  r:puts('<input type="password" name="password"><input type="submit"></form>\n')
  r:puts('<form action="/app/comment" method="post"><input name="name">')
  r:puts('<textarea name="comment"></textarea><input type="submit"></form>\n')
  for k, v in pairs(args) do
    r:puts("<p>" .. tostring(k) .. " = " .. tostring(v) .. "</p>\n")
  end
  if body then r:puts("<pre>" .. body .. "</pre>\n") end
  r:puts("</body></html>\n")
end

function handle(r)
  local args = r:parseargs()
  local body = nil
  if r.method == "POST" or r.method == "PUT" or r.method == "PATCH" then
    local ct = r.headers_in["Content-Type"] or ""
    if ct:find("x-www-form-urlencoded", 1, true) then
      local ok, post = pcall(r.parsebody, r, 1048576)
      if ok and post then for k, v in pairs(post) do args[k] = v end end
    else
      local ok, b = pcall(r.requestbody, r)
      if ok then body = b end
    end
  end
  page(r, args, body)
  return apache2.OK
end
"""

INDEX_HTML = """<html><head><title>iw shop</title></head><body>
<a href="/app/item?id=1">item</a> <a href="/app/search?q=apple">search</a>
<a href="/app/page?file=about.txt">about</a> <a href="/app/view?lang=en&amp;template=home">view</a>
<a href="/app/redirect?url=/index.html">out</a> <a href="/app/api?user=1">api</a>
<form action="/app/search" method="get"><input name="q"><input type="submit"></form>
<form action="/app/login" method="post"><input name="username"><input type="password" name="password">
<input type="submit"></form>
</body></html>
"""

HTTPD_CONF = """\
ServerRoot "{d}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{d}/httpd.pid"
Mutex file:{d}
LoadModule mpm_event_module {mods}/mod_mpm_event.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule dir_module {mods}/mod_dir.so
LoadModule mime_module {mods}/mod_mime.so
LoadModule unique_id_module {mods}/mod_unique_id.so
LoadModule lua_module {mods}/mod_lua.so
LoadModule security2_module {mods}/mod_security2.so
LoadModule iocwatch_module {module}
{user}
ErrorLog "{d}/error.log"
LogLevel warn
TypesConfig /etc/mime.types
DocumentRoot "{d}/htdocs"
DirectoryIndex index.html
<Directory "{d}/htdocs">
    Require all granted
</Directory>
LuaMapHandler "^/app/" "{d}/app.lua" handle
LogFormat "%{{UNIQUE_ID}}e %>s %m \\"%r\\"" iwtools
CustomLog "{d}/access.log" iwtools
KeepAlive On
Timeout 10
StartServers 2
MinSpareThreads 8
MaxSpareThreads 32
ServerLimit 2
ThreadsPerChild 16
MaxRequestWorkers 32
LimitRequestLine 65536
LimitRequestFieldSize 65536
IocWatchRules {rules}
IocWatchAlertTarget unix:{d}/alerts.sock
IocWatchAlertFormat json
IocWatchSuppress 0
IocWatchQueueSize 16384
IocWatchErrorLog Off
IocWatchExcludeRule {tool_ua}
IocWatchCacheDir {cache}
{modsec}# the tools' names are left out: payloads are compared, not User-Agents
SecRuleRemoveById 913100-913999
"""


class Sink:
    """The module's alert target: a unix datagram socket read by a thread."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.settimeout(0.2)
        self.alerts = []
        self.bad = 0
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop:
            try:
                msg = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self.alerts.append(json.loads(msg.decode('utf-8', 'replace')))
            except ValueError:
                self.bad += 1

    def close(self):
        self._stop = True
        self.thread.join(2)
        self.sock.close()


class Target(detect.Httpd):
    """Both engines in one httpd: each request is judged by both."""

    def __init__(self, args):
        super().__init__()
        self.args = args

    def start(self):
        d = self.dir
        for sub in ('htdocs', 'data', 'tmp'):
            os.makedirs(os.path.join(d, sub))
        with open(os.path.join(d, 'htdocs', 'index.html'), 'w') as f:
            f.write(INDEX_HTML)
        with open(os.path.join(d, 'htdocs', 'robots.txt'), 'w') as f:
            f.write('User-agent: *\nDisallow: /app/api\n')
        with open(os.path.join(d, 'app.lua'), 'w') as f:
            f.write(APP_LUA)
        iwhttpd.give_to_run_user(d)
        self.sink = Sink(os.path.join(d, 'alerts.sock'))
        # the compiled pack kept between runs (a private directory, as the module wants it)
        cache = os.path.join(ROOT, 'build', 'detect-tools-cache')
        os.makedirs(cache, mode=0o700, exist_ok=True)
        with open(self.conf, 'w') as f:
            f.write(HTTPD_CONF.format(
                d=d, port=self.port, mods=detect.APACHE_MODS, user=iwhttpd.user_directives(),
                module=self.args.module, rules=' '.join(self.args.rules), tool_ua=TOOL_UA_RULE,
                cache=cache, modsec=detect.modsec_conf(d)))
        iwhttpd.Server.start(self)

    def access(self):
        """[(unique id, status, method, target)] in log order."""
        out = []
        try:
            with open(os.path.join(self.dir, 'access.log'), encoding='utf-8', errors='replace') as f:
                for line in f:
                    m = re.match(r'(\S+) (\S+) (\S+) "(.*)"$', line.rstrip('\n'))
                    if m:
                        out.append(m.groups())
        except OSError:
            pass
        return out

    def crs_hits(self):
        """unique id -> {rule id: message} of CRS's matches."""
        out = collections.defaultdict(dict)
        rx_id = re.compile(r'\[id "(\d+)"\]')
        rx_uid = re.compile(r'\[unique_id "([^"]+)"\]')
        rx_msg = re.compile(r'\[msg "([^"]*)"\]')
        rx_data = re.compile(r'\[data "([^"]*)"\]')
        with open(self.errlog, encoding='utf-8', errors='replace') as f:
            for line in f:
                if 'ModSecurity' not in line:
                    continue
                m, u = rx_id.search(line), rx_uid.search(line)
                if m and u:
                    msg, data = rx_msg.search(line), rx_data.search(line)
                    out[u.group(1)][int(m.group(1))] = '%s%s' % (
                        msg.group(1) if msg else '', (': ' + data.group(1)[:100]) if data else '')
        return out


# ------------------------------------------------------------------- tools --

WFUZZ = '/usr/share/wfuzz/wordlist'
DIRB = '/usr/share/dirb/wordlists'
NMAP_SCRIPTS = ','.join([
    'http-enum', 'http-sql-injection', 'http-shellshock', 'http-passwd', 'http-phpself-xss',
    'http-unsafe-output-escaping', 'http-methods', 'http-trace', 'http-config-backup',
    'http-userdir-enum', 'http-headers', 'http-csrf', 'http-stored-xss', 'http-rfi-spider',
    'http-vuln-cve2011-3192', 'http-vuln-cve2017-5638', 'http-vuln-cve2014-3704',
    'http-vuln-cve2015-1635', 'http-webdav-scan', 'http-git', 'http-backup-finder',
    'http-devframework', 'http-php-version', 'http-robots.txt', 'http-aspnet-debug',
    'http-method-tamper', 'http-internal-ip-disclosure', 'http-vuln-cve2012-1823',
    'http-vuln-cve2010-2861', 'http-vuln-cve2013-0156', 'http-awstatstotals-exec',
    'http-axis2-dir-traversal', 'http-tplink-dir-traversal', 'http-litespeed-sourcecode-download',
    'http-majordomo2-dir-traversal', 'http-vuln-cve2009-3960', 'http-coldfusion-subzero',
    'http-barracuda-dir-traversal', 'http-phpmyadmin-dir-traversal', 'http-vuln-misfortune-cookie',
    'http-wordpress-users', 'http-drupal-enum-users', 'http-fileupload-exploiter',
])


def tools(base, port, work):
    """(name, what, argv, timeout seconds, needs) for every tool run.
    Every run targets 127.0.0.1:port only and is bounded."""
    w = lambda *p: os.path.join(WFUZZ, *p)    # noqa: E731
    sq = ['sqlmap', '--batch', '--flush-session', '--output-dir', os.path.join(work, 'sqlmap'),
          '--timeout', '5', '--retries', '0', '--threads', '2', '--disable-coloring',
          '--level', '3', '--risk', '2', '--smart' if False else '--skip-waf']
    wf = ['wfuzz', '-c', '--hc', '999', '-t', '4', '-Z']
    return [
        ('sqlmap', 'SQL injection, GET parameter', sq + ['-u', base + '/app/item?id=1'], 300, 'sqlmap'),
        ('sqlmap', 'SQL injection, POST login form', sq + ['-u', base + '/app/login',
                                                           '--data', 'username=admin&password=secret'],
         300, 'sqlmap'),
        ('wapiti', 'web vulnerability scanner, all local modules',
         ['wapiti', '-u', base + '/', '--scope', 'folder', '--flush-session', '-d', '3',
          '-m', 'backup,blindsql,crlf,exec,file,htaccess,methods,permanentxss,redirect,shellshock,sql,xss',
          '--max-scan-time', '240', '--max-attack-time', '60', '--timeout', '5',
          '--store-session', os.path.join(work, 'wapiti-session'),
          '-f', 'json', '-o', os.path.join(work, 'wapiti.json')], 300, 'wapiti'),
        ('nmap', 'network scanner http-* NSE scripts (no brute, dos or external ones)',
         ['nmap', '-n', '-Pn', '-sT', '-sV', '--version-light', '-p', str(port), '--script', NMAP_SCRIPTS,
          '--script-timeout', '120s', '--host-timeout', '300s', 'localhost'], 330, 'nmap'),
        ('wfuzz', 'fuzzer, its Injections lists in a query parameter',
         wf + ['-z', 'file,' + w('Injections', 'All_attack.txt'), '-z', 'file,' + w('Injections', 'SQL.txt'),
               '-z', 'file,' + w('Injections', 'XSS.txt'), '-z', 'file,' + w('Injections', 'Traversal.txt'),
               '-m', 'chain', base + '/app/search?q=FUZZ'], 240, 'wfuzz'),
        ('wfuzz', 'fuzzer, its Injections lists in a POST form body',
         wf + ['-z', 'file,' + w('Injections', 'All_attack.txt'), '-z', 'file,' + w('Injections', 'SQL.txt'),
               '-z', 'file,' + w('Injections', 'XSS.txt'), '-z', 'file,' + w('Injections', 'Traversal.txt'),
               '-m', 'chain', '-d', 'username=FUZZ&password=x', base + '/app/login'], 240, 'wfuzz'),
        ('wfuzz', 'fuzzer, its vulns lists as paths',
         wf + ['-z', 'file,' + w('vulns', 'apache.txt'), '-z', 'file,' + w('vulns', 'cgis.txt'),
               '-z', 'file,' + w('vulns', 'iis.txt'), '-z', 'file,' + w('vulns', 'tomcat.txt'),
               '-m', 'chain', base + '/FUZZ'], 240, 'wfuzz'),
        ('dirb', 'directory brute force, common.txt',
         ['dirb', base + '/', os.path.join(DIRB, 'common.txt'), '-S', '-r', '-w'], 240, 'dirb'),
        ('whatweb', 'fingerprinting, aggressive',
         ['whatweb', '-a', '3', '--color=never', '--no-errors', base + '/'], 120, 'whatweb'),
    ]


def run_tool(argv, timeout, work):
    """Run one tool in its own process group; kill the group at the timeout."""
    t0 = time.time()
    with open(os.path.join(work, 'tool.log'), 'ab') as out:
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             cwd=work, start_new_session=True, env=dict(os.environ, HOME=work))
        try:
            p.wait(timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(p.pid, 9)
            p.wait(10)
    return time.time() - t0, timed_out


# ------------------------------------------------------------------ report --

def rule_dirs(paths):
    """pack rule id -> directory (class)."""
    out = {}
    for base in paths:
        for dp, _, files in os.walk(base):
            for fn in files:
                if fn.endswith('.yml'):
                    with open(os.path.join(dp, fn), encoding='utf-8') as f:
                        m = re.search(r'(?m)^id:\s*(\S+)', f.read())
                    if m:
                        out[m.group(1)] = os.path.relpath(dp, base)
    return out


def crs_class(ids):
    """The class of a CRS-only request: the CRS rule files that matched."""
    cls = sorted({CRS_CLASS.get(str(i)[:3], str(i)[:3]) for i in ids
                  if not str(i).startswith(('949', '980', '901', '905', '959', '999'))})
    return '+'.join(cls) or 'other'


def evaluate(target, runs):
    time.sleep(2.0)
    access = target.access()
    crs = target.crs_hits()
    iw = collections.defaultdict(set)
    # a request httpd refused while reading it (400: a target without '/', a bad
    # escape) has no UNIQUE_ID: its alerts are matched by method and target
    by_line = collections.defaultdict(set)
    for a in target.sink.alerts:
        if 'correlation' in a.get('iocwatch', {}):
            continue
        req = (a.get('http') or {}).get('request', {})
        if req.get('id'):
            iw[req['id']].add(a['rule']['id'])
        by_line[(req.get('method'), (a.get('url') or {}).get('original'))].add(a['rule']['id'])
    results = []
    for run in runs:
        reqs = access[run['first']:run['last']]
        c = collections.Counter()
        misses = collections.defaultdict(list)
        neither = []
        for uid, status, method, target_s in reqs:
            a = bool(iw.get(uid))
            if uid == '-':
                parts = detect.unescape_apache(target_s).decode('utf-8', 'surrogateescape').split(' ')
                tgt = ' '.join(parts[1:-1] if len(parts) > 2 and parts[-1].startswith('HTTP/') else parts[1:])
                a = len(parts) >= 2 and bool(by_line.get((parts[0], tgt)))
            b = detect.modsec_detected(set(crs.get(uid, {})))
            c['requests'] += 1
            c['both' if a and b else 'iw' if a else 'crs' if b else 'none'] += 1
            if b and not a:
                misses[crs_class(crs[uid])].append((method, target_s, crs[uid]))
            if not a and not b:
                neither.append(target_s)
        results.append(dict(run, counts=c, misses=misses, neither=neither))
    return results


def md_escape(s, n=110):
    s = s.replace('`', "'").replace('|', '\\|')
    return s[:n] + ('…' if len(s) > n else '')


def report(args, results, skipped, alerts_bad):
    lines = [SECTION, '']
    lines.append('Generated by `make detect-tools` (`tools/detect_tools.py`) on %s at commit `%s`. '
                 'Rules: `%s`.' % (time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
                                   detect.git_commit(), ' '.join(os.path.relpath(r, ROOT) for r in args.rules)))
    lines.append('')
    lines.append('Data the pack was never tuned on: the attack tools Debian packages, run live against one '
                 'sandboxed httpd on 127.0.0.1 that runs both engines on every request (mod_iocwatch with '
                 '`IocWatchSuppress 0`, ModSecurity 2.9.7 + CRS 3.3.4 PL1 in DetectionOnly; a small mod_lua '
                 'application with links, a search form, a POST login form and a JSON API that reads every '
                 'body). The tools\' names are left out on both sides (CRS 913xxx removed, the pack\'s tool '
                 'User-Agent rule excluded): the counts are about payloads. A request counts for CRS when its '
                 'inbound anomaly score reached the PL1 threshold (949110). Each run is bounded in time; the '
                 'payload lists are read where the packages install them. `neither` is mostly crawling and '
                 'benign baseline requests.')
    lines.append('')
    lines.append('| tool | run | requests | both | iocwatch only | CRS only | neither | time |')
    lines.append('|---|---|---:|---:|---:|---:|---:|---:|')
    tot = collections.Counter()
    for r in results:
        c = r['counts']
        lines.append('| %s | %s | %d | %d | %d | %d | %d | %.0f s%s |' % (
            r['tool'], r['what'], c['requests'], c['both'], c['iw'], c['crs'], c['none'],
            r['secs'], ' (timeout)' if r['timed_out'] else ''))
        tot.update(c)
    lines.append('| **all** | | %d | %d | %d | %d | %d | |' % (
        tot['requests'], tot['both'], tot['iw'], tot['crs'], tot['none']))
    lines.append('')
    if skipped:
        lines.append('Not run (package not installed): ' + ', '.join(sorted(set(skipped))) + '.')
        lines.append('')
    if alerts_bad:
        lines.append('Alerts that were not valid JSON: %d.' % alerts_bad)
        lines.append('')
    lines.append('### CRS-only requests by CRS class')
    lines.append('')
    allm = collections.defaultdict(list)
    for r in results:
        for cls, items in r['misses'].items():
            allm[cls] += [(r['tool'],) + it for it in items]
    if not allm:
        lines.append('(none)')
    else:
        lines.append('| CRS class | requests | tools | examples (request line, CRS rules) |')
        lines.append('|---|---:|---|---|')
        for cls, items in sorted(allm.items(), key=lambda kv: -len(kv[1])):
            ex = []
            seen = set()
            for tool, method, tgt, ids in items:
                key = tgt[:40]
                if key in seen:
                    continue
                seen.add(key)
                rules = ', '.join('%d' % i for i in sorted(ids) if not str(i).startswith(('949', '980')))
                ex.append('`%s` (%s)' % (md_escape(tgt, 80), rules))
                if len(ex) == 3:
                    break
            lines.append('| %s | %d | %s | %s |' % (cls, len(items), ', '.join(sorted({i[0] for i in items})),
                                                   '<br>'.join(ex)))
    lines.append('')
    lines.append('Rerun: `make detect-tools` (installs the tools with `tools/install-deps.sh tools`: sqlmap, wapiti, '
                 'nmap, wfuzz, dirb, whatweb, plus ModSecurity and CRS; about 5 minutes on 2 cores; not '
                 'part of `make test`). `--show-misses` prints every CRS-only request with its CRS messages.')
    lines.append('')
    return '\n'.join(lines)


def write_section(path, text):
    old = ''
    if os.path.exists(path):
        with open(path, encoding='utf-8') as f:
            old = f.read()
    i = old.find(SECTION)
    if i >= 0:
        old = old[:i]
    with open(path, 'w', encoding='utf-8') as f:
        f.write(old.rstrip('\n') + '\n\n' + text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--module', default=os.environ.get('IW_MODULE', os.path.join(ROOT, 'build', 'mod_iocwatch.so')))
    ap.add_argument('--rules', action='append', help='rule paths (default conf/rules)')
    ap.add_argument('--only', help='comma-separated tool names to run (default all)')
    ap.add_argument('--out', default=os.path.join(ROOT, 'docs', 'DETECTION.md'),
                    help="report file whose tools section is replaced ('-' = do not write)")
    ap.add_argument('--show-misses', action='store_true', help='print every CRS-only request')
    ap.add_argument('--show-neither', action='store_true', help='print every request neither engine flagged')
    ap.add_argument('--keep', action='store_true', help='keep the temp dir (logs, tool output)')
    args = ap.parse_args()
    args.rules = [os.path.abspath(r) for r in (args.rules or [os.path.join(ROOT, 'conf', 'rules')])]
    args.module = os.path.abspath(args.module)
    if not os.path.exists(args.module):
        raise SystemExit('detect-tools: %s not found (run make)' % args.module)
    if not detect.modsec_available():
        raise SystemExit('detect-tools: ModSecurity + CRS not installed (apt-get install '
                         'libapache2-mod-security2 modsecurity-crs)')
    only = set(args.only.split(',')) if args.only else None
    target = Target(args)
    work = tempfile.mkdtemp(prefix='iw-detect-tools-work-')
    os.chmod(work, 0o755)
    results, skipped = [], []
    try:
        target.start()
        # a name, not the address: CRS (920350) and the pack score a numeric Host on every request
        base = 'http://localhost:%d' % target.port
        log('detect-tools: both engines on %s (%s)' % (base, target.dir))
        for name, what, argv, timeout, needs in tools(base, target.port, work):
            if only and name not in only:
                continue
            if not shutil.which(needs):
                skipped.append(needs)
                continue
            first = len(target.access())
            log('detect-tools: %s: %s' % (name, what))
            secs, timed_out = run_tool(argv, timeout, work)
            time.sleep(1.0)
            last = len(target.access())
            log('detect-tools:   %d requests in %.0f s%s' % (last - first, secs, ' (timeout)' if timed_out else ''))
            results.append({'tool': name, 'what': what, 'first': first, 'last': last,
                            'secs': secs, 'timed_out': timed_out})
        results = evaluate(target, results)
        bad = target.sink.bad
    finally:
        target.stop()
        if hasattr(target, 'sink'):
            target.sink.close()
        if args.keep:
            log('detect-tools: kept %s and %s' % (target.dir, work))
        else:
            target.cleanup()
            shutil.rmtree(work, ignore_errors=True)
    text = report(args, results, skipped, bad)
    print(text)
    if args.show_misses:
        for r in results:
            for cls, items in sorted(r['misses'].items()):
                for method, tgt, ids in items:
                    print('CRS-ONLY %s %s %s  %s' % (r['tool'], cls, tgt[:200],
                                                        ' | '.join('%d %s' % (k, v) for k, v in sorted(ids.items())
                                                                   if not str(k).startswith(('949', '980')))))
    if args.show_neither:
        for r in results:
            for tgt in r['neither']:
                print('NEITHER %s %s' % (r['tool'], tgt[:200]))
    if args.out != '-':
        write_section(args.out, text)
        log('detect-tools: wrote %s' % os.path.relpath(args.out, ROOT))


if __name__ == '__main__':
    main()
