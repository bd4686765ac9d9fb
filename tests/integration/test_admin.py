# SPDX-License-Identifier: Apache-2.0
"""What an admin reads from httpd: the rule counts of the status page and of
the start-up line are those of `iocwatch check` (one definition), and a rule
error in a <VirtualHost> names that block by file and line, not by its
address."""

import re
import subprocess

import iwtest

PACK = iwtest.os.path.join(iwtest.REPO, "conf", "rules")
COUNTS = re.compile(r"(\d+) rules: (\d+) detection, (\d+) correlation, (\d+) filters?")


def check_counts():
    r = subprocess.run([iwtest.CLI, "check", PACK], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    m = COUNTS.search(r.stderr)
    assert m, r.stderr
    return tuple(map(int, m.groups()))


def test_rule_counts_agree_with_check(httpd, rsyslog):
    body = """\
IocWatchRules "%s"
IocWatchAlertTarget unix:%s
<Location /iw-status>
  SetHandler iocwatch-status
</Location>
""" % (PACK, rsyslog.sock)
    since = httpd.errlog_size()
    httpd.ensure(body, "event", log_level="notice")
    total, det, corr, filt = check_counts()
    st = iwtest.status_page(httpd.port)
    assert (st["rules"], st["rules_detection"], st["rules_correlation"],
            st["rules_filters"], st["rules_not_compiled"]) == (total, det, corr, filt, 0)
    start = [ln for ln in httpd.errlog_lines(since) if "engine(s)" in ln]
    assert start, httpd.errlog_tail()
    m = COUNTS.search(start[-1])
    assert m and tuple(map(int, m.groups())) == (total, det, corr, filt), start[-1]


def test_vhost_rule_error_names_the_vhost(httpd, rsyslog):
    bad = httpd.write_rule("vhost-broken.yml", "title: broken\nlogsource: [\n")
    text = httpd.render("""\
IocWatchAlertTarget unix:%s
<VirtualHost 127.0.0.1:%d>
  ServerName broken.test
  IocWatchRules "%s"
</VirtualHost>
""" % (rsyslog.sock, httpd.port, bad), "event")
    rc, out = httpd.configtest(text)
    assert rc != 0, out
    line = text.splitlines().index("<VirtualHost 127.0.0.1:%d>" % httpd.port) + 1
    assert re.search(r"iocwatch: \d+ error\(s\) in the IocWatchRules of <VirtualHost> at "
                     r"\S*configtest\.conf:%d \(ServerName broken\.test\)" % line, out), out
    assert ":0" not in out.split("IocWatchRules of", 1)[1].splitlines()[0]


def test_vectorscan_choice_logged(httpd, rsyslog):
    """When Vectorscan's own dispatch loses matches on this CPU (src/iw_vs.c),
    httpd's log says which implementation the engine scans with instead, at
    notice level (IW0024), as `iocwatch --version` does; otherwise nothing."""
    r = subprocess.run([iwtest.CLI, "--version"], capture_output=True, text=True, timeout=60)
    m = re.search(r"scanning with (\S+),", r.stdout)
    assert r.returncode == 0 and m, r.stdout
    body = """\
IocWatchRules "%s"
IocWatchAlertTarget unix:%s
# the scan implementation
""" % (PACK, rsyslog.sock)
    since = httpd.errlog_size()
    httpd.ensure(body, "event", log_level="notice")
    lines = [ln for ln in httpd.errlog_lines(since) if "IW0024" in ln]
    if m.group(1) == "hs_scan":
        assert not lines, lines
    else:
        assert lines, httpd.errlog_tail()
        assert ":notice]" in lines[-1] and ("its %s implementation" % m.group(1)) in lines[-1], lines
