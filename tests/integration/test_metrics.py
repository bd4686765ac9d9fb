# SPDX-License-Identifier: Apache-2.0
"""Server-wide counters (shared memory) on the status page and as the
Prometheus exposition (?format=prometheus): totals over all children and
across a graceful restart, `promtool check metrics` on the output, and a
real Prometheus server scraping it and answering a query with the number of
alerts the target received."""

import json
import os
import shutil
import subprocess
import urllib.parse
import urllib.request
import uuid

import pytest

import iwtest

RULE_A = "7b0c5a55-0000-4000-8000-00000000000a"
PROMETHEUS = os.environ.get("IW_PROMETHEUS", "/usr/bin/prometheus")
PROMTOOL = os.environ.get("IW_PROMTOOL", "/usr/bin/promtool")
ALERT_RULES = os.path.join(iwtest.REPO, "conf", "prometheus", "iocwatch-alerts.yml")


def body(sock):
    return """\
IocWatchRules "{rules}/basic.yml"
IocWatchAlertTarget unix:{sock}
<Location /iw-status>
  SetHandler iocwatch-status
</Location>
""".format(rules=iwtest.TEST_RULES, sock=sock)


@pytest.fixture(scope="module")
def sink(base_dir):
    s = iwtest.Sink("unix", os.path.join(base_dir, "metrics-sink.sock"))
    yield s
    s.close()


@pytest.fixture
def server(httpd, sink):
    # prefork: several children answer, each with its own counters
    httpd.ensure(body(sink.path), "prefork")
    return httpd


def scrape(port):
    st, resp = iwtest.http_get(port, "/iw-status?format=prometheus")
    assert st == 200, resp[:300]
    head, text = resp.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), text.decode()


def samples(text):
    """{'name{labels}': value} of an exposition."""
    out = {}
    for ln in text.splitlines():
        if ln and not ln.startswith("#"):
            k, v = ln.rsplit(" ", 1)
            out[k] = float(v)
    return out


def attack(port, n, tag):
    for i in range(n):
        st, _ = iwtest.http_get(port, "/m?q=iwattack-a&t=%s&i=%d" % (tag, i))
        assert st == 404


def test_totals_over_all_children(server, sink):
    before = iwtest.status_page(server.port)
    tag = uuid.uuid4().hex[:10]
    attack(server.port, 24, tag)
    st = iwtest.settled_status(server.port, lambda s: s["total_alerts"]
                               >= before["total_alerts"] + 24)
    assert st["total_alerts"] - before["total_alerts"] == 24, st
    # every request over a new connection: prefork spreads them over its
    # children, each counting into its own slot; the totals see all
    assert st["total_events"] - before["total_events"] >= 24
    assert st["total_hits"] - before["total_hits"] == 24
    iwtest.wait_until(lambda: len(sink.alerts(lambda a: tag in a["url"]["original"])) == 24,
                      10, what="24 alerts at the sink")
    st = iwtest.settled_status(server.port, lambda s: s["total_sent"]
                               >= before["total_sent"] + 24)
    assert st["total_sent"] - before["total_sent"] == 24
    assert st["total_queued"] - before["total_queued"] == 24
    assert st["total_dropped"] == before["total_dropped"] == 0
    assert st["total_queue_depth"] == 0
    assert st["total_rules_loaded"] == 3


def test_prometheus_exposition_is_valid(server):
    attack(server.port, 2, uuid.uuid4().hex[:10])
    head, text = scrape(server.port)
    assert "Content-Type: text/plain; version=0.0.4; charset=utf-8" in head
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    s = samples(text)
    key = 'iocwatch_rule_alerts_total{rule="%s",level="high"}' % RULE_A
    assert s[key] >= 2
    assert s["iocwatch_rules_loaded"] == 3
    assert any(k.startswith('iocwatch_target_sent_total{target="unix:') for k in s)
    for name in ("events", "error_events", "alerts", "corr_alerts", "suppressed",
                 "below_level", "eval_errors", "scan_cache_hits", "event_cache_misses"):
        assert "# TYPE iocwatch_%s_total counter" % name in text
    # ?prometheus is the short form
    st, resp = iwtest.http_get(server.port, "/iw-status?prometheus")
    assert b"version=0.0.4" in resp.split(b"\r\n\r\n", 1)[0]


def test_graceful_restart_keeps_totals(server):
    b0 = iwtest.status_page(server.port)
    attack(server.port, 3, uuid.uuid4().hex[:10])
    # the last attack is counted after its response went out: the baseline
    # must include it, or it lands in the difference below
    before = iwtest.settled_status(server.port, lambda s: s["total_alerts"]
                                   >= b0["total_alerts"] + 3)
    server.restart(graceful=True)
    attack(server.port, 5, uuid.uuid4().hex[:10])
    st = iwtest.settled_status(server.port, lambda s: s["total_alerts"]
                               >= before["total_alerts"] + 5)
    assert st["total_alerts"] == before["total_alerts"] + 5, (before, st)
    assert st["total_rules_generation"] > before["total_rules_generation"]


# The counter block's header as iw_metrics_init writes it: the magic
# ("iwmetric" as a little-endian word), then the layout word, which a
# build with other counter lists (or slots, rules, targets) sets otherwise.
METRICS_MAGIC = (0x69776d6574726963).to_bytes(8, "little")


def counter_blocks(pid):
    """{address of the layout word: its bytes} of every counter block the
    process has mapped (shared mappings holding the magic in their first
    page, where apr_shm's header leaves the block)."""
    found = {}
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb") as mem:
        for ln in maps:
            f = ln.split()
            if len(f) < 2 or f[1][0] != "r" or f[1][3] != "s":
                continue
            lo = int(f[0].split("-")[0], 16)
            mem.seek(lo)
            page = mem.read(4096)
            at = page.find(METRICS_MAGIC)
            if at >= 0 and at % 8 == 0:
                found[lo + at + 8] = page[at + 8:at + 16]
    return found


def test_graceful_restart_into_another_layout_releases_the_old_block(base_dir, module_built):
    """A graceful restart into a build whose counter block has another
    layout: the parent finds the retained block's layout word is not its
    own, makes a new block (totals from zero) and releases its mapping of
    the old one (old children keep theirs until they exit).  The other
    build's block is the retained block with its layout word changed in
    the parent's memory (/proc/PID/mem): the bytes such a build leaves,
    without building the module twice.  An httpd and a sink of its own:
    the other tests' totals go on."""
    sink = iwtest.Sink("unix", os.path.join(base_dir, "metrics-layout-sink.sock"))
    h = iwtest.Httpd(base_dir, "h_metrics_layout")
    try:
        h.start(h.render(body(sink.path), "prefork"), "prefork")
        attack(h.port, 3, "layout")
        before = iwtest.settled_status(h.port, lambda s: s["total_alerts"] >= 3)
        assert before["total_alerts"] == 3, before
        parent = h.pid()
        blocks = counter_blocks(parent)
        assert len(blocks) == 1, blocks
        (at, layout), = blocks.items()
        with open("/proc/%d/mem" % parent, "r+b", buffering=0) as mem:
            mem.seek(at)
            mem.write(bytes([layout[0] ^ 1]) + layout[1:])
        h.restart(graceful=True)
        after = counter_blocks(parent)
        assert len(after) == 1, after               # the old mapping is gone
        assert at not in after and list(after.values()) == [layout]
        attack(h.port, 2, "layout")
        st = iwtest.settled_status(h.port, lambda s: s["total_alerts"] >= 2)
        assert st["total_alerts"] == 2, (before, st)   # a new block: from zero
        # the next graceful restart keeps the new block
        h.restart(graceful=True)
        assert counter_blocks(parent) == after
        attack(h.port, 1, "layout")
        st = iwtest.settled_status(h.port, lambda s: s["total_alerts"] >= 3)
        assert st["total_alerts"] == 3, st
    finally:
        h.stop()
        sink.close()


def test_real_prometheus_scrapes_alert_counts(server, sink, base_dir):
    """Prometheus (loopback, temp dir, 1 s scrape interval) scrapes the page;
    its answer for the alerts sent equals what the target received."""
    d = os.path.join(base_dir, "prometheus")
    os.makedirs(d, exist_ok=True)
    port = iwtest.free_port()
    with open(os.path.join(d, "prometheus.yml"), "w") as f:
        f.write("""\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %s
scrape_configs:
  - job_name: iocwatch
    metrics_path: /iw-status
    params:
      format: [prometheus]
    static_configs:
      - targets: ["127.0.0.1:%d"]
""" % (ALERT_RULES, server.port))
    tag = uuid.uuid4().hex[:10]
    attack(server.port, 7, tag)
    iwtest.wait_until(lambda: len(sink.alerts(lambda a: tag in a["url"]["original"])) == 7,
                      10, what="7 alerts at the sink")
    received = len(sink.alerts())
    proc = subprocess.Popen(
        [PROMETHEUS, "--config.file=" + os.path.join(d, "prometheus.yml"),
         "--storage.tsdb.path=" + os.path.join(d, "data"),
         "--web.listen-address=127.0.0.1:%d" % port, "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "stderr"), "w"))
    try:
        def query(q):
            url = "http://127.0.0.1:%d/api/v1/query?%s" % (
                port, urllib.parse.urlencode({"query": q}))
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    res = json.load(r)["data"]["result"]
            except (OSError, ValueError, KeyError):
                return None
            return float(res[0]["value"][1]) if res else None

        sent = iwtest.wait_until(lambda: query("sum(iocwatch_target_sent_total)"), 30,
                                 step=0.3, what="a scrape")
        if sent != received:
            # an earlier test's alert still on its way when we counted: a
            # later scrape and a new count must agree (a wrong counter never)
            sent = iwtest.wait_until(
                lambda: (lambda v: v if v == len(sink.alerts()) else None)(
                    query("sum(iocwatch_target_sent_total)")), 10, step=0.3,
                what="sent_total == what the sink received (%s vs %d)" % (sent, received))
            received = len(sink.alerts())
        assert sent == received
        up = query('up{job="iocwatch"}')
        assert up == 1
        by_rule = query('iocwatch_rule_alerts_total{rule="%s",level="high"}' % RULE_A)
        assert by_rule == len(sink.alerts(lambda a: a["rule"]["id"] == RULE_A))

        # the shipped alerting rules load and evaluate on the real series
        def rules_ok():
            url = "http://127.0.0.1:%d/api/v1/rules" % port
            with urllib.request.urlopen(url, timeout=2) as r:
                groups = json.load(r)["data"]["groups"]
            rules = [x for g in groups for x in g["rules"]]
            return rules if rules and all(x["health"] == "ok" and x.get("lastEvaluation", "")
                                          [:4] != "0001" for x in rules) else None
        rules = iwtest.wait_until(rules_ok, 10, step=0.3, what="alerting rules evaluated")
        assert {x["name"] for x in rules} == {
            "IocWatchCriticalAlert", "IocWatchAlertsDropped", "IocWatchQueueBacklog",
            "IocWatchRulesStale", "IocWatchNoRules"}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        shutil.rmtree(os.path.join(d, "data"), ignore_errors=True)


STALE_RULE = iwtest.marker_rule("IW metrics stale test", "7b0c5a55-0000-4000-8000-0000000000f1",
                                "iwmetrics-x", "critical")


def test_status_vhost_without_rules_and_stale_rules_gauge(httpd, sink, errlog):
    """The exposition is server-wide: a status vhost with no rules of its
    own serves it; a reload that finds a rule file broken shows as
    iocwatch_rules_stale 1 (the previous rules stay in force)."""
    rule = httpd.write_rule("metrics-stale.yml", STALE_RULE)
    vh = """\
<VirtualHost 127.0.0.1:{port}>
  ServerName status.test
  <Location /iw-status>
    SetHandler iocwatch-status
  </Location>
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
  ServerName app.test
  IocWatchRules "{rule}"
  IocWatchAlertTarget unix:{sock}
</VirtualHost>
""".format(port=httpd.port, rule=rule, sock=sink.path)
    httpd.ensure(vh, "event")
    for i in range(3):
        iwtest.http_get(httpd.port, "/s?q=iwmetrics-x&i=%d" % i, headers={"Host": "app.test"})
    key = 'iocwatch_rule_alerts_total{rule="7b0c5a55-0000-4000-8000-0000000000f1",level="critical"}'

    def got():
        s = samples(scrape(httpd.port)[1])
        return s if s.get(key, 0) >= 3 else None
    s = iwtest.wait_until(got, 10, step=0.1, what="3 alerts in the exposition")
    assert s[key] == 3 and s["iocwatch_rules_stale"] == 0
    # break the rule file and reload without configtest
    with open(rule, "w") as f:
        f.write(STALE_RULE.replace("    selection:\n", "    selection: [\n", 1))
    errlog.expect(r"\[iocwatch:error\].*not reloaded: ")
    server_gen = samples(scrape(httpd.port)[1])["iocwatch_rules_generation"]
    httpd.restart(graceful=True)
    s = iwtest.wait_until(
        lambda: (lambda x: x if x["iocwatch_rules_generation"] > server_gen else None)(
            samples(scrape(httpd.port)[1])), 20, step=0.2, what="the new generation answering")
    assert s["iocwatch_rules_stale"] == 1
    assert s["iocwatch_rules_loaded"] == 1          # the previous rule, still in force
    assert s[key] == 3                              # counts carried over the reload


def test_shipped_alerting_rules():
    """conf/prometheus/iocwatch-alerts.yml: valid, and its unit tests
    (synthetic series -> which alerts fire, with which text) pass."""
    d = os.path.dirname(ALERT_RULES)
    r = subprocess.run([PROMTOOL, "check", "rules", ALERT_RULES], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "SUCCESS: 5 rules found" in r.stdout, r.stdout + r.stderr
    r = subprocess.run([PROMTOOL, "test", "rules", "iocwatch-alerts.test.yml"], cwd=d,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr
