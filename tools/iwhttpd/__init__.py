# SPDX-License-Identifier: Apache-2.0
"""One httpd sandbox for every user of a real Apache httpd in this tree: the
integration tests (tests/integration/iwtest.py), the benchmarks
(tools/bench_httpd.py, and through it bench_instr.py and bench_ban.py), the
detection comparison (tools/detect.py) and the demo (tools/demo.sh, through
`python3 -m iwhttpd`).  Each user writes its own configuration body; this
package owns what they must agree on: a free loopback port, the user the
children run as, the runtime directory, how httpd is started (`-k start`,
then wait until it says it is ready and listens, or fail fast with the error
log's tail when the parent dies) and stopped (`-k stop`, then SIGTERM, then
SIGKILL, each bounded), so that a fix to starting or stopping reaches every
user.  Style after httpd's test/pyhttpd (one object per server)."""

import os
import random
import signal
import socket
import subprocess
import time

APACHE = os.environ.get("IW_APACHE", "/usr/sbin/apache2")
MODDIR = os.environ.get("IW_APACHE_MODULES", "/usr/lib/apache2/modules")
IS_ROOT = os.geteuid() == 0
# httpd refuses to serve as root: its children run as this user then
RUN_USER, RUN_GROUP = "nobody", "nogroup"
READY = "resuming normal operations"


def _ephemeral_low():
    """The first port of the kernel's range for outgoing connections."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    """A TCP port on 127.0.0.1 that nothing uses right now, taken below the
    kernel's ephemeral range: a port the kernel handed out (bind to 0) can be
    handed out again to an outgoing connection (a test client, rsyslog)
    before httpd binds it; one below the range only by another bind."""
    low = max(_ephemeral_low(), 11000)
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200):
        port = rng.randrange(10000, low)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))      # the range below is full: any port
        return s.getsockname()[1]


def wait_until(pred, timeout, step=0.05, what="condition"):
    """Poll pred() until truthy (returned) or timeout (AssertionError)."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timeout (%.1fs) waiting for %s" % (timeout, what))
        time.sleep(step)


def listening(port, timeout=0.2):
    try:
        socket.create_connection(("127.0.0.1", port), timeout).close()
        return True
    except OSError:
        return False


def user_directives():
    """`User`/`Group` lines when we are root (empty otherwise)."""
    return "User %s\nGroup %s\n" % (RUN_USER, RUN_GROUP) if IS_ROOT else ""


def give_to_run_user(path):
    """When root: the children's user owns `path` (a directory they write)."""
    if IS_ROOT:
        subprocess.run(["chown", "-R", "%s:%s" % (RUN_USER, RUN_GROUP), path], check=False)


class Server:
    """One httpd with its files in `dir`: configuration `conf`, `pidfile`,
    `errlog` (defaults: dir/conf/httpd.conf, dir/run/httpd.pid,
    dir/logs/error.log; the configuration must name the same PidFile and
    ErrorLog) on 127.0.0.1:`port`.  `env()` is the environment httpd runs
    with; `prefix` goes in front of the command (e.g. taskset)."""

    def __init__(self, dir, port=None, conf=None, pidfile=None, errlog=None, prefix=()):
        self.dir = dir
        self.port = port or free_port()
        self.conf = conf or os.path.join(dir, "conf", "httpd.conf")
        self.pidfile = pidfile or os.path.join(dir, "run", "httpd.pid")
        self.errlog = errlog or os.path.join(dir, "logs", "error.log")
        self.prefix = list(prefix)

    # -- what subclasses may change
    def env(self):
        return dict(os.environ)

    def cmd(self, *args, conf=None):
        return [APACHE, "-d", self.dir, "-f", conf or self.conf] + list(args)

    # -- state
    def pid(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def alive(self):
        pid = self.pid()
        if not pid:
            return False
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False

    def dead(self):
        """The pid file names a process that is gone (the parent crashed)."""
        return self.pid() is not None and not self.alive()

    def up(self):
        return listening(self.port)

    def ready_count(self):
        """How often the error log says a generation is ready."""
        try:
            with open(self.errlog, errors="replace") as f:
                return f.read().count(READY)
        except OSError:
            return 0

    def errlog_tail(self, n=30):
        try:
            with open(self.errlog, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    # -- start, restart, stop
    def start(self, timeout=180):
        """`-k start`; returns when the new generation is ready and listens.
        Raises RuntimeError with the command output and the error log's tail
        when httpd refuses or its parent dies on the way up (fast, not after
        the timeout)."""
        if self.dead():                      # left by a crashed parent
            os.remove(self.pidfile)
        ready = self.ready_count()
        r = subprocess.run(self.prefix + self.cmd("-k", "start"), capture_output=True,
                           text=True, timeout=300, env=self.env())
        if r.returncode != 0:
            raise RuntimeError("httpd start failed rc=%d:\n%s%s\n%s" % (
                r.returncode, r.stdout, r.stderr, self.errlog_tail()))
        try:
            wait_until(lambda: self.dead() or (self.ready_count() > ready and self.up()),
                       timeout, what="httpd up")
        except AssertionError:
            raise RuntimeError("httpd did not come up:\n%s%s\n%s" % (
                r.stdout, r.stderr, self.errlog_tail()))
        if self.dead():
            raise RuntimeError("httpd's parent died while starting:\n%s" % self.errlog_tail())

    def signal_restart(self, kind, timeout=180):
        """`-k restart` or `-k graceful`; returns when the new generation is
        ready and listens."""
        ready = self.ready_count()
        r = subprocess.run(self.cmd("-k", kind), capture_output=True, text=True,
                           timeout=300, env=self.env())
        if r.returncode != 0:
            raise RuntimeError("httpd -k %s failed: %s%s" % (kind, r.stdout, r.stderr))
        wait_until(lambda: self.ready_count() > ready or not self.alive(), timeout,
                   what="httpd %s" % kind)
        if not self.alive():
            raise RuntimeError("httpd died on %s:\n%s" % (kind, self.errlog_tail()))
        wait_until(self.up, 10, what="httpd listening")

    def stop(self, stage_timeout=10):
        """`-k stop`, then SIGTERM to the parent, then SIGKILL, each waited
        for (bounded) until the parent is gone and nothing listens on the
        port any more (a loaded server's children may outlive the parent)."""
        pid = self.pid()
        if not pid or not self.alive():
            return

        def gone():
            try:
                os.kill(pid, 0)
                return False
            except OSError:
                return not self.up()
        subprocess.run(self.cmd("-k", "stop"), capture_output=True, timeout=300,
                       env=self.env())
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                wait_until(gone, stage_timeout, what="httpd stop")
                return
            except AssertionError:
                try:
                    os.kill(pid, sig)
                except OSError:
                    return
        try:
            wait_until(gone, stage_timeout, what="httpd stop")
        except AssertionError:
            pass
