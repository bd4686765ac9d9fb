# SPDX-License-Identifier: Apache-2.0
"""A reload never takes the site down: a graceful restart (`-k graceful`,
which skips configtest, or a raw SIGUSR1) with a broken rule file keeps
httpd serving with the previous generation's rules, logs one error naming
the broken file and line, and the status page says old rules are in force.
`httpd -t` still fails with file:line:col; a reload with good rules again
takes them and clears the mark."""

import os
import re
import signal
import uuid

import iwtest
from iwtest import get

RULE_ID = "7b0c5a55-0000-4000-8000-0000000000b1"


def reload_rule(marker):
    return iwtest.marker_rule("IW reload test rule", RULE_ID, marker)


# line 7, column 5: an unterminated flow sequence
BROKEN = reload_rule("iwreload-broken").replace("    selection:\n", "    selection: [\n", 1)


def body(h, rs, rule):
    return """\
IocWatchRules "{rule}"
IocWatchAlertTarget unix:{sock}
<Location /iw-status>
  SetHandler iocwatch-status
</Location>
""".format(rule=rule, sock=rs.sock)


def alerts_for(rs, since, marker_nonce):
    return rs.wait_alerts(since, 1, lambda a: marker_nonce in (get(a, "url.original") or ""))


def attack(h, marker):
    n = uuid.uuid4().hex[:10]
    st, _ = iwtest.http_get(h.port, "/x?n=%s&v=%s" % (n, marker))
    assert st == 404
    return n


def wait_generation(h, gen0):
    iwtest.wait_until(lambda: iwtest.status_page(h.port)["mpm_generation"] > gen0,
                      20, step=0.2, what="new generation serving")


def test_broken_rules_on_reload_keep_previous(httpd, rsyslog, errlog):
    rule = httpd.write_rule("reload.yml", reload_rule("iwreload-one"))
    httpd.ensure(body(httpd, rsyslog, rule), "event")
    m = rsyslog.mark()
    n = attack(httpd, "iwreload-one")
    assert [get(a, "rule.id") for a in alerts_for(rsyslog, m, n)] == [RULE_ID]
    st = iwtest.status_page(httpd.port)
    assert st.get("rules_stale", 0) == 0 and "rules_stale_error" not in st

    # break the file: configtest names file:line:col and fails
    httpd.write_rule("reload.yml", BROKEN.format(marker="iwreload-two"))
    rc, out = httpd.configtest(httpd.running_conf)
    assert rc != 0 and re.search(re.escape(rule) + r":\d+:\d+: ", out), out

    # -k graceful (no configtest first): httpd stays up, old rules in force
    errlog.expect(r"\[iocwatch:error\].*rules of .* not reloaded: "
                  + re.escape(rule) + r":\d+:\d+: .*previous generation's 1 rule")
    since = httpd.errlog_size()
    gen0 = iwtest.status_page(httpd.port)["mpm_generation"]
    httpd.restart(graceful=True)
    wait_generation(httpd, gen0)
    assert httpd.alive()
    st = iwtest.status_page(httpd.port)
    assert st["rules_stale"] == 1 and st["rules"] == 1, st
    assert rule + ":" in str(st["rules_stale_error"]), st
    m = rsyslog.mark()
    n = attack(httpd, "iwreload-one")            # the previous rule still alerts
    assert [get(a, "rule.id") for a in alerts_for(rsyslog, m, n)] == [RULE_ID]
    n2 = attack(httpd, "iwreload-two")           # the broken file's never does
    assert rsyslog.quiet(m, lambda a: n2 in (get(a, "url.original") or "")) == []
    errs = [ln for ln in httpd.errlog_lines(since) if "[iocwatch:error]" in ln]
    assert len(errs) == 1, errs

    # a raw SIGUSR1 with the file still broken: same again (the saved
    # sources carry over from the fallback generation)
    gen1 = iwtest.status_page(httpd.port)["mpm_generation"]
    since = httpd.errlog_size()
    old = httpd.children()
    os.kill(httpd.pid(), signal.SIGUSR1)
    wait_generation(httpd, gen1)
    httpd.wait_gone(old)            # none of them serves the requests below
    assert iwtest.status_page(httpd.port)["rules_stale"] == 1
    m = rsyslog.mark()
    n = attack(httpd, "iwreload-one")
    assert [get(a, "rule.id") for a in alerts_for(rsyslog, m, n)] == [RULE_ID]
    iwtest.wait_until(lambda: [ln for ln in httpd.errlog_lines(since)
                               if "[iocwatch:error]" in ln], 5, what="the error line")

    # fixed: the new rule is taken, the mark cleared
    httpd.write_rule("reload.yml", reload_rule("iwreload-two"))
    gen2 = iwtest.status_page(httpd.port)["mpm_generation"]
    httpd.restart(graceful=True)
    wait_generation(httpd, gen2)
    st = iwtest.status_page(httpd.port)
    assert st["rules_stale"] == 0 and "rules_stale_error" not in st
    m = rsyslog.mark()
    n = attack(httpd, "iwreload-two")
    assert [get(a, "rule.id") for a in alerts_for(rsyslog, m, n)] == [RULE_ID]
    n = attack(httpd, "iwreload-one")
    assert rsyslog.quiet(m, lambda a: n in (get(a, "url.original") or "")) == []
