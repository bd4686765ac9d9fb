#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Instructions of the ban check per request (make bench), under callgrind.

1. The lookup alone (tests/bench/bench_ban.c): 100,000 lookups each in an
   empty table, in a table of 10,000 active bans (clients not banned: the
   normal request) and of the banned clients.  Targets: <= 100 instructions
   with an empty table, <= 300 with 10,000 bans.
2. The module's post_read_request hook (iw_ban_check: server config, client
   address, lookup) in httpd -X (event MPM) with IocWatchBan On: N
   keep-alive requests of a client that is not banned, with an empty table
   and after IW_BAN_BENCH_BANS (default 10,000) other clients were banned
   by a trigger rule; only the N requests are counted (callgrind_control).

    IW_INSTR_REQUESTS=2000 IW_BAN_BENCH_BANS=10000 /usr/bin/python3 tools/bench_ban.py
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_httpd as B  # noqa: E402
import bench_instr as I  # noqa: E402

N = int(os.environ.get("IW_INSTR_REQUESTS", "1000"))
BANS = int(os.environ.get("IW_BAN_BENCH_BANS", "10000"))
BENCH = os.path.join(B.REPO, "build", "bench", "bench_ban")
LOOKUPS = 100000
RULE = """\
title: bench ban trigger
id: 7b0c5a55-0000-4000-8000-0000000000f1
status: test
logsource:
    category: webserver
detection:
    selection:
        cs-uri-query|contains: 'iwban'
    condition: selection
level: high
"""


def totals(path):
    """Collected Ir ("totals:"; "summary:" stays 0 when instrumentation
    was switched on at run time)."""
    with open(path) as f:
        for line in f:
            if line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError("no callgrind totals in " + path)


def lookup_counts(outdir):
    res = {}
    for fn in ("lookups_empty", "lookups_miss", "lookups_hit"):
        out = os.path.join(outdir, "cg-" + fn)
        subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                        "--toggle-collect=" + fn, BENCH, str(LOOKUPS)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        res[fn] = totals(out) / LOOKUPS
    return res


def send(port, reqs):
    """Keep-alive requests (target, client) on one connection, responses
    read fully."""
    with socket.create_connection(("127.0.0.1", port), 60) as s:
        for target, client in reqs:
            s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: %s\r\n\r\n"
                       % (target, client)).encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                b = s.recv(65536)
                if not b:
                    raise RuntimeError("connection closed: %s is banned?" % client)
                buf += b
            head, body = buf.split(b"\r\n\r\n", 1)
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            while len(body) < length:
                body += s.recv(65536)


def wait_ready(p, h, timeout=600):
    """Until httpd listens and has compiled its rules (the start-up line,
    "... in N engine(s) ...")."""
    deadline = time.time() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", h.port), 0.5).close()
            if "engine(s)" in h.log():
                return
        except OSError:
            pass
        if p.poll() is not None or time.time() > deadline:
            raise RuntimeError("httpd under valgrind did not start:\n" + h.log())
        time.sleep(0.2)


def valgrind_pid(out):
    """The valgrind process writing `out` (not runuser, its parent)."""
    r = subprocess.run(["pgrep", "-f", "callgrind-out-file=" + out], capture_output=True,
                       text=True)
    for pid in r.stdout.split():
        try:
            with open("/proc/%s/comm" % pid) as f:
                if "callgrind" in f.read():
                    return pid
        except OSError:
            pass
    raise RuntimeError("no callgrind process for " + out)


def control(pid, onoff):
    r = subprocess.run(I.as_nobody(["callgrind_control", "-i", onoff, pid]),
                       capture_output=True, text=True)
    if r.returncode != 0 or "Error" in r.stdout + r.stderr:
        raise RuntimeError("callgrind_control: " + r.stdout + r.stderr)


def hook_run(extra, bans, n, outdir):
    """Instructions inside iw_ban_check per request of a clean client,
    after `bans` trigger requests of distinct clients.  Callgrind starts
    with instrumentation off (start-up and seeding run uncounted, and
    faster) and callgrind_control turns it on for the n measured requests
    only."""
    h = B.Httpd("ban", extra + "ThreadsPerChild 2\nMaxRequestWorkers 2\n")
    out = os.path.join(outdir, "cg-hook-%d-%d" % (bans, n))
    subprocess.run(["chmod", "-R", "a+rwX", h.d], check=True)
    cmd = I.as_nobody(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                       "--instr-atstart=no", "--toggle-collect=iw_ban_check",
                       "/usr/sbin/apache2", "-X", "-f", h.conf])
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    vg = None
    try:
        wait_ready(p, h)
        send(h.port, [("/static.html?iwban=1", "10.%d.%d.%d" % (i >> 16, (i >> 8) & 255, i & 255))
                      for i in range(bans)])
        send(h.port, [("/static.html", "20.0.0.1")] * 100)      # warm, uncounted
        vg = valgrind_pid(out)
        control(vg, "on")
        send(h.port, [("/static.html", "20.0.0.1")] * n)
        control(vg, "off")
    finally:
        # stop valgrind itself: a SIGTERM to runuser ends its whole session
        # (this script included) with "Session terminated, killing shell"
        if vg:
            os.kill(int(vg), signal.SIGTERM)
        else:
            subprocess.run(["pkill", "-TERM", "-f", "callgrind-out-file=" + out],
                           capture_output=True)
        p.wait(timeout=300)
    try:
        return totals(out) / n
    finally:
        shutil.rmtree(h.d, ignore_errors=True)


def main():
    if not shutil.which("valgrind"):
        print("valgrind not installed: apt-get install valgrind")
        return 0
    if not os.path.exists(BENCH):
        print("bench_ban not built (make bench builds it)")
        return 0
    outdir = tempfile.mkdtemp(prefix="iw-ban-bench-")
    os.chmod(outdir, 0o1777)
    c = lookup_counts(outdir)
    print("lookup (iw_ban_lookup), instructions per lookup incl. the loop, %d lookups:" % LOOKUPS)
    print("  empty table:                   %6.1f  (target <= 100) %s"
          % (c["lookups_empty"], "ok" if c["lookups_empty"] <= 100 else "OVER"))
    print("  10,000 bans, client not banned: %6.1f  (target <= 300) %s"
          % (c["lookups_miss"], "ok" if c["lookups_miss"] <= 300 else "OVER"))
    print("  10,000 bans, client banned:     %6.1f  (target <= 300) %s"
          % (c["lookups_hit"], "ok" if c["lookups_hit"] <= 300 else "OVER"))
    rules = os.path.join(outdir, "ban.yml")
    with open(rules, "w") as f:
        f.write(RULE)
    os.chmod(rules, 0o644)
    extra = (B.REAL_CONF + B.module_conf([rules], os.path.join(outdir, "alerts.sock"),
                                         os.path.join(outdir, "hscache"))
             + "IocWatchBan On\nIocWatchBanTrigger level:high 3600\n"
             + "IocWatchBanTableSize %d\n" % max(16, BANS + BANS // 2))
    print("module hook (iw_ban_check) in httpd -X under callgrind, %d requests:" % N)
    for bans in (0, BANS):
        print("  %6d active bans: %6.1f instructions per request"
              % (bans, hook_run(extra, bans, N, outdir)), flush=True)
    shutil.rmtree(outdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
