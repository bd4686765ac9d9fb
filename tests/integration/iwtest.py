# SPDX-License-Identifier: Apache-2.0
"""Integration-test helpers: a real unprivileged rsyslogd and a real httpd
(Debian's /usr/sbin/apache2) generated from a template in a temp dir, the
module loaded from the build tree.  Style after icing/mod_md and httpd's
test/pyhttpd: one object per server, config written per test group, the
error log used as an oracle."""

import json
import os
import uuid
import re
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tools"))
import iwhttpd  # noqa: E402  (the httpd sandbox shared with bench, detect, demo)
from iwhttpd import free_port, wait_until  # noqa: E402,F401  (part of this API)

MODULE = os.environ.get("IW_MODULE", os.path.join(REPO, "build", "mod_iocwatch.so"))
CLI = os.environ.get("IW_CLI", os.path.join(REPO, "build", "iocwatch"))
APACHE = iwhttpd.APACHE
MODDIR = iwhttpd.MODDIR
RSYSLOGD = os.environ.get("IW_RSYSLOGD", "/usr/sbin/rsyslogd")
TEST_RULES = os.path.join(HERE, "rules")
SHARED = os.environ.get("IW_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
SIGMAHQ = os.environ.get("IW_SIGMAHQ", os.path.join(SHARED, "sigma", "sigmahq-rules", "rules"))
CORPUS = os.environ.get("IW_CORPUS", os.path.join(SHARED, "corpus", "crs-requests.jsonl"))
IS_ROOT = iwhttpd.IS_ROOT
# IW_ASAN=1: the module was built with -fsanitize=address,undefined; httpd
# (not sanitized itself) runs with the runtimes preloaded, reports go to
# <httpd>/logs/asan.* and make the test fail (see asan_reports()).
ASAN = os.environ.get("IW_ASAN") == "1"


def _asan_runtime(name):
    r = subprocess.run(["gcc", "-print-file-name=" + name], capture_output=True, text=True)
    return r.stdout.strip()


def make_tmpdir(prefix):
    d = tempfile.mkdtemp(prefix=prefix)
    # httpd children run as nobody when we are root: they must traverse
    # the tree and read rules/documents (never write).
    os.chmod(d, 0o755)
    return d


# ---------------------------------------------------------------- syslog

def parse_alert_line(line):
    """Syslog line (RFC 3164 / 5424 / bare JSON as written by rsyslog's
    %rawmsg%) -> (header, dict).  None when the line carries no JSON."""
    i = line.find("{")
    if i < 0:
        return None
    try:
        return line[:i], json.loads(line[i:])
    except ValueError:
        return None


def get(d, dotted, default=None):
    """ECS lookup tolerant to both nested and dotted keys."""
    if dotted in d:
        return d[dotted]
    cur = d
    parts = dotted.split(".")
    for i, p in enumerate(parts):
        if not isinstance(cur, dict):
            return default
        rest = ".".join(parts[i:])
        if rest in cur:
            return cur[rest]
        if p not in cur:
            return default
        cur = cur[p]
    return cur


def nonce():
    """A marker no other request of the run carries (12 hex digits)."""
    return uuid.uuid4().hex[:12]


def by_url(n):
    """Alert filter: the alerts of requests whose target contains n."""
    return lambda a: n in (get(a, "url.original") or "")


READING_CGI = """#!/bin/sh
head -c "${CONTENT_LENGTH:-0}" >/dev/null
printf 'Content-Type: text/plain\\r\\n\\r\\nread\\n'
"""


def reading_cgi(h, name):
    """A CGI script `name` that reads the whole request body, as a form
    handler does, in a directory of its own under the server's dir (for
    ScriptAlias); returns the directory."""
    cgi = os.path.join(h.dir, "cgi")
    os.makedirs(cgi, exist_ok=True)
    os.chmod(cgi, 0o755)
    p = os.path.join(cgi, name)
    with open(p, "w") as f:
        f.write(READING_CGI)
    os.chmod(p, 0o755)
    return cgi


def marker_rule(title, rule_id, marker, level="high", field="cs-uri-query"):
    """A detection rule that fires when `field` contains `marker`."""
    return """\
title: %s
id: %s
status: test
logsource:
    category: webserver
detection:
    selection:
        %s|contains: '%s'
    condition: selection
level: %s
""" % (title, rule_id, field, marker, level)


class Rsyslog:
    """rsyslogd -n with its own config: imuxsock on a socket in the temp
    dir (dgram), imudp and imtcp on free loopback ports; every message is
    written raw (%rawmsg%) to one file."""

    def __init__(self, base):
        self.dir = os.path.join(base, "rsyslog")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "log.sock")
        self.out = os.path.join(self.dir, "alerts.log")
        self.udp_port = free_port()
        self.tcp_port = free_port()
        self.pidfile = os.path.join(self.dir, "rsyslogd.pid")
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        self.proc = None

    def write_conf(self):
        with open(self.conf, "w") as f:
            f.write("""\
global(workDirectory="{d}" maxMessageSize="64k")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{sock}" RateLimit.Interval="0" UseSpecialParser="off")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{udp}" RateLimit.Interval="0")
module(load="imtcp" MaxSessions="64")
input(type="imtcp" address="127.0.0.1" port="{tcp}")
template(name="iwraw" type="string" string="%rawmsg%\\n")
*.* action(type="omfile" file="{out}" template="iwraw")
""".format(d=self.dir, sock=self.sock, udp=self.udp_port, tcp=self.tcp_port,
           out=self.out))

    def start(self):
        self.write_conf()
        open(self.out, "a").close()
        self.proc = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", self.conf, "-i", self.pidfile],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "stderr"), "w"))
        wait_until(lambda: os.path.exists(self.sock) and self._tcp_up(), 10,
                   what="rsyslogd sockets")

    def _tcp_up(self):
        try:
            socket.create_connection(("127.0.0.1", self.tcp_port), 0.2).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    # -- reading what landed
    def mark(self):
        """Offset to read alerts from (call before sending requests)."""
        return os.path.getsize(self.out)

    def lines(self, since=0):
        with open(self.out, "rb") as f:
            f.seek(since)
            data = f.read()
        # only complete lines
        end = data.rfind(b"\n")
        if end < 0:
            return []
        return data[:end].decode("utf-8", "replace").split("\n")

    def alerts(self, since=0, pred=None):
        out = []
        for ln in self.lines(since):
            p = parse_alert_line(ln)
            if p is None:
                continue
            a = p[1]
            a["_syslog_header"] = p[0]
            if pred is None or pred(a):
                out.append(a)
        return out

    def wait_alerts(self, since, n, pred=None, timeout=10, settle=0.4):
        """Wait until at least n alerts matching pred landed, then wait
        `settle` seconds more so that surplus alerts would show up too."""
        wait_until(lambda: len(self.alerts(since, pred)) >= n, timeout,
                   what="%d alert(s)" % n)
        time.sleep(settle)
        return self.alerts(since, pred)

    def quiet(self, since, pred=None, wait=1.0):
        """Alerts after a quiet period (for 'no alert' assertions)."""
        time.sleep(wait)
        return self.alerts(since, pred)


# ---------------------------------------------------------------- httpd

LOG_LEVEL_RE = re.compile(r"^\[[^\]]+\] \[([^:\]]*):(\w+)\]")
BAD_LEVELS = ("warn", "error", "crit", "alert", "emerg")
# lines that are bad whatever their level
BAD_ALWAYS = re.compile(r"exit signal|Segmentation fault|AH00052|AH00060|"
                        r"AddressSanitizer|runtime error:")

MPM_DEFAULTS = {
    "event": """\
StartServers 2
ServerLimit 4
ThreadsPerChild 8
MaxRequestWorkers 32
MinSpareThreads 8
MaxSpareThreads 32
""",
    "worker": """\
StartServers 2
ServerLimit 4
ThreadsPerChild 8
MaxRequestWorkers 32
MinSpareThreads 8
MaxSpareThreads 32
""",
    "prefork": """\
StartServers 4
MinSpareServers 4
MaxSpareServers 8
ServerLimit 16
MaxRequestWorkers 16
""",
}

BASE_MODULES = ["authz_core", "authz_host", "mime", "alias", "dir", "log_debug",
                "remoteip", "headers", "unique_id"]


class Httpd(iwhttpd.Server):
    """One httpd instance in its own temp dir (iwhttpd.Server: start, stop,
    pid, alive; this class: the test template, config per test group)."""

    def __init__(self, base, name="httpd", mpm="event"):
        d = os.path.join(base, name)
        for sub in ("logs", "run", "htdocs", "conf", "rules"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
            os.chmod(os.path.join(d, sub), 0o755)
        os.chmod(d, 0o755)
        super().__init__(d)
        self.mpm = mpm
        self.acclog = os.path.join(self.dir, "logs", "access.log")
        self.htdocs = os.path.join(self.dir, "htdocs")
        self.running_conf = None
        self.running_mpm = None
        self.generation = 0
        open(self.errlog, "a").close()
        self.write_doc("index.html", "<html><body>hello</body></html>\n")
        self.write_doc("static.txt", "x" * 2048)

    # -- files
    def write_doc(self, rel, text, mode=0o644):
        p = os.path.join(self.htdocs, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        d = os.path.dirname(p)
        while d.startswith(self.htdocs) and d != self.htdocs:
            os.chmod(d, 0o755)
            d = os.path.dirname(d)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def write_rule(self, name, text):
        p = os.path.join(self.dir, "rules", name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, 0o644)
        return p

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    # -- config
    def render(self, body, mpm, with_module=True, modules=(), log_level="warn",
               module_defaults=False):
        """The config text.  The module's default IocWatchSuppress (60 s)
        would hold back the repeated alerts most tests count, so the
        harness sets `IocWatchSuppress 0` before the body (a body's own
        setting wins); module_defaults=True leaves the module's defaults."""
        mods = []
        mods.append("LoadModule mpm_%s_module %s/mod_mpm_%s.so" % (mpm, MODDIR, mpm))
        for m in list(BASE_MODULES) + [m for m in modules if m not in BASE_MODULES]:
            mods.append("LoadModule %s_module %s/mod_%s.so" % (m, MODDIR, m))
        if with_module:
            mods.append("LoadModule iocwatch_module %s" % MODULE)
            if not module_defaults:
                mods.append("IocWatchSuppress 0")
        user = iwhttpd.user_directives()
        return """\
# generated by tests/integration/iwtest.py
ServerRoot "{d}"
DefaultRuntimeDir "{d}/run"
PidFile "{pid}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
{mods}
{user}
{mpmconf}
Timeout 10
KeepAliveTimeout 2
GracefulShutdownTimeout 5
ErrorLog "{elog}"
LogLevel {lvl}
LogFormat "%a %l %u %t \\"%r\\" %>s %b \\"%{{Referer}}i\\" \\"%{{User-Agent}}i\\"" combined
CustomLog "{alog}" combined
TypesConfig /etc/mime.types
DocumentRoot "{docs}"
<Directory />
  AllowOverride None
  Require all denied
</Directory>
<Directory "{docs}">
  AllowOverride None
  Require all granted
</Directory>
{body}
""".format(d=self.dir, pid=self.pidfile, port=self.port, mods="\n".join(mods),
           user=user, mpmconf=MPM_DEFAULTS[mpm], elog=self.errlog, alog=self.acclog,
           lvl=log_level, docs=self.htdocs, body=body)

    def _cmd(self, *args, conf=None):
        return self.cmd(*args, conf=conf)

    def env(self):
        env = dict(os.environ)
        if ASAN:
            env["LD_PRELOAD"] = " ".join(_asan_runtime(n) for n in
                                         ("libasan.so", "libubsan.so"))
            env["ASAN_OPTIONS"] = ("detect_leaks=0:abort_on_error=1:log_path=%s"
                                   % os.path.join(self.dir, "logs", "asan"))
            env["UBSAN_OPTIONS"] = ("print_stacktrace=1:halt_on_error=1:log_path=%s"
                                    % os.path.join(self.dir, "logs", "ubsan"))
        return env

    def asan_reports(self):
        d = os.path.join(self.dir, "logs")
        return [os.path.join(d, f) for f in os.listdir(d)
                if f.startswith(("asan.", "ubsan."))]

    def configtest(self, text):
        """httpd -t on a config text; returns (rc, output)."""
        p = os.path.join(self.dir, "conf", "configtest.conf")
        with open(p, "w") as f:
            f.write(text)
        r = subprocess.run(self._cmd("-t", conf=p), capture_output=True, text=True,
                           timeout=300, env=self.env())
        return r.returncode, r.stdout + r.stderr

    def _env(self):
        return self.env()

    def _dead(self):
        return self.dead()

    def _count_ready(self):
        return self.ready_count()

    def _up(self):
        return self.up()

    def start(self, text, mpm):
        """Start (stop first when running); raises with the error log tail
        and the command output when httpd does not come up."""
        self.stop()
        with open(self.conf, "w") as f:
            f.write(text)
        super().start()
        self.running_conf, self.running_mpm = text, mpm
        self.generation += 1

    def _signal_restart(self, kind):
        self.signal_restart(kind)
        self.generation += 1

    def restart(self, text=None, graceful=False, wait_old=True):
        """Re-read config in place (SIGHUP, or SIGUSR1 when graceful).  A
        graceful restart returns once the previous generation's children
        are gone too (wait_old; bounded, see wait_gone): until then one of
        them may still accept a connection and serve it with the old
        configuration, which a test checking the new one would misread."""
        if text is not None:
            with open(self.conf, "w") as f:
                f.write(text)
            self.running_conf = text
        old = self.children() if graceful and wait_old else []
        self._signal_restart("graceful" if graceful else "restart")
        self.wait_gone(old)

    def children(self):
        """Pids of the parent's live (not zombie) child processes."""
        parent = self.pid()
        out = []
        if not parent:
            return out
        for d in os.listdir("/proc"):
            if d.isdigit() and _proc_state(int(d))[1] == parent:
                out.append(int(d))
        return out

    def wait_gone(self, pids, timeout=15):
        """Wait until none of `pids` runs any more (zombies count as gone).
        Best effort: an old child busy with a slow connection may outlive
        the timeout, and then the caller's own assertions decide."""
        parent = self.pid()

        def running(p):             # (a reused pid has another parent)
            state, ppid = _proc_state(p)
            return state not in (None, "Z") and ppid == parent
        try:
            wait_until(lambda: not any(running(p) for p in pids), timeout,
                       what="old generation's children gone")
        except AssertionError:
            pass

    def ensure(self, body, mpm=None, **kw):
        """Run with this config: no-op when already running it, SIGHUP
        restart when only the config changed, stop+start for a new MPM."""
        mpm = mpm or self.mpm
        text = self.render(body, mpm, **kw)
        if self.alive() and self.running_mpm == mpm:
            if text != self.running_conf:
                self.restart(text)
            return
        self.start(text, mpm)

    def stop(self):
        """-k stop, then SIGTERM to the pid, then SIGKILL (bounded)."""
        super().stop()
        self.running_conf = None

    # -- logs
    def errlog_size(self):
        return os.path.getsize(self.errlog)

    def errlog_lines(self, since=0):
        with open(self.errlog, "rb") as f:
            f.seek(since)
            return f.read().decode("utf-8", "replace").splitlines()

    def acclog_lines(self):
        try:
            with open(self.acclog, errors="replace") as f:
                return f.read().splitlines()
        except OSError:
            return []


def _proc_state(pid):
    """(state letter, parent pid) of a process; (None, None) when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return None, None
    rest = st[st.rfind(")") + 2:].split()
    return rest[0], int(rest[1])


def bad_errlog_lines(lines, expected):
    """Error-log oracle: lines at warn or worse (or crash traces) that match
    none of the expected regexes."""
    bad = []
    for ln in lines:
        m = LOG_LEVEL_RE.match(ln)
        level = m.group(2) if m else ""
        if level in BAD_LEVELS or BAD_ALWAYS.search(ln):
            if not any(re.search(e, ln) for e in expected):
                bad.append(ln)
    return bad


# ---------------------------------------------------------------- HTTP

def http_raw(port, data, timeout=10, read=True, half_close=False):
    """Send raw bytes, return (status, response bytes).  Reads until EOF (or
    timeout); half_close shuts our side down after sending, so httpd closes
    after the response even on a keep-alive request."""
    with socket.create_connection(("127.0.0.1", port), timeout) as s:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        if not read:
            return None, b""
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        except socket.timeout:
            pass
    resp = b"".join(chunks)
    m = re.match(rb"HTTP/\d\.\d (\d{3})", resp)
    return (int(m.group(1)) if m else None), resp


def http_get(port, target, headers=None, method="GET", version="HTTP/1.1",
             timeout=10):
    """One request with Connection: close, the target sent verbatim."""
    h = {"Host": "127.0.0.1", "User-Agent": "iwtest/1.0", "Connection": "close"}
    if headers:
        h.update(headers)
    lines = ["%s %s %s" % (method, target, version)]
    lines += ["%s: %s" % (k, v) for k, v in h.items() if v is not None]
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return http_raw(port, data, timeout)


def status_page(port, path="/iw-status"):
    """Parse the iocwatch-status handler output (key: value lines)."""
    st, resp = http_get(port, path + "?auto")
    assert st == 200, resp[:500]
    body = resp.split(b"\r\n\r\n", 1)[1].decode()
    out = {}
    for ln in body.splitlines():
        if ":" in ln:
            k, v = ln.split(":", 1)
            v = v.strip()
            try:
                out[k.strip()] = int(v)
            except ValueError:
                out[k.strip()] = v
    return out


def settled_status(port, done, timeout=10.0):
    """httpd counts an update in log_transaction, after the response went
    out: poll the status page until done(st) or `timeout` s, and return the
    last reading (the caller asserts on it, so a miss shows the numbers)."""
    end = time.monotonic() + timeout
    while True:
        st = status_page(port)
        if done(st) or time.monotonic() > end:
            return st
        time.sleep(0.05)


# ---------------------------------------------------------------- sinks

class Sink:
    """A syslog receiver we control (for targets that misbehave): unix
    datagram, or unix/TCP stream with RFC 6587 octet counting.  With
    stalled=True a stream sink accepts connections but never reads."""

    def __init__(self, kind, path=None, stalled=False):
        import threading
        self.kind, self.path, self.stalled = kind, path, stalled
        self.msgs = []
        self.conns = []
        self._stop = False
        self._lock = threading.Lock()
        if kind == "unix":
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.sock.bind(path)
        elif kind == "unix-stream":
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            if stalled:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            self.sock.bind(path)
            self.sock.listen(16)
        else:
            raise ValueError(kind)
        os.chmod(path, 0o666)
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        import select
        bufs = {}
        while not self._stop:
            if self.kind == "unix":
                try:
                    self._add(self.sock.recv(65536).decode("utf-8", "replace"))
                except socket.timeout:
                    pass
                except OSError:
                    return
                continue
            rl = [self.sock] + ([] if self.stalled else self.conns)
            try:
                r, _, _ = select.select(rl, [], [], 0.2)
            except (OSError, ValueError):
                return
            for s in r:
                if s is self.sock:
                    try:
                        c, _ = self.sock.accept()
                    except OSError:
                        continue
                    self.conns.append(c)
                    bufs[c] = b""
                    continue
                try:
                    b = s.recv(65536)
                except OSError:
                    b = b""
                if not b:
                    self.conns.remove(s)
                    continue
                bufs[s] += b
                bufs[s] = self._frames(bufs[s])

    def _frames(self, buf):
        while True:
            sp = buf.find(b" ")
            if sp <= 0 or not buf[:sp].isdigit():
                return buf
            n = int(buf[:sp])
            if len(buf) < sp + 1 + n:
                return buf
            self._add(buf[sp + 1:sp + 1 + n].decode("utf-8", "replace"))
            buf = buf[sp + 1 + n:]

    def _add(self, m):
        with self._lock:
            self.msgs.append(m)

    def resume(self):
        """A stalled stream sink starts reading."""
        self.stalled = False

    def alerts(self, pred=None):
        with self._lock:
            msgs = list(self.msgs)
        out = []
        for m in msgs:
            p = parse_alert_line(m)
            if p and (pred is None or pred(p[1])):
                p[1]["_syslog_header"] = p[0]
                out.append(p[1])
        return out

    def close(self):
        self._stop = True
        self.thread.join(2)
        for c in self.conns:
            c.close()
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass
