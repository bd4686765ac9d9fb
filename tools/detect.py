#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""make detect: detection quality of the shipped rule pack.

Runs `iocwatch scan` with conf/rules over
  - the development corpora (default: corpus/crs-requests.jsonl, the CRS
    regression requests, and corpus/fuzzdb-requests.jsonl, fuzzdb's payload
    lists): recall on `attack` requests per category, alert rate on
    `negative` look-alikes and on `benign` requests;
  - a real benign access log (corpus/benign/elastic-apache.log): alert rate
    after removing the real probes listed in tools/benign-true-positives.txt;
  - a held-out set built at run time (tools/detect_heldout.py): Debian's payload
    lists (wfuzz, sqlmap, wapiti: `tools/install-deps.sh tools`; a missing one
    is named in the report) and class vocabularies the pack was not written
    from, with benign locale words and protocol variants;
and, when Debian's libapache2-mod-security2 + modsecurity-crs are installed,
replays the same requests through a sandboxed httpd (127.0.0.1, temp dir,
ModSecurity DetectionOnly + CRS at paranoia level 1) to print its numbers side
by side; the replay is cached in build/modsec-cache.json while the request
files and CRS rules stay the same.  Writes the report to docs/DETECTION.md.
IW_SHARED points at another shared/ directory (corpus/ below it).

Only the standard library is used; every run is bounded in time."""

import argparse
import collections
import concurrent.futures
import hashlib
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.environ.get('IW_SHARED') or os.path.normpath(os.path.join(ROOT, '..', 'shared')),
                      'corpus')
CATEGORIES = ['generic', 'java', 'lfi', 'php', 'rce', 'rfi', 'scanner',
              'session-fixation', 'sqli', 'xss', 'protocol']
BENIGN_TARGET = 0.001

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iwhttpd  # noqa: E402  (the httpd sandbox shared with the tests and bench)
import detect_heldout  # noqa: E402  (the held-out set, built at run time)

APACHE_BIN = iwhttpd.APACHE
APACHE_MODS = iwhttpd.MODDIR
CRS_SETUP = '/etc/modsecurity/crs/crs-setup.conf'
CRS_RULES = '/usr/share/modsecurity-crs/rules'
UNICODE_MAP = '/etc/modsecurity/unicode.mapping'


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- iocwatch --

def run_scan(iocwatch, rules, fmt, path, placeholders=(), timeout=600):
    """Alerts of one `iocwatch scan` run, as parsed JSON objects."""
    cmd = [iocwatch, 'scan', '--no-progress', '--format', fmt]
    for r in rules:
        cmd += ['--rules', r]
    for p in placeholders:
        cmd += ['--placeholder', p]
    cmd.append(path)
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=timeout)
    if res.returncode != 0:
        sys.stderr.write(res.stderr.decode('utf-8', 'replace'))
        raise SystemExit('detect: %s failed (exit %d)' % (' '.join(cmd), res.returncode))
    alerts = []
    for line in res.stdout.splitlines():
        if line.strip():
            alerts.append(json.loads(line))
    return alerts


def is_correlation(a):
    return 'correlation' in a.get('iocwatch', {})


def load_corpus(path):
    reqs = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            if line.strip():
                reqs.append(json.loads(line))
    return reqs


def load_true_positives(path):
    """tools/benign-true-positives.txt: `LINE  reason` per entry."""
    tps = {}
    if not os.path.exists(path):
        return tps
    with open(path, encoding='utf-8') as f:
        for raw in f:
            s = raw.strip()
            if not s or s.startswith('#'):
                continue
            num, _, reason = s.partition(' ')
            tps[int(num)] = reason.strip()
    return tps


def eval_iocwatch(args, corpora):
    """Alerts of the pack per corpus request and per benign log line."""
    rules = args.rules
    names = {}
    times = {}
    for c in corpora:
        log('detect: iocwatch scan of %s (%d requests)' % (c['path'], len(c['reqs'])))
        t0 = time.time()
        alerts = run_scan(args.iocwatch, rules, 'jsonl', c['path'])
        times[c['name']] = time.time() - t0
        fired = collections.defaultdict(set)
        for a in alerts:
            names[a['rule']['id']] = a['rule'].get('name', '')
            if is_correlation(a):
                continue
            fired[a['iocwatch']['input'].get('id')].add(a['rule']['id'])
        c['fired'] = fired

    log('detect: iocwatch scan of %s' % args.benign)
    t0 = time.time()
    balerts = run_scan(args.iocwatch, rules, 'combined', args.benign)
    times['benign log'] = time.time() - t0
    blines = collections.defaultdict(set)
    bcorr = collections.Counter()
    for a in balerts:
        names[a['rule']['id']] = a['rule'].get('name', '')
        if is_correlation(a):
            bcorr[a['rule']['id']] += 1
            continue
        blines[a['iocwatch']['input']['line']].add(a['rule']['id'])
    return {'benign_lines': blines, 'benign_corr': bcorr, 'names': names, 'time': times}


# --------------------------------------------------------------- modsecurity --

def modsec_available():
    return (os.access(APACHE_BIN, os.X_OK)
            and os.path.exists(os.path.join(APACHE_MODS, 'mod_security2.so'))
            and os.path.exists(CRS_SETUP) and os.path.isdir(CRS_RULES))


HTTPD_CONF = """\
ServerRoot "{d}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{d}/httpd.pid"
Mutex file:{d}
LoadModule mpm_event_module {mods}/mod_mpm_event.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule unique_id_module {mods}/mod_unique_id.so
LoadModule headers_module {mods}/mod_headers.so
LoadModule security2_module {mods}/mod_security2.so
{user}
ErrorLog "{d}/error.log"
LogLevel warn
DocumentRoot "{d}/htdocs"
<Directory "{d}/htdocs">
    Require all granted
</Directory>
KeepAlive Off
Timeout 10
StartServers 1
ServerLimit 2
ThreadsPerChild 8
MaxRequestWorkers 16
LimitRequestLine 65536
LimitRequestFieldSize 65536
Header always set X-IW-Unique-Id "%{{UNIQUE_ID}}e"
{modsec}"""

# ModSecurity + CRS PL1 in DetectionOnly: the reference engine of make detect
# and make detect-tools (tools/detect_tools.py), configured alike in both
MODSEC_CONF = """\
SecRuleEngine DetectionOnly
SecRequestBodyAccess On
SecResponseBodyAccess Off
SecAuditEngine Off
SecDataDir "{d}/data"
SecTmpDir "{d}/tmp"
SecUnicodeMapFile {umap} 20127
SecPcreMatchLimit 100000
SecPcreMatchLimitRecursion 100000
Include {setup}
Include {rules}/*.conf
"""


def modsec_conf(d):
    """The ModSecurity lines of a server whose SecDataDir/SecTmpDir are
    under d."""
    return MODSEC_CONF.format(d=d, umap=UNICODE_MAP, setup=CRS_SETUP, rules=CRS_RULES)


class Httpd(iwhttpd.Server):
    """ModSecurity + CRS PL1 in DetectionOnly, on 127.0.0.1, in a temp dir."""

    def __init__(self):
        d = tempfile.mkdtemp(prefix='iw-detect-modsec-')
        super().__init__(d, conf=os.path.join(d, 'httpd.conf'),
                         pidfile=os.path.join(d, 'httpd.pid'),
                         errlog=os.path.join(d, 'error.log'))

    def start(self):
        d = self.dir
        for sub in ('htdocs', 'data', 'tmp'):
            os.makedirs(os.path.join(d, sub))
        with open(os.path.join(d, 'htdocs', 'index.html'), 'w') as f:
            f.write('ok\n')
        # the children write SecDataDir / SecTmpDir
        iwhttpd.give_to_run_user(d)
        with open(self.conf, 'w') as f:
            f.write(HTTPD_CONF.format(d=d, port=self.port, mods=APACHE_MODS,
                                      user=iwhttpd.user_directives(), modsec=modsec_conf(d)))
        super().start()

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def send(self, raw, timeout=10):
        """Send one raw request (bytes), half-close, return the unique id."""
        try:
            with socket.create_connection(('127.0.0.1', self.port), timeout=timeout) as s:
                s.sendall(raw)
                s.shutdown(socket.SHUT_WR)
                buf = b''
                while len(buf) < 1 << 20:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
        except OSError:
            return None
        head = buf.split(b'\r\n\r\n', 1)[0]
        m = re.search(rb'(?im)^X-IW-Unique-Id:\s*(\S+)', head)
        return m.group(1).decode('ascii', 'replace') if m else None

    def hits(self):
        """unique id -> set of CRS rule ids logged for it."""
        out = collections.defaultdict(set)
        path = os.path.join(self.dir, 'error.log')
        if not os.path.exists(path):
            return out
        rx_id = re.compile(r'\[id "(\d+)"\]')
        rx_uid = re.compile(r'\[unique_id "([^"]+)"\]')
        with open(path, encoding='utf-8', errors='replace') as f:
            for line in f:
                if 'ModSecurity' not in line:
                    continue
                m, u = rx_id.search(line), rx_uid.search(line)
                if m and u:
                    out[u.group(1)].add(int(m.group(1)))
        return out


def corpus_raw_request(r):
    """The corpus request as bytes, target and headers exactly as recorded."""
    ver = r.get('version') or ''
    line = '%s %s%s\r\n' % (r['method'], r['uri'], (' ' + ver) if ver else '')
    hdrs = ''
    for k, v in (r.get('headers') or {}).items():
        for one in (v if isinstance(v, list) else [v]):
            hdrs += '%s: %s\r\n' % (k, one)
    body = (r.get('body') or '').encode('utf-8', 'surrogateescape')
    if body:
        hdrs += 'Content-Length: %d\r\n' % len(body)
    return (line + hdrs + '\r\n').encode('utf-8', 'surrogateescape') + body


COMBINED_RX = re.compile(r'^(\S+) \S+ \S+ \[[^\]]+\] "((?:[^"\\]|\\.)*)" (\S+) (\S+)'
                         r'(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?')


def unescape_apache(s):
    """Undo Apache's log escaping (\\", \\\\, \\xhh) back to the sent bytes."""
    out = bytearray()
    b = s.encode('utf-8', 'surrogateescape')
    i = 0
    while i < len(b):
        if b[i] == 0x5c and i + 1 < len(b):
            n = b[i + 1]
            if n == 0x78 and i + 3 < len(b):
                try:
                    out.append(int(b[i + 2:i + 4], 16))
                    i += 4
                    continue
                except ValueError:
                    pass
            if n in (0x22, 0x5c):
                out.append(n)
                i += 2
                continue
        out.append(b[i])
        i += 1
    return bytes(out)


def benign_raw_request(line):
    m = COMBINED_RX.match(line)
    if not m:
        return None
    req = unescape_apache(m.group(2))
    parts = req.split(b' ')
    if len(parts) < 2:
        return None
    out = req + b'\r\nHost: localhost\r\n'
    if m.group(5) and m.group(5) != '-':
        out += b'Referer: ' + unescape_apache(m.group(5)) + b'\r\n'
    if m.group(6) and m.group(6) != '-':
        out += b'User-Agent: ' + unescape_apache(m.group(6)) + b'\r\n'
    return out + b'\r\n'


def modsec_detected(ids):
    """A request counts as detected when CRS's inbound anomaly score reached the
    PL1 threshold (rule 949110: what blocks in On mode).  This reproduces the
    issue's reference numbers; single rule matches below the threshold do not
    count."""
    return 949110 in ids


def modsec_fingerprint(corpora, benign_path):
    """What a cached replay depends on: the request files and the CRS rules."""
    h = hashlib.sha256()
    for path in [c['path'] for c in corpora] + [benign_path]:
        with open(path, 'rb') as f:
            h.update(hashlib.sha256(f.read()).digest())
    for name in sorted(os.listdir(CRS_RULES)) + [os.path.basename(CRS_SETUP)]:
        full = os.path.join(CRS_RULES, name) if name != os.path.basename(CRS_SETUP) else CRS_SETUP
        if os.path.isfile(full):
            with open(full, 'rb') as f:
                h.update(name.encode() + hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def eval_modsec(args, corpora, benign_lines):
    """Replay every corpus and the benign log through ModSecurity + CRS once;
    {'corpus': {name: {id: ids}}, 'benign': {line: ids}, 'partial': bool}.
    The result is cached (build/modsec-cache.json) under a fingerprint of the
    request files and the CRS rules, so repeated runs do not replay."""
    fp = modsec_fingerprint(corpora, args.benign)
    if args.modsec_cache and os.path.exists(args.modsec_cache) and not args.modsec_replay:
        try:
            with open(args.modsec_cache, encoding='utf-8') as f:
                cached = json.load(f)
            if cached.get('fingerprint') == fp and not cached.get('partial'):
                log('detect: ModSecurity results from %s (same requests and CRS rules)'
                    % os.path.relpath(args.modsec_cache, ROOT))
                return {'corpus': {n: {k: set(v) for k, v in d.items()}
                                   for n, d in cached['corpus'].items()},
                        'benign': {int(k): set(v) for k, v in cached['benign'].items()},
                        'partial': False, 'cached': True}
        except (OSError, ValueError, KeyError):
            pass
    httpd = Httpd()
    log('detect: ModSecurity + CRS PL1 (DetectionOnly) on 127.0.0.1:%d in %s'
        % (httpd.port, httpd.dir))
    deadline = time.time() + args.modsec_budget
    uid_of = {}
    partial = False
    try:
        httpd.start()
        jobs = [(c['name'], r['id'], corpus_raw_request(r)) for c in corpora for r in c['reqs']]
        for i, line in enumerate(benign_lines, 1):
            raw = benign_raw_request(line)
            if raw:
                jobs.append(('', i, raw))
        lock = threading.Lock()

        def work(job):
            if time.time() > deadline:
                return job, None, True
            return job, httpd.send(job[2]), False

        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
            for job, uid, late in ex.map(work, jobs):
                with lock:
                    if late:
                        partial = True
                    elif uid:
                        uid_of[(job[0], job[1])] = uid
        time.sleep(1.0)          # let the last phase-5 log lines land
        httpd.stop()
        hits = httpd.hits()
    finally:
        httpd.stop()
        httpd.cleanup()
    res = {'corpus': {c['name']: {} for c in corpora}, 'benign': {}, 'partial': partial,
           'cached': False}
    for (name, key), uid in uid_of.items():
        ids = hits.get(uid, set())
        if name:
            res['corpus'][name][key] = ids
        else:
            res['benign'][key] = ids
    if args.modsec_cache and not partial:
        os.makedirs(os.path.dirname(args.modsec_cache), exist_ok=True)
        with open(args.modsec_cache, 'w', encoding='utf-8') as f:
            json.dump({'fingerprint': fp,
                       'corpus': {n: {k: sorted(v) for k, v in d.items()}
                                  for n, d in res['corpus'].items()},
                       'benign': {str(k): sorted(v) for k, v in res['benign'].items()}}, f)
    return res


# ------------------------------------------------------------------ report --

def pct(x):
    return '%.2f' % x


def ratio(hit, n):
    return pct(hit / n) if n else 'n/a'


def tally(c, ms):
    """Per category: attack/negative/benign counts and hits for both engines."""
    k = collections.defaultdict(collections.Counter)
    msc = ms['corpus'].get(c['name'], {}) if ms else {}
    for r in c['reqs']:
        cat, lab = r['category'], r['label']
        k[cat][lab] += 1
        if c['fired'].get(r['id']):
            k[cat][lab + '_hit'] += 1
        if r['id'] in msc:
            k[cat][lab + '_sent'] += 1
            if modsec_detected(msc[r['id']]):
                k[cat][lab + '_mshit'] += 1
    return k


def git_commit():
    try:
        out = subprocess.run(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD'],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10)
        return out.stdout.decode().strip() or 'unknown'
    except (OSError, subprocess.TimeoutExpired):
        return 'unknown'


def categories(tallies):
    seen = []
    for cat in CATEGORIES:
        if any(t[cat]['attack'] for t in tallies):
            seen.append(cat)
    for t in tallies:
        for cat in sorted(t):
            if cat not in seen and t[cat]['attack']:
                seen.append(cat)
    return seen


def side_by_side(lines, corpora, tallies, ms):
    hdr = '| category |'
    sep = '|---|'
    for c in corpora:
        hdr += ' %s attacks | iocwatch | ModSec PL1 |' % c['name']
        sep += '---:|---:|---:|'
    lines += [hdr, sep]
    tot = [collections.Counter() for _ in corpora]
    for cat in categories(tallies):
        row = '| %s |' % cat
        for i, t in enumerate(tallies):
            k = t[cat]
            if not k['attack']:
                row += ' | | |'
                continue
            iw = k['attack_hit'] / k['attack']
            msr = k['attack_mshit'] / k['attack_sent'] if k['attack_sent'] else None
            mark = ' (below)' if msr is not None and iw + 1e-9 < msr else ''
            row += ' %d | %.3f%s | %s |' % (k['attack'], iw, mark,
                                            '%.3f' % msr if msr is not None else 'n/a')
            for key in ('attack', 'attack_hit', 'attack_sent', 'attack_mshit'):
                tot[i][key] += k[key]
        lines.append(row)
    row = '| **all** |'
    for k in tot:
        row += ' %d | %.3f | %s |' % (k['attack'], k['attack_hit'] / max(k['attack'], 1),
                                      '%.3f' % (k['attack_mshit'] / max(k['attack_sent'], 1)) if ms else 'n/a')
    lines.append(row)


def corpus_detail(lines, c, t, ms):
    lines.append('| category | attacks | iocwatch recall | ModSec PL1 | negatives | iocwatch on negatives '
                 '| ModSec on negatives |')
    lines.append('|---|---:|---:|---:|---:|---:|---:|')
    for cat in categories([t]):
        k = t[cat]
        lines.append('| %s | %d | %s | %s | %d | %s | %s |' % (
            cat, k['attack'], ratio(k['attack_hit'], k['attack']),
            ratio(k['attack_mshit'], k['attack_sent']), k['negative'],
            ratio(k['negative_hit'], k['negative']) if k['negative'] else '—',
            ratio(k['negative_mshit'], k['negative_sent']) if k['negative'] else '—'))


def build_report(args, corpora, iw, ms, tps, nbenign):
    tallies = [tally(c, ms) for c in corpora]
    alerted = set(iw['benign_lines'])
    fp_lines = sorted(alerted - set(tps))
    denom = nbenign - len(tps)
    fp_rate = len(fp_lines) / denom if denom else 0.0

    lines = ['# Detection quality of the shipped rule pack', '']
    lines.append('Generated by `make detect` (`tools/detect.py`) on %s at commit `%s`. Rules: `%s`.'
                 % (time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()), git_commit(), ' '.join(
                     os.path.relpath(r, ROOT) for r in args.rules)))
    lines.append('')
    for c in corpora:
        labels = collections.Counter(r['label'] for r in c['reqs'])
        lines.append('- `%s`: %d requests (%s); %s' % (
            c['name'], len(c['reqs']), ', '.join('%d %s' % (n, l) for l, n in sorted(labels.items())),
            CORPUS_ABOUT.get(c['name'], 'development corpus')))
    lines.append('- Benign: `%s` (%d real access-log lines); %d lines are real probes counted as true '
                 'positives (`tools/benign-true-positives.txt`) and left out of the FP rate.' %
                 (os.path.basename(args.benign), nbenign, len(tps)))
    lines.append('- Recall = share of `attack` requests with at least one alert from the pack; a request '
                 'counts once however many rules fire. Correlation alerts are not counted.')
    if ms:
        lines.append('- ModSecurity: Debian ModSecurity 2.9.7 + CRS 3.3.4 at paranoia level 1, '
                     '`SecRuleEngine DetectionOnly`, in a sandboxed httpd on 127.0.0.1; the same bytes '
                     'sent over raw sockets; a request counts as detected when the inbound anomaly score '
                     'reached the PL1 threshold (rule 949110, what blocks in `On` mode).%s%s'
                     % (' Replay results reused from `build/modsec-cache.json` (same request files and '
                        'CRS rules; `--modsec-replay` replays).' if ms.get('cached') else '',
                        ' **Partial run** (time budget hit).' if ms['partial'] else ''))
    else:
        lines.append('- ModSecurity + CRS not installed here: its columns are `n/a`.')
    lines += ['', '## Recall per category, both corpora', '']
    with_attacks = [i for i, t in enumerate(tallies) if any(t[cat]['attack'] for cat in t)
                    and corpora[i]['name'] != HELDOUT_NAME]
    side_by_side(lines, [corpora[i] for i in with_attacks], [tallies[i] for i in with_attacks], ms)
    lines += ['', '`(below)` marks a category where the pack detects less than CRS PL1.', '']

    lines += ['## False positives', '', '| data | items | iocwatch | ModSec PL1 | target |',
              '|---|---:|---:|---:|---|']
    if ms:
        mfp = sum(1 for ln, ids in ms['benign'].items() if modsec_detected(ids) and ln not in tps)
        msent = len(ms['benign']) - len(set(tps) & set(ms['benign']))
        ms_b = '%.3f %%' % (100 * mfp / max(msent, 1))
    else:
        ms_b = 'n/a'
    lines.append('| `%s` lines, true probes excluded | %d | %.3f %% (%d lines) | %s | ≤ %.1f %% |'
                 % (os.path.basename(args.benign), denom, 100 * fp_rate, len(fp_lines), ms_b,
                    100 * BENIGN_TARGET))
    for c, t in zip(corpora, tallies):
        for cat in sorted(t):
            k = t[cat]
            if k['benign']:
                lines.append('| `%s` benign `%s` requests | %d | %.3f (%d) | %s | ≤ ModSec |' % (
                    c['name'], cat, k['benign'], k['benign_hit'] / k['benign'], k['benign_hit'],
                    '%.3f (%d)' % (k['benign_mshit'] / k['benign_sent'], k['benign_mshit'])
                    if k['benign_sent'] else 'n/a'))
        neg = sum(t[cat]['negative'] for cat in t)
        if neg:
            lines.append('| `%s` `negative` look-alikes (reported, not targeted) | %d | %s | %s | |' % (
                c['name'], neg, ratio(sum(t[x]['negative_hit'] for x in t), neg),
                ratio(sum(t[x]['negative_mshit'] for x in t), sum(t[x]['negative_sent'] for x in t))))
    lines.append('')
    if iw['benign_corr']:
        lines.append('Correlation alerts on the benign log: ' + ', '.join(
            '%s × %d' % (iw['names'].get(r, r), n) for r, n in iw['benign_corr'].most_common()) + '.')
        lines.append('')

    for c, t in zip(corpora, tallies):
        if not any(t[cat]['attack'] for cat in t) or c['name'] == HELDOUT_NAME:
            continue
        lines += ['## `%s` per category' % c['name'], '']
        corpus_detail(lines, c, t, ms)
        lines.append('')

    lines += ['## Benign log details', '', '### Real probes in the benign log (counted as true positives)', '']
    if tps:
        lines.append('| line | alerted | reason |')
        lines.append('|---:|---|---|')
        for ln in sorted(tps):
            lines.append('| %d | %s | %s |' % (ln, 'yes' if ln in alerted else 'no', tps[ln]))
    else:
        lines.append('(none listed)')
    lines += ['', '### Rules that fired on benign traffic (true probes excluded)', '']
    cnt = collections.Counter()
    for ln in fp_lines:
        for rid in iw['benign_lines'][ln]:
            cnt[rid] += 1
    if cnt:
        lines.append('| alerts | rule id | title |')
        lines.append('|---:|---|---|')
        for rid, n in cnt.most_common(10):
            lines.append('| %d | `%s` | %s |' % (n, rid, iw['names'].get(rid, '')))
        lines += ['', 'False-positive lines:', '']
        with open(args.benign, encoding='utf-8', errors='replace') as f:
            blines = f.read().split('\n')
        for ln in fp_lines[:25]:
            text = blines[ln - 1] if ln - 1 < len(blines) else ''
            lines.append('- line %d: `%s`' % (ln, text[:160].replace('`', "'")))
    else:
        lines.append('(no alerts on benign lines)')
    lines += ['', '## Notes', '']
    lines.append('- The shared corpora carry no bodies (CRS tests whose payload is in a multipart/JSON/XML body '
                 'were dropped from the CRS corpus; form bodies were moved to the query). The module reads form '
                 'and JSON bodies (`cs-body`); what the body rules do on prose is measured on `benign-bodies.jsonl` '
                 'above, and on attack bodies in the live-tool check below (sqlmap\'s and wfuzz\'s POST runs). '
                 'Most remaining `protocol` misses '
                 'on the CRS corpus are tests about a Content-Type charset, a GET with a body or header counts '
                 'whose headers the corpus request no longer carries (the body was moved to the query), and CRS '
                 'paranoia-level 3-4 checks (byte ranges of each character, parameter arrays); most remaining '
                 '`sqli` misses are CRS '
                 'paranoia-level 2+ checks (runs of SQL meta-characters such as `~~~~~~`, `@@@@@@`, `((((((`, '
                 'bare operators `||`, `<>`, and bare function names like `COS(`) that would fire on ordinary '
                 'traffic.')
    lines.append('- `negative` requests are CRS look-alikes for one rule; many of them are attacks of another '
                 'class (e.g. an SSRF URL that is not the metadata address), so their alert rate is reported, '
                 'not targeted. Session-fixation negatives differ from attacks only by a same-site Referer, '
                 'which a rule cannot compare with the Host.')
    lines.append('- fuzzdb payloads that are placeholders (`{cmd}`, `{FILE}`) or prose (`Exploit String: ...`) '
                 'count as attacks in the corpus; neither engine is tuned to them.')
    lines.append('- Correlation alerts are not in the recall or FP numbers.')
    lines.append('- The optional rules of `conf/crs/` (CRS\'s own lists, docs/PACK.md) are not loaded here: the '
                 'numbers are the shipped pack\'s alone.')
    lines.append('')
    lines.append('Scan time of `iocwatch scan` (wall clock, including rule compilation, `--jobs` = CPUs): '
                 + ', '.join('%s %.1f s' % (n, t) for n, t in iw['time'].items()) + '.')
    lines.append('')
    return '\n'.join(lines)


TOOLS_SECTION = '## Held-out: live attack tools'
HELDOUT_NAME = 'heldout-requests.jsonl'


def heldout_report(lines, c, ms, info):
    """Pack vs CRS PL1 on the held-out set, per category and per source."""
    msc = ms['corpus'].get(c['name'], {}) if ms else {}
    lines += ['## Held-out: Debian payload lists and class vocabularies', '']
    lines.append('Requests built at run time by `tools/detect_heldout.py` (`build/%s`) from sources the pack was '
                 'not tuned on: payload lists Debian packages ship (read where they are installed, never copied) '
                 'and class vocabularies written from the attack classes, kept apart from `conf/lists`. Payloads '
                 'that also occur, decoded, as a parameter value of the shared corpora are dropped (%d). Benign '
                 'rows are in the false-positive table above (`heldout-requests.jsonl benign ...`).'
                 % (c['name'], info['dropped']))
    lines += ['', '| category | attacks | iocwatch | ModSec PL1 |', '|---|---:|---:|---:|']
    by = collections.defaultdict(collections.Counter)
    for r in c['reqs']:
        for key in (('cat', r['category']), ('src', r['source'])):
            k = by[key]
            k[r['label']] += 1
            if c['fired'].get(r['id']):
                k['hit'] += 1
            if r['id'] in msc:
                k['sent'] += 1
                k['mshit'] += 1 if modsec_detected(msc[r['id']]) else 0
    tot = collections.Counter()
    for (kind, cat), k in sorted(by.items()):
        if kind != 'cat' or not k['attack']:
            continue
        msr = k['mshit'] / k['sent'] if k['sent'] else None
        mark = ' (below)' if msr is not None and k['hit'] / k['attack'] + 1e-9 < msr else ''
        lines.append('| %s | %d | %.3f%s | %s |' % (cat, k['attack'], k['hit'] / k['attack'], mark,
                                                  '%.3f' % msr if msr is not None else 'n/a'))
        tot.update({x: k[x] for x in ('attack', 'hit', 'sent', 'mshit')})
    lines.append('| **all** | %d | %.3f | %s |' % (tot['attack'], tot['hit'] / max(tot['attack'], 1),
                                                  '%.3f' % (tot['mshit'] / tot['sent']) if tot['sent'] else 'n/a'))
    lines += ['', '| source | class | what | requests | iocwatch | ModSec PL1 |', '|---|---|---|---:|---:|---:|']
    for name, cat, about, n in info['sources']:
        if n is None:
            lines.append('| %s | %s | %s | (not installed) | | |' % (name, cat, about))
            continue
        k = by[('src', name)] if name != 'benign-words' else by[('src', 'benign-latin1')] + by[('src', 'benign-utf8')]
        cnt = k['attack'] + k['benign']
        lines.append('| %s | %s | %s | %d | %s | %s |' % (name, cat, about.replace('|', '\\|'), cnt,
                                                       ratio(k['hit'], cnt), ratio(k['mshit'], k['sent'])))
    lines += ['', 'Benign rows (`benign-*`) are alert rates (lower is better); the others recall. Most '
              '`sqli-evasion` misses are sqlmap\'s `base64encode`, `decentities` and `hexentities` tampers: the whole '
              'payload base64- or HTML-entity-encoded, an attack only on an application that decodes it so. The '
              'class vocabularies are in `tools/detect_heldout.py`; run `tools/detect.py --show-misses CATS` '
              '(e.g. `rfi,protocol`) for the requests missed.', '']

# OWASP CRS's word lists (Debian modsecurity-crs, read at run time, never copied): each entry put
# into the smallest request that makes it an attack of its class, with nothing else that alerts
VOCAB = [
    ('lfi-os-files.data', 'OS file as an absolute path in a parameter', 'GET /view?file=/ENTRY (Windows-looking: c:\\ENTRY)'),
    ('restricted-files.data', 'restricted file requested as a path', 'GET /ENTRY'),
    ('unix-shell.data', 'shell path or variable run after a separator', 'GET /ping?host=127.0.0.1;/ENTRY -a'),
    ('windows-powershell-commands.data', 'PowerShell command after a pipe', 'GET /ping?host=127.0.0.1|ENTRY -Name x'),
    ('php-function-names-933150.data', 'PHP function called in a parameter', 'GET /x?code=ENTRY("id")'),
    ('php-function-names-933151.data', 'PHP function called in a parameter (CRS\'s paranoia-level 2 list)',
     'GET /x?code=ENTRY("id")'),
    ('php-variables.data', 'PHP superglobal or request variable in a parameter', 'GET /x?v=ENTRY[\'x\']'),
    ('php-config-directives.data', 'PHP ini directive assigned in a parameter value', 'GET /x?cfg=-d ENTRY=1'),
    ('java-classes.data', 'Java class name in a parameter', 'GET /x?data=ENTRY'),
]
WIN_FIRST = ('windows', 'winnt', 'boot.ini', 'inetpub', 'program files', 'documents and settings', 'system32')


def vocab_requests():
    """Requests built from CRS's lists, or [] when they are not installed."""
    import urllib.parse
    q = lambda v: urllib.parse.quote(v, safe='/')       # noqa: E731
    reqs = []
    for name, _, _ in VOCAB:
        path = os.path.join(CRS_RULES, name)
        if not os.path.exists(path):
            continue
        with open(path, encoding='utf-8', errors='replace') as f:
            words = [w.strip() for w in f if w.strip() and not w.startswith('#')]
        for i, w in enumerate(words):
            rel = w.lstrip('/\\')
            if name.startswith('lfi'):
                win = '\\' in rel or rel.lower().startswith(WIN_FIRST)
                uri = '/view?file=' + q(('c:\\' if win else '/') + rel)
            elif name.startswith('restricted'):
                uri = '/' + q(rel)
            elif name.startswith('unix'):
                uri = '/ping?host=' + q('127.0.0.1;' + (w if w.startswith('$') else '/' + rel) + ' -a')
            elif name.startswith('windows'):
                uri = '/ping?host=' + q('127.0.0.1|' + w + ' -Name x')
            elif name.startswith('php-function'):
                uri = '/x?code=' + q(w + '("id")')
            elif name.startswith('php-variables'):
                uri = '/x?v=' + q(w + "['x']")
            elif name.startswith('php-config'):
                uri = '/x?cfg=' + q('-d ' + w + '=1')
            else:
                uri = '/x?data=' + q(w)
            reqs.append({'id': '%s|%d' % (name, i), 'word': w, 'list': name, 'method': 'GET', 'uri': uri,
                         'version': 'HTTP/1.1', 'headers': {'Host': 'www.example.com', 'User-Agent': BROWSER_UA}})
    return reqs


def eval_vocab(args):
    """Share of each CRS list's entries the pack alerts on, in its context."""
    reqs = vocab_requests()
    if not reqs:
        return None
    path = os.path.join(ROOT, 'build', 'crs-vocab.jsonl')
    with open(path, 'w', encoding='utf-8') as f:
        for r in reqs:
            f.write(json.dumps({k: v for k, v in r.items() if k not in ('word', 'list')}) + '\n')
    hit = {a['iocwatch']['input'].get('id') for a in run_scan(args.iocwatch, args.rules, 'jsonl', path)
           if not is_correlation(a)}
    out = collections.OrderedDict()
    for r in reqs:
        e = out.setdefault(r['list'], {'n': 0, 'hit': 0, 'miss': []})
        e['n'] += 1
        if r['id'] in hit:
            e['hit'] += 1
        else:
            e['miss'].append(r['word'])
    return out


def vocab_report(lines, vocab):
    lines += ['## Held-out vocabularies: OWASP CRS word lists', '']
    if vocab is None:
        lines += ['(modsecurity-crs not installed: skipped)', '']
        return
    lines.append('The pack\'s word lists are written for iocwatch; CRS keeps its own (Debian `modsecurity-crs`, read '
                 'here at run time). Each CRS entry is put into the smallest request that makes it an attack of its '
                 'class and nothing else (no traversal, no tool name), and the share the pack alerts on is a measure '
                 'of how complete its vocabulary is for a list it was not written from. CRS itself matches its lists '
                 'anywhere (`@pmFromFile`), so it is not compared.')
    lines += ['', '| CRS list | class, request | entries | pack alerts | examples missed |', '|---|---|---:|---:|---|']
    about = {n: (c, t) for n, c, t in VOCAB}
    for name, e in vocab.items():
        ex = ', '.join('`%s`' % w.replace('`', "'").replace('|', '\\|') for w in e['miss'][:6])
        lines.append('| `%s` | %s: `%s` | %d | %.3f | %s |' % (name, about[name][0], about[name][1].replace('|', '\\|'),
                                                             e['n'], e['hit'] / e['n'], ex))
    lines.append('')


def kept_section(path, title):
    """The section `title` (to the end) of the old report, which another
    tool writes (tools/detect_tools.py): kept when this report is rewritten."""
    try:
        with open(path, encoding='utf-8') as f:
            old = f.read()
    except OSError:
        return ''
    i = old.find(title)
    return '\n' + old[i:] if i >= 0 else ''


def show_misses(corpora, cats):
    for c in corpora:
        for r in c['reqs']:
            if r['category'] not in cats:
                continue
            hit = c['fired'].get(r['id'])
            if r['label'] == 'attack' and not hit:
                print('MISS %s %s %s %s' % (r['id'], r['method'], r['uri'][:160],
                                            json.dumps({k: v for k, v in r['headers'].items()
                                                        if k.lower() not in ('host', 'accept', 'accept-encoding',
                                                                             'accept-language', 'keep-alive',
                                                                             'proxy-connection', 'connection')
                                                        and v != 'OWASP CRS test agent'})[:160]))
            if r['label'] != 'attack' and hit:
                print('NEG  %s %s %s' % (r['id'], r['uri'][:120], ' '.join(sorted(hit))))


FORTUNES = '/usr/share/games/fortunes'
# prose, not code or drawings: the fortunes of these files are form bodies a visitor could write
FORTUNE_SKIP = ('art', 'ascii-art', 'perl', 'translate-me')
BODY_FORM = 'application/x-www-form-urlencoded'
BODIES_NAME = 'benign-bodies.jsonl'


def benign_bodies(args, benign_lines, tps):
    """The benign form bodies, written to build/benign-bodies.jsonl: every
    query string of the benign log (true probes left out) POSTed as a form
    body, and every 4th fortune of Debian's `fortunes` package (prose with
    quotes, dashes and semicolons) POSTed as a comment field.  Read at run
    time, never copied into the tree."""
    import urllib.parse
    reqs = []

    def add(cat, body, n):
        reqs.append({'id': '%s-%05d' % (cat, n), 'source': cat, 'category': cat, 'label': 'benign',
                     'method': 'POST', 'uri': '/comment' if cat == 'fortune-body' else '/search',
                     'version': 'HTTP/1.1',
                     'headers': {'Host': 'www.example.com', 'User-Agent': BROWSER_UA,
                                 'Content-Type': BODY_FORM},
                     'body': body})
    for i, line in enumerate(benign_lines, 1):
        m = COMBINED_RX.match(line)
        if i in tps or not m:
            continue
        parts = m.group(2).split(' ')
        if len(parts) >= 2 and '?' in parts[1]:
            q = parts[1].split('?', 1)[1]
            if q:
                add('log-query-body', q, i)
    if os.path.isdir(FORTUNES):
        n = 0
        for name in sorted(os.listdir(FORTUNES)):
            full = os.path.join(FORTUNES, name)
            if '.' in name or name in FORTUNE_SKIP or not os.path.isfile(full):
                continue
            with open(full, encoding='utf-8', errors='replace') as f:
                items = [t.strip() for t in f.read().split('\n%\n') if t.strip()]
            for t in items[::4]:
                n += 1
                add('fortune-body', 'name=guest&comment=' + urllib.parse.quote_plus(t), n)
    else:
        log('detect: %s not installed (apt-get install fortunes): fortune bodies left out' % FORTUNES)
    path = os.path.join(ROOT, 'build', BODIES_NAME)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        for r in reqs:
            f.write(json.dumps(r) + '\n')
    return path


BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'

CORPUS_ABOUT = {
    BODIES_NAME: 'benign form bodies, built at run time: the benign log\'s query strings POSTed as form bodies '
                 '(`log-query-body`) and every 4th fortune of Debian\'s `fortunes` package as a comment field '
                 '(`fortune-body`, prose with quotes, dashes and semicolons)',
    'crs-requests.jsonl': 'OWASP CRS regression tests (`attack` = the CRS test expects its rule to fire, '
                          '`negative` = it expects no alert)',
    'fuzzdb-requests.jsonl': 'fuzzdb payload lists placed in a query parameter, plus benign Unicode '
                             '"naughty strings" (`benign`)',
    'heldout-requests.jsonl': 'the held-out set, built at run time (`tools/detect_heldout.py`): Debian\'s payload '
                              'lists and class vocabularies the pack was not tuned on, plus benign locale words '
                              'and protocol variants; reported in its own section below',
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--iocwatch', default=os.environ.get('IOCWATCH', os.path.join(ROOT, 'build', 'iocwatch')))
    ap.add_argument('--rules', action='append', help='rule paths (default conf/rules)')
    ap.add_argument('--corpus', action='append',
                    help='JSON-lines corpus (repeatable; default crs-requests.jsonl and fuzzdb-requests.jsonl)')
    ap.add_argument('--benign', default=os.path.join(SHARED, 'benign', 'elastic-apache.log'))
    ap.add_argument('--true-positives', default=os.path.join(ROOT, 'tools', 'benign-true-positives.txt'))
    ap.add_argument('--out', default=os.path.join(ROOT, 'docs', 'DETECTION.md'),
                    help="report file ('-' = do not write)")
    ap.add_argument('--no-modsec', action='store_true', help='skip the ModSecurity replay')
    ap.add_argument('--no-bodies', action='store_true', help='leave out the benign form bodies')
    ap.add_argument('--no-heldout', action='store_true', help='leave out the held-out set (tools/detect_heldout.py)')
    ap.add_argument('--modsec-budget', type=float, default=900.0,
                    help='seconds allowed for the ModSecurity replay (default 900)')
    ap.add_argument('--modsec-cache', default=os.path.join(ROOT, 'build', 'modsec-cache.json'),
                    help="replay results reused while the requests and CRS rules are unchanged ('' = none)")
    ap.add_argument('--modsec-replay', action='store_true', help='replay even when the cache is valid')
    ap.add_argument('--show-misses', metavar='CATS', help='print missed attacks / hit negatives of '
                    'these comma-separated categories')
    args = ap.parse_args()
    args.rules = args.rules or [os.path.join(ROOT, 'conf', 'rules')]
    args.corpus = args.corpus or [os.path.join(SHARED, 'crs-requests.jsonl'),
                                  os.path.join(SHARED, 'fuzzdb-requests.jsonl')]
    if not os.access(args.iocwatch, os.X_OK):
        raise SystemExit('detect: %s not found (run make cli, or pass --iocwatch)' % args.iocwatch)

    with open(args.benign, encoding='utf-8', errors='surrogateescape') as f:
        benign_lines = [l.rstrip('\n') for l in f if l.strip()]
    tps = load_true_positives(args.true_positives)
    if not args.no_bodies:
        args.corpus.append(benign_bodies(args, benign_lines, tps))
    heldout = None
    if not args.no_heldout:
        hpath, hsources, hdropped = detect_heldout.build(os.path.join(ROOT, 'build', HELDOUT_NAME),
                                                         list(args.corpus))
        heldout = {'sources': hsources, 'dropped': hdropped}
        args.corpus.append(hpath)
    corpora = [{'name': os.path.basename(p), 'path': p, 'reqs': load_corpus(p)} for p in args.corpus]
    iw = eval_iocwatch(args, corpora)
    ms = None
    if not args.no_modsec:
        if modsec_available():
            try:
                ms = eval_modsec(args, corpora, benign_lines)
            except (RuntimeError, OSError) as e:
                log('detect: ModSecurity replay skipped: %s' % e)
        else:
            log('detect: ModSecurity/CRS not installed; its columns are n/a')
    vocab = eval_vocab(args)
    report = build_report(args, corpora, iw, ms, tps, len(benign_lines))
    vlines = []
    if heldout:
        heldout_report(vlines, [c for c in corpora if c['name'] == HELDOUT_NAME][0], ms, heldout)
    vocab_report(vlines, vocab)
    report += '\n'.join(vlines)
    print(report)
    if args.show_misses:
        show_misses(corpora, set(args.show_misses.split(',')))
    if args.out != '-':
        report += kept_section(args.out, TOOLS_SECTION)
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(report)
        log('detect: wrote %s' % os.path.relpath(args.out, ROOT))


if __name__ == '__main__':
    main()
