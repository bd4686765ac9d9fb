#!/usr/bin/python3
"""User-space instructions per request of httpd, module off vs on (make bench).

wrk throughput on a shared 2-vCPU VM varies by +-20 % between minutes, far
more than the 1 % this module may cost.  This companion to bench_httpd.py
measures what does not vary: httpd runs single-process (`-X`, event MPM)
under `valgrind --tool=callgrind`, serves N keep-alive requests for the 2 KB
static file, and the instruction count of all its threads is read at exit.
Two runs per variant (100 and 100+N requests) cancel start-up, rule
compilation and thread creation, leaving the steady per-request cost.

Only user space is counted: the kernel's TCP and syscall work (most of a
static request's real cost) is not, so the ratio printed here is a lower
bound for the throughput ratio.  Variants as in bench_httpd.py:
  off, sigmahq, on, nocache (IocWatchScanCache Off), off-uniq / on-uniq
  (every request distinct: "?r=<n>"), off-brws / on-brws (the repeated
  request with a browser's ~1 KB of headers instead of Host alone),
  off-real / on-real (the GET requests of a real access log in order,
  bench_httpd.real_requests, the client in X-Forwarded-For).
With `on` (`on-brws`) selected, one more pair of runs counts the
log_transaction hook alone under callgrind's cache model (--cache-sim):
its instructions and its L1 instruction and data misses per request, i.e.
the lines it finds cold after httpd's own work.  wrk cannot resolve a 1 % change on this machine;
these counts are exact and rerunnable.
The first run compiles the rule databases under valgrind (its CPU model
differs from the host's, so the host's compiled databases do not apply):
several minutes, then cached in build/bench-vg-hscache.

    IW_INSTR_REQUESTS=1000 IW_INSTR_VARIANTS=off,on /usr/bin/python3 tools/bench_instr.py
"""
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_httpd as B  # noqa: E402  (Httpd sandbox, paths)

N = int(os.environ.get("IW_INSTR_REQUESTS", "1000"))
B.CLI_PATH = os.environ.get("IW_CLI", os.path.join(B.REPO, "build", "iocwatch"))
CACHE = os.path.join(B.REPO, "build", "bench-vg-hscache")
START_TIMEOUT = 1800            # a cold compile under valgrind takes minutes


def get_all(port, n, kind):
    """n keep-alive GETs on one connection, each response read fully.
    kind: "same" (the wrk request), "uniq" (a distinct query each time),
    "browser" (the same request with a browser's headers), "real" (a real
    log's requests in order, B.real_requests)."""
    extra = "".join("%s: %s\r\n" % hv for hv in B.BROWSER_HEADERS) if kind == "browser" else ""
    real = B.real_requests() if kind == "real" else None
    with socket.create_connection(("127.0.0.1", port), 30) as s:
        for i in range(n):
            path = "/static.html" + ("?r=%d" % i if kind == "uniq" else "")
            if real:
                client, path, referer, agent = real[i % len(real)]
                extra = "".join("%s: %s\r\n" % hv for hv in B.real_headers(client, referer, agent))
            host = "" if real else "Host: 127.0.0.1:%d\r\n" % port    # real: in extra
            s.sendall(("GET %s HTTP/1.1\r\n%s%s\r\n" % (path, host, extra)).encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += s.recv(65536)
            head, body = buf.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            while len(body) < length:
                body += s.recv(65536)


def callgrind(name, extra, n, kind, outdir, vg_args=()):
    """callgrind's event totals (Ir, and I1mr, D1mr, ... with --cache-sim)
    of one httpd -X run serving n requests."""
    # two workers: both have their per-thread scratch after the first 100
    # requests, so thread start-up cancels out between the two runs
    h = B.Httpd(name, extra + "ThreadsPerChild 2\nMaxRequestWorkers 2\n")
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
    (httpd -X listens before post_config has compiled them)."""
    deadline = time.time() + START_TIMEOUT
    while True:
        try:
            socket.create_connection(("127.0.0.1", h.port), 0.5).close()
            if not module or "rule(s) in" in h.log():
                return
        except OSError:
            pass
        if p.poll() is not None or time.time() > deadline:
            raise RuntimeError("httpd under valgrind did not start:\n" + h.log())
        time.sleep(0.2)


def instructions(name, extra, n, kind, outdir):
    """Total instructions of one httpd -X run serving n requests."""
    return callgrind(name, extra, n, kind, outdir)["Ir"]


def hook_cache(extra, n, outdir, kind="same"):
    """Per request in the module's log_transaction hook (and all it calls),
    under callgrind's cache model with httpd's own work in between:
    instructions, L1 instruction misses, L1 data misses (read + write).
    The misses are the hook's cold lines: the part of its cost that the
    instruction count does not show."""
    vg = ["--cache-sim=yes", "--toggle-collect=iw_log_transaction"]
    a = callgrind("hook", extra, 100, kind, outdir, vg)      # cancels thread set-up
    b = callgrind("hook", extra, 100 + n, kind, outdir, vg)
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
                ("on-real", B.REAL_CONF + on, "real", "off-real")]
    variants = B.select_variants(variants, "IW_INSTR_VARIANTS")
    if any(v[1] for v in variants):              # some variant loads the module
        warm_cache([sig, sig + [pack]])
    per = {}
    for name, extra, kind, base_name in variants:
        a = instructions(name, extra, 100, kind, outdir)
        b = instructions(name, extra, 100 + N, kind, outdir)
        per[name] = (b - a) / N
        print("  %-9s %8.0f instructions/request" % (name, per[name]), flush=True)
    print("httpd -X (event MPM) under callgrind, %d keep-alive requests for a 2 KB file, "
          "user space only" % N)
    for name, _, _, base_name in variants:
        d = per[name] - per[base_name]
        print("  %-9s %8.0f instr/req  module %+6.0f  ratio %.3f"
              % (name, per[name], d, per[base_name] / per[name]))
    for name, kind in (("on", "same"), ("on-brws", "browser")):
        if any(v[0] == name for v in variants):
            ir, i1, d1 = hook_cache(on, N, outdir, kind)
            print("  %s: log_transaction hook under the cache model: %.0f instr, "
                  "%.1f L1i misses, %.1f L1d misses per request" % (name, ir, i1, d1))
    shutil.rmtree(outdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
