#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""User-space instructions per request of httpd, module off vs on (make bench).

httpd runs single-process (`-X`, event MPM) under `valgrind --tool=callgrind`
and serves WARM of wrk's requests, then N keep-alive requests of one kind of
traffic; the instruction count of all its threads is read at exit.  Two
runs per variant (WARM and WARM + N requests) cancel start-up, rule
loading and thread creation: the difference over N is the steady cost of
one request of that kind.  Deterministic: the load of the machine does not
change it (two runs of `on` agree within ~10 per request: the module's
start-up line is awaited before httpd is probed, and the repeated request
of `same` is pipelined, see wait_ready and get_pipelined).  Every path is
served by a 2 KB static file.

`make bench` runs the three kinds of traffic of the performance issue,
each with the module off, on (all SigmaHQ web rules + conf/rules) and, when
Debian's libapache2-mod-security2 + modsecurity-crs are installed,
ModSecurity + CRS (DetectionOnly) as the reference:
  off / on / modsec                 the same small GET repeated (wrk's),
        all WARM + N requests pipelined on one connection
  off-brreal / on-brreal / modsec-brreal
        browser-real: the GET requests of a real access log in order
        (bench_httpd.real_requests: client in X-Forwarded-For, taken by
        mod_remoteip, its user agent and referer) with a browser's full
        header set (bench_httpd.browser_real_headers: accept lists, fetch
        metadata, a ~320-byte cookie per client)
  off-attack / on-attack / modsec-attack
        the first N requests of corpus/crs-requests.jsonl as recorded
        (body headers dropped), alerts rendered and sent as in production
and the floor of each kind: bench_floor, a literal-only Vectorscan
database of the loaded rules' literals scanning the same request bytes
raw and once URL-decoded, counted alone (--toggle-collect), printed
with module / floor.  More variants by name (IW_INSTR_VARIANTS=on-uniq,...):
sigmahq, nocache, off-uniq/on-uniq, off-brws/on-brws (one repeated
browser request), off-real/on-real (browser-real without the browser's
headers), off-health/on-health (browser-real with a health check as every
tenth request, IW_INSTR_HEALTH_EVERY=N: every N-th).  With on (on-brws) selected, one more pair of runs counts the
log_transaction hook alone under callgrind's cache model (--cache-sim):
its instructions and L1 misses per request (IW_INSTR_HOOK=0: skipped).
Only user space is counted: the kernel's TCP and syscall work is not.
The first run compiles the rule databases under valgrind (its CPU model
differs from the host's, so the host's compiled databases do not apply):
several minutes, then cached in build/bench-vg-hscache.

    IW_INSTR_REQUESTS=1000 IW_INSTR_VARIANTS=on,on-brreal /usr/bin/python3 tools/bench_instr.py
    IW_INSTR_HOOK=0 IW_INSTR_VARIANTS=on-attack /usr/bin/python3 tools/bench_instr.py   # attack alone
(IW_INSTR_KEEP=1 keeps the callgrind files and prints where, for callgrind_annotate.)
    /usr/bin/python3 tools/bench_instr.py --jsonl browser-real 2000 > br.jsonl   # for iocwatch scan
"""
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_httpd as B  # noqa: E402  (Httpd sandbox, paths)

N = int(os.environ.get("IW_INSTR_REQUESTS", "1000"))
B.CLI_PATH = os.environ.get("IW_CLI", os.path.join(B.REPO, "build", "iocwatch"))
# IW_INSTR_CACHE: another database cache dir (e.g. one shared by several
# worktrees: entries are keyed by their rules and written atomically)
CACHE = os.environ.get("IW_INSTR_CACHE") or os.path.join(B.REPO, "build", "bench-vg-hscache")
START_TIMEOUT = 1800            # a cold compile under valgrind takes minutes
WARM = 100                      # requests before the counted ones
HEALTH_EVERY = int(os.environ.get("IW_INSTR_HEALTH_EVERY", "10"))   # the "health" kind's


ATTACK_LOG = os.path.join(B.SHARED, "corpus", "crs-requests.jsonl")
# hop-by-hop and body headers a replay must not send (the request would
# wait for a body or close the connection)
DROP_HEADERS = {"content-length", "transfer-encoding", "connection", "expect",
                "keep-alive", "proxy-connection", "upgrade"}
# attack: every path served by the static file, like the real-log variants
ATTACK_CONF = """LoadModule alias_module {m}/mod_alias.so
AliasMatch "^/.*$" "{{d}}/htdocs/static.html"
""".format(m=B.MODDIR)


def request_bytes(method, target, headers):
    return ("%s %s HTTP/1.1\r\n%s\r\n" % (method, target, "".join(
        "%s: %s\r\n" % hv for hv in headers))).encode("latin-1")


def attack_requests(n):
    """The first n requests of corpus/crs-requests.jsonl as HTTP/1.1
    heads (method, target and headers as recorded; a request line or
    header httpd could not take is skipped)."""
    import json
    out = []
    with open(ATTACK_LOG, encoding="utf-8") as f:
        for line in f:
            if len(out) == n:
                break
            r = json.loads(line)
            m, t = r.get("method") or "GET", r.get("uri") or "/"
            hs = [(k, v) for k, v in (r.get("headers") or {}).items()
                  if k.lower() not in DROP_HEADERS and isinstance(v, str)]
            if not any(k.lower() == "host" for k, _ in hs):
                hs.insert(0, ("Host", "localhost"))
            ok = all(0x20 < ord(c) < 0x7f for c in m + t) and all(
                B.PRINTABLE.match(k + v) and ":" not in k for k, v in hs)
            if ok:
                out.append((m, request_bytes(m, t, hs)))
    return out


def requests(kind, port, n):
    """n requests of a kind as (method, bytes): "same" (wrk's request),
    "uniq" (a distinct query each time), "browser" (the same request with
    a browser's headers), "real" (a real log's requests in order,
    bench_httpd.real_requests, client in X-Forwarded-For), "browser-real"
    (the same with a browser's full header set, a cookie per client),
    "attack" (the first n of corpus/crs-requests.jsonl), "health"
    (browser-real with a monitor's health check as every
    IW_INSTR_HEALTH_EVERY-th request: the same GET each time)."""
    if kind == "health":
        br = requests("browser-real", port, n)
        hc = request_bytes("GET", "/healthz", [("Host", "127.0.0.1:%d" % port),
                                               ("User-Agent", "kube-probe/1.27"), ("Accept", "*/*"),
                                               ("X-Forwarded-For", "192.0.2.10")])
        return [("GET", hc) if i % HEALTH_EVERY == HEALTH_EVERY - 1 else br[i] for i in range(n)]
    if kind == "attack":
        reqs = attack_requests(n)
        return [reqs[i % len(reqs)] for i in range(n)]
    real = B.real_requests() if kind in ("real", "browser-real") else None
    out = []
    for i in range(n):
        path = "/static.html" + ("?r=%d" % i if kind == "uniq" else "")
        hs = [("Host", "127.0.0.1:%d" % port)]
        if kind == "browser":
            hs += B.BROWSER_HEADERS
        if real:
            client, path, referer, agent = real[i % len(real)]
            hs = (B.browser_real_headers if kind == "browser-real" else B.real_headers)(
                client, referer, agent)
        out.append(("GET", request_bytes("GET", path, hs)))
    return out


def get_all(port, n, kind, warm=WARM):
    """warm of wrk's requests (each worker thread's scratch and caches made),
    then n keep-alive requests of a kind (requests()), each response read
    fully; a connection the server closes (an error response) is opened
    again.  "same" is pipelined (get_pipelined)."""
    if kind == "same":
        return get_pipelined(port, requests("same", port, warm + n))
    s = None
    try:
        for method, req in requests("same", port, warm) + requests(kind, port, n):
            for attempt in (0, 1):
                if s is None:
                    s = socket.create_connection(("127.0.0.1", port), 30)
                try:
                    s.sendall(req)
                    state = read_response(s, method)
                except OSError:
                    state = None
                if state == "keep":
                    break
                s.close()                 # closed by the server
                s = None
                if state == "close":
                    break
    finally:
        if s is not None:
            s.close()


def get_pipelined(port, reqs):
    """All requests on one connection at once, the responses read by a
    thread meanwhile.  One request after another (send, read, send) races
    with httpd: whether the next request is already there when httpd has
    logged the last one decides between reading it at once and a round
    through the event MPM's listener (~1,200 instructions), and how often
    the client wins follows the machine's load (38 to 145 rounds in 1,000
    requests between runs of the same code, +-130 per request).  Sent
    together, every request after the first is already there: the same
    path every time."""
    import threading
    s = socket.create_connection(("127.0.0.1", port), 30)
    got = [0]

    def reader():
        buf, pos, need = bytearray(), 0, None     # need: where this response ends
        while got[0] < len(reqs):
            end = buf.find(b"\r\n\r\n", pos) if need is None else -1
            if end >= 0:
                length = 0
                for line in bytes(buf[pos:end]).split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v)
                need = end + 4 + length
            if need is not None and len(buf) >= need:
                pos, need = need, None
                got[0] += 1
                continue
            del buf[:pos]
            need = need - pos if need is not None else None
            pos = 0
            d = s.recv(1 << 20)
            if not d:
                break
            buf += d

    t = threading.Thread(target=reader)
    t.start()
    try:
        s.sendall(b"".join(req for _, req in reqs))
        t.join(600)
    finally:
        s.close()
    if got[0] != len(reqs):
        raise RuntimeError("pipelined: %d of %d responses" % (got[0], len(reqs)))


def read_response(s, method):
    """Read one response: "keep", "close" (the server closes after it) or
    None (the connection closed before a response: send again)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            return None
        buf += d
    head, body = buf.split(b"\r\n\r\n", 1)
    length, state = 0, "keep"
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
        elif k.strip().lower() == b"connection" and v.strip().lower() == b"close":
            state = "close"
    if method == "HEAD" or head.split(b" ")[1:2] in ([b"204"], [b"304"]):
        length = 0
    while len(body) < length:
        d = s.recv(65536)
        if not d:
            return "close"
        body += d
    return state


def callgrind(name, extra, n, kind, outdir, vg_args=()):
    """callgrind's event totals (Ir, and I1mr, D1mr, ... with --cache-sim)
    of one httpd -X run serving n requests."""
    # one worker thread: it surely makes its per-thread scratch within the
    # warm-up requests of both runs (with two, the event MPM's listener may
    # hand all of the warm-up to one of them), so thread start-up cancels out
    h = B.Httpd(name, extra + "ThreadsPerChild 1\nMaxRequestWorkers 1\n")
    out = os.path.join(outdir, "cg-%s-%d.out" % (name, n))
    # httpd drops root for its workers; callgrind writes its file at exit,
    # so run everything as nobody in world-writable dirs
    subprocess.run(["chmod", "-R", "a+rwX", h.d], check=True)
    cmd = as_nobody(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out]
                    + list(vg_args) + ["/usr/sbin/apache2", "-X", "-f", h.conf])
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(p, h, "iocwatch_module" in extra)
        get_all(h.port, n, kind)
        time.sleep(0.5)                  # the last log_transaction
    finally:
        subprocess.run(["pkill", "-TERM", "-f", h.conf], capture_output=True)
        p.wait(timeout=300)
    totals = {}
    for f in glob.glob(out + "*"):
        events = None
        with open(f) as fh:
            for line in fh:
                if line.startswith("events:"):
                    events = line.split()[1:]
                elif line.startswith(("summary:", "totals:")) and events:
                    for ev, v in zip(events, line.split()[1:]):
                        totals[ev] = totals.get(ev, 0) + int(v)
                    break
    shutil.rmtree(h.d, ignore_errors=True)
    if not totals.get("Ir"):
        raise RuntimeError("no callgrind totals in %s" % out)
    return totals


def wait_ready(p, h, module):
    """Until httpd accepts connections and, with the module, has its rules
    (httpd -X listens before post_config has compiled them).  The module's
    start-up line is awaited in the log first, without connecting: every
    probe the kernel queued meanwhile would be accepted and served once
    httpd runs (~15,000 instructions each), and their number would follow
    the machine's load (one start-up read 90 of them)."""
    deadline = time.time() + START_TIMEOUT
    while True:
        if not module or "engine(s)" in h.log():       # the IW0018 start-up line
            try:
                socket.create_connection(("127.0.0.1", h.port), 0.5).close()
                return
            except OSError:
                pass
        if p.poll() is not None or time.time() > deadline:
            raise RuntimeError("httpd under valgrind did not start:\n" + h.log())
        time.sleep(0.2)


def instructions(name, extra, n, kind, outdir):
    """Total instructions of one httpd -X run serving WARM + n requests."""
    return callgrind(name, extra, n, kind, outdir)["Ir"]


def hook_cache(extra, n, outdir, kind="same"):
    """Per request in the module's log_transaction hook (and all it calls),
    under callgrind's cache model with httpd's own work in between:
    instructions, L1 instruction misses, L1 data misses (read + write).
    The misses are the hook's cold lines: the part of its cost that the
    instruction count does not show."""
    vg = ["--cache-sim=yes", "--toggle-collect=iw_log_transaction"]
    a = callgrind("hook", extra, 0, kind, outdir, vg)        # cancels thread set-up
    b = callgrind("hook", extra, n, kind, outdir, vg)
    d = {ev: (b[ev] - a.get(ev, 0)) / n for ev in b}
    return d["Ir"], d["I1mr"], d["D1mr"] + d["D1mw"]


def as_nobody(cmd):
    return (["runuser", "-u", "nobody", "--"] + cmd) if os.geteuid() == 0 else cmd


def warm_cache(rule_sets):
    """Compile the databases once under valgrind's CPU model (--tool=none
    runs ~10x faster than callgrind) into CACHE, which httpd then loads.
    The cache only trusts a dir owned by the user that reads it."""
    os.makedirs(CACHE, exist_ok=True)
    if os.geteuid() == 0:
        import pwd
        pw = pwd.getpwnam("nobody")
        for root, dirs, files in os.walk(CACHE):
            for n in [root] + [os.path.join(root, f) for f in files]:
                os.chown(n, pw.pw_uid, pw.pw_gid)
    os.chmod(CACHE, 0o700)
    env = dict(os.environ, IOCWATCH_CACHE_DIR=CACHE)
    for rules in rule_sets:
        t0 = time.time()
        subprocess.run(as_nobody(["valgrind", "--tool=none", "--quiet", B.CLI_PATH, "check"]
                                 + rules), env=env, stdout=subprocess.DEVNULL, check=False)
        print("  rule databases for valgrind ready (%.0f s)" % (time.time() - t0), flush=True)


MODSEC_CONF = ("LoadModule unique_id_module {m}/mod_unique_id.so\n"
               "LoadModule security2_module {m}/mod_security2.so\n"
               "SecRuleEngine DetectionOnly\nSecRequestBodyAccess On\n"
               "SecAuditEngine Off\nSecDataDir {{d}}\nSecTmpDir {{d}}\n"
               "Include /etc/modsecurity/crs/crs-setup.conf\n"
               "Include /usr/share/modsecurity-crs/rules/*.conf\n").format(m=B.MODDIR)


def modsec_installed():
    return (os.path.exists(os.path.join(B.MODDIR, "mod_security2.so"))
            and os.path.isdir("/usr/share/modsecurity-crs/rules"))


def floor(kind, n, rules, outdir):
    """Instructions per request of bench_floor (a literal-only database of
    the rules' literals over the same request bytes, raw and once
    decoded), or None when it is not built."""
    exe = os.path.join(B.REPO, "build", "bench", "bench_floor")
    if not os.path.exists(exe):
        return None
    reqf = os.path.join(outdir, "floor-%s.req" % kind)
    with open(reqf, "wb") as f:
        for _, req in requests(kind, 8080, n):
            f.write(req)
    out = os.path.join(outdir, "cg-floor-%s.out" % kind)
    subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                    "--toggle-collect=floor_request", exe, reqf] + rules,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    with open(out) as fh:
        for line in fh:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1]) / n
    return None


def _escape_value(b):
    """A value line of bench_pats: backslash, LF, CR, tab and other
    bytes outside printable ASCII escaped (\\\\, \\n, \\r, \\t, \\xHH)."""
    out = []
    for c in b:
        if c == 0x5c:
            out.append("\\\\")
        elif c in (10, 13, 9):
            out.append({10: "\\n", 13: "\\r", 9: "\\t"}[c])
        elif c < 32 or c > 126:
            out.append("\\x%02x" % c)
        else:
            out.append(chr(c))
    return "".join(out)


def one_pass(kind, n, rules, outdir):
    """Instructions per request of ONE Vectorscan database holding every
    pattern the engine compiles for the rules (bench_pats dump: each
    field's database, as compiled, each pattern once), scanning the same
    request bytes as the floor (raw, then %XX-decoded once), without the
    PCRE2 confirmations.  What a single pass of the rules' regexes over
    the request costs, next to the literal floor; None when bench_pats is
    not built."""
    exe = os.path.join(B.REPO, "build", "bench", "bench_pats")
    if not os.path.exists(exe):
        return None
    pats = os.path.join(outdir, "onepass.pats")
    if not os.path.exists(pats):
        dump = subprocess.run([exe, "dump"] + rules, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, check=True).stdout.decode()
        seen, keep = set(), []
        for line in dump.splitlines():
            col = line.split("\t")
            if len(col) >= 6 and col[1] == "db" and (col[3], col[-1]) not in seen:
                seen.add((col[3], col[-1]))
                keep.append(line + "\n")
        with open(pats, "w") as f:
            f.writelines(keep)
    vals = os.path.join(outdir, "onepass-%s.vals" % kind)
    with open(vals, "w") as f:
        for _, req in requests(kind, 8080, n):
            f.write(_escape_value(req) + "\n")
            f.write(_escape_value(urllib.parse.unquote_to_bytes(req)) + "\n")
    dbdir = os.path.join(outdir, "onepass-db")
    os.makedirs(dbdir, exist_ok=True)
    args = ["cost", "--dbdir", dbdir, "--no-confirm", "--set", "all", pats, vals]
    subprocess.run([exe] + args[:3] + ["--compile-only"] + args[3:], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    out = os.path.join(outdir, "cg-onepass-%s.out" % kind)
    subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                    "--collect-atstart=no", "--toggle-collect=scan_set_values", exe] + args,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    best = None
    for fn in glob.glob(out + "*"):       # the dump of the set "all"
        with open(fn) as fh:
            for line in fh:
                if line.startswith(("summary:", "totals:")):
                    v = int(line.split()[1])
                    best = v if best is None or v > best else best
                    break
    return best / n if best else None


# (name, config, kind of requests, baseline); `make bench` runs DEFAULT
# (the three kinds of traffic, ModSecurity + CRS when installed),
# IW_INSTR_VARIANTS=name,... any of them (baselines are added).
DEFAULT = ["off", "on", "off-brreal", "on-brreal", "off-attack", "on-attack",
           "modsec", "modsec-brreal", "modsec-attack"]
KIND_OF = {"on": "same", "on-brreal": "browser-real", "on-attack": "attack"}


def main():
    if not shutil.which("valgrind"):
        print("valgrind not installed: apt-get install valgrind")
        return 0
    outdir = tempfile.mkdtemp(prefix="iw-instr-")
    os.chmod(outdir, 0o1777)
    sink = os.path.join(outdir, "alerts.sock")
    sig = B.sigmahq_rules()
    pack = os.path.join(B.REPO, "conf", "rules")
    on = B.module_conf(sig + [pack], sink, CACHE)
    variants = [("off", "", "same", "off"),
                ("sigmahq", B.module_conf(sig, sink, CACHE), "same", "off"),
                ("on", on, "same", "off"),
                ("nocache", on + "IocWatchScanCache Off\n", "same", "off"),
                ("off-uniq", "", "uniq", "off-uniq"),
                ("on-uniq", on, "uniq", "off-uniq"),
                ("off-brws", "", "browser", "off-brws"),
                ("on-brws", on, "browser", "off-brws"),
                ("off-real", B.REAL_CONF, "real", "off-real"),
                ("on-real", B.REAL_CONF + on, "real", "off-real"),
                ("off-brreal", B.REAL_CONF, "browser-real", "off-brreal"),
                ("on-brreal", B.REAL_CONF + on, "browser-real", "off-brreal"),
                ("off-attack", ATTACK_CONF, "attack", "off-attack"),
                ("on-attack", ATTACK_CONF + on, "attack", "off-attack"),
                ("off-health", B.REAL_CONF, "health", "off-health"),
                ("on-health", B.REAL_CONF + on, "health", "off-health")]
    if modsec_installed():
        variants += [("modsec", MODSEC_CONF, "same", "off"),
                     ("modsec-brreal", B.REAL_CONF + MODSEC_CONF, "browser-real", "off-brreal"),
                     ("modsec-attack", ATTACK_CONF + MODSEC_CONF, "attack", "off-attack")]
    if not os.environ.get("IW_INSTR_VARIANTS"):
        os.environ["IW_INSTR_VARIANTS"] = ",".join(DEFAULT)
    variants = B.select_variants(variants, "IW_INSTR_VARIANTS")
    # compile (under valgrind, minutes) only the rule sets the variants load:
    # IW_INSTR_VARIANTS=on-attack needs SigmaHQ + pack alone
    sets = [rules for rules, conf in ((sig, B.module_conf(sig, sink, CACHE)), (sig + [pack], on))
            if any(conf in v[1] for v in variants)]
    if sets:
        warm_cache(sets)
    per = {}
    for name, extra, kind, base_name in variants:
        a = instructions(name, extra, 0, kind, outdir)
        b = instructions(name, extra, N, kind, outdir)
        per[name] = (b - a) / N
        print("  %-13s %10.0f instructions/request" % (name, per[name]), flush=True)
    print("httpd -X (event MPM) under callgrind, %d keep-alive requests after %d warm-up "
          "requests, every path a 2 KB file, user space only" % (N, WARM))
    for name, _, _, base_name in variants:
        d = per[name] - per[base_name]
        print("  %-13s %10.0f instr/req  module %+10.0f  ratio %.3f"
              % (name, per[name], d, per[base_name] / per[name]))
    for name, kind in KIND_OF.items():
        if name not in per:
            continue
        d = per[name] - per[[v[3] for v in variants if v[0] == name][0]]
        fl = floor(kind, N, sig + [pack], outdir)
        if fl:
            print("  floor (%s): %.0f instr/req (literal-only database of the rules' "
                  "literals, raw + once decoded); module / floor %.2f" % (kind, fl, d / fl))
        op = one_pass(kind, N, sig + [pack], outdir)
        if op:
            print("  one pass (%s): %.0f instr/req (one database of every pattern the engine "
                  "compiles, same bytes, no PCRE2); module / one pass %.2f" % (kind, op, d / op))
    for name, kind in (("on", "same"), ("on-brws", "browser")):
        if any(v[0] == name for v in variants) and os.environ.get("IW_INSTR_HOOK", "1") != "0":
            ir, i1, d1 = hook_cache(on, N, outdir, kind)
            print("  %s: log_transaction hook under the cache model: %.0f instr, "
                  "%.1f L1i misses, %.1f L1d misses per request" % (name, ir, i1, d1))
    if os.environ.get("IW_INSTR_KEEP"):      # the callgrind files, for callgrind_annotate
        print("  callgrind outputs kept in %s" % outdir)
    else:
        shutil.rmtree(outdir, ignore_errors=True)
    return 0


def dump_jsonl(kind, n):
    """The n requests of a kind as iocwatch scan --format jsonl lines (the
    client of X-Forwarded-For as "client"), to measure the same traffic
    in the CLI."""
    import json
    for i, (method, req) in enumerate(requests(kind, 8080, n)):
        lines = req.decode("latin-1").split("\r\n")
        m, target, version = lines[0].split(" ", 2)
        hs, client = {}, "192.0.2.1"
        for line in lines[1:]:
            if not line:
                continue
            k, v = line.split(": ", 1)
            if k == "X-Forwarded-For":
                client = v
            else:
                hs[k] = v
        print(json.dumps({"id": "r%d" % i, "method": m, "uri": target, "version": version,
                          "client": client, "headers": hs, "status": 200}))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--jsonl":
        sys.exit(dump_jsonl(sys.argv[2], int(sys.argv[3])))
    sys.exit(main())
