# SPDX-License-Identifier: Apache-2.0
"""Helpers for the shipped rsyslog routes (conf/rsyslog/*.conf) tested in
real rsyslogd instances: a sender that receives the module's alerts on a
unix socket and runs a shipped route file, receivers with their own
configuration, certificates made with certtool."""

import os
import subprocess

import iwtest

CONF_DIR = os.path.join(iwtest.REPO, "conf", "rsyslog")
CERTTOOL = os.environ.get("IW_CERTTOOL", "/usr/bin/certtool")


def shipped(name, subst):
    """A shipped route file with admin edits applied ({old: new}); each
    old text must occur (the test would otherwise test nothing)."""
    with open(os.path.join(CONF_DIR, name)) as f:
        text = f.read()
    for old, new in subst.items():
        assert old in text, "%s: %r not found" % (name, old)
        text = text.replace(old, new)
    return text


class Rsyslogd:
    """rsyslogd -n with the given configuration body; `sock` is an
    imuxsock socket when with_sock (the module's alert target)."""

    def __init__(self, base, name, with_sock=True):
        self.dir = os.path.join(base, name)
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "log.sock") if with_sock else None
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        self.pidfile = os.path.join(self.dir, "rsyslogd.pid")
        self.stderr = os.path.join(self.dir, "stderr")
        self.proc = None

    def path(self, rel):
        return os.path.join(self.dir, rel)

    def start(self, body, ready=None):
        head = 'global(workDirectory="%s" maxMessageSize="64k")\n' % self.dir
        if self.sock:
            head += ('module(load="imuxsock" SysSock.Use="off")\n'
                     'input(type="imuxsock" Socket="%s" RateLimit.Interval="0" '
                     'UseSpecialParser="off")\n' % self.sock)
        with open(self.conf, "w") as f:
            f.write(head + body + "\n")
        r = subprocess.run([iwtest.RSYSLOGD, "-N1", "-f", self.conf],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, "rsyslogd -N1:\n" + r.stdout + r.stderr
        self.proc = subprocess.Popen(
            [iwtest.RSYSLOGD, "-n", "-f", self.conf, "-i", self.pidfile],
            stdout=subprocess.DEVNULL, stderr=open(self.stderr, "a"))
        iwtest.wait_until(lambda: self.proc.poll() is not None or
                          ((not self.sock or os.path.exists(self.sock))
                           and (ready is None or ready())), 10, what="rsyslogd up")
        assert self.proc.poll() is None, self.errors()

    def errors(self):
        with open(self.stderr, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        if self.sock and os.path.exists(self.sock):
            os.unlink(self.sock)


def _certtool(args, template, d):
    tpl = os.path.join(d, "tmpl.cfg")
    with open(tpl, "w") as f:
        f.write(template)
    subprocess.run([CERTTOOL] + args + ["--template", tpl], check=True,
                   capture_output=True, timeout=60)


def make_certs(d):
    """A CA, a server certificate for "localhost" (also IP 127.0.0.1) and a
    client certificate for "www.example.org", in d/*.pem."""
    os.makedirs(d, exist_ok=True)
    p = lambda n: os.path.join(d, n)
    for key in ("ca-key.pem", "server-key.pem", "client-key.pem"):
        subprocess.run([CERTTOOL, "--generate-privkey", "--key-type", "ecdsa",
                        "--outfile", p(key)], check=True, capture_output=True, timeout=60)
    _certtool(["--generate-self-signed", "--load-privkey", p("ca-key.pem"),
               "--outfile", p("ca.pem")],
              'cn = "iocwatch test CA"\nca\ncert_signing_key\nexpiration_days = 2\n', d)
    _certtool(["--generate-certificate", "--load-privkey", p("server-key.pem"),
               "--load-ca-certificate", p("ca.pem"), "--load-ca-privkey", p("ca-key.pem"),
               "--outfile", p("server-cert.pem")],
              'cn = "localhost"\ndns_name = "localhost"\nip_address = "127.0.0.1"\n'
              'tls_www_server\ntls_www_client\nsigning_key\nexpiration_days = 2\n', d)
    _certtool(["--generate-certificate", "--load-privkey", p("client-key.pem"),
               "--load-ca-certificate", p("ca.pem"), "--load-ca-privkey", p("ca-key.pem"),
               "--outfile", p("client-cert.pem")],
              'cn = "www.example.org"\ndns_name = "www.example.org"\n'
              'tls_www_client\ntls_www_server\nsigning_key\nexpiration_days = 2\n', d)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    return {n[:-4]: p(n) for n in os.listdir(d) if n.endswith(".pem")}
