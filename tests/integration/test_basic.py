# SPDX-License-Identifier: Apache-2.0
"""Core behaviour on a real httpd under each MPM: one alert per matching
rule with the ECS fields, none for benign traffic, request fields taken from
the final request of a redirect chain, error-log rules, the status page."""

import os

import pytest

import iwtest
from iwtest import by_url, get, nonce

RULE_A = "7b0c5a55-0000-4000-8000-00000000000a"
RULE_B = "7b0c5a55-0000-4000-8000-00000000000b"
RULE_C = "7b0c5a55-0000-4000-8000-00000000000c"
RULE_E = "7b0c5a55-0000-4000-8000-00000000000e"
SEGFAULT = "1da8ce0b-855d-4004-8860-7d64d42063b1"   # SigmaHQ web_apache_segfault
THREADING = "e9a2b582-3f6a-48ac-b4a1-6849cdc50b3c"  # SigmaHQ web_apache_threading_error
SIGMA_APACHE = os.path.join(iwtest.SIGMAHQ, "web", "product", "apache")

THREAD_MSG = ("__pthread_tpp_change_priority: Assertion `new_prio == -1 || "
              "(new_prio >= fifo_min_prio && new_prio <= fifo_max_prio)' failed.")


def body(rs, h):
    h.write_doc("err404.html", "not here\n")
    return """\
IocWatchRules "{rules}/basic.yml" "{rules}/errorlog.yml" "{sigma}"
IocWatchAlertTarget unix:{sock}
ErrorDocument 404 /err404.html
LogLevel warn log_debug:info
<Location /iw-status>
  SetHandler iocwatch-status
</Location>
<Location /denied>
  Require all denied
</Location>
<Location /inject-segv>
  LogMessage "AH00052: child pid 4242 exit signal Segmentation Fault (11)" hook=log_transaction
</Location>
<Location /inject-thread>
  LogMessage "{thread}" hook=log_transaction
</Location>
""".format(rules=iwtest.TEST_RULES, sigma=SIGMA_APACHE, sock=rs.sock,
           thread=THREAD_MSG.replace('"', '\\"'))


@pytest.fixture(scope="module", params=["event", "worker", "prefork"])
def mpm(request):
    return request.param


@pytest.fixture
def server(httpd, rsyslog, mpm):
    httpd.ensure(body(rsyslog, httpd), mpm)
    return httpd


def test_attack_one_alert_per_matching_rule(server, rsyslog, mpm):
    n = nonce()
    m = rsyslog.mark()
    target = "/shop/item.php?n=%s&q=iwattack-a" % n
    st, _ = iwtest.http_get(server.port, target,
                            {"User-Agent": "Mozilla/5.0 iwscanner-b",
                             "Referer": "http://ref.example/" + n})
    assert st == 404
    alerts = rsyslog.wait_alerts(m, 2, by_url(n))
    ids = sorted(get(a, "rule.id") for a in alerts)
    assert ids == sorted([RULE_A, RULE_B]), ids          # exactly one per rule
    for a in alerts:
        assert get(a, "event.kind") == "alert"
        assert get(a, "source.ip") == "127.0.0.1"
        assert get(a, "http.request.method") == "GET"
        assert get(a, "url.original") == target
        assert get(a, "url.path") == "/shop/item.php"
        assert get(a, "url.query") == "n=%s&q=iwattack-a" % n
        assert get(a, "http.response.status_code") == 404
        assert get(a, "user_agent.original") == "Mozilla/5.0 iwscanner-b"
        assert get(a, "http.request.referrer") == "http://ref.example/" + n
        assert get(a, "host.name")
        assert get(a, "@timestamp")
        # RFC 3164 on the local socket, app-name iocwatch, facility local0
        hdr = a["_syslog_header"]
        assert "iocwatch[" in hdr, hdr
    a = next(x for x in alerts if get(x, "rule.id") == RULE_A)
    assert get(a, "rule.name") == "IW test A - marker in the query"
    assert get(a, "log.level") == "high"
    assert "attack.t1190" in get(a, "tags")
    assert a["_syslog_header"].startswith("<131>")       # local0.err (high)
    b = next(x for x in alerts if get(x, "rule.id") == RULE_B)
    assert get(b, "log.level") == "medium"
    assert b["_syslog_header"].startswith("<132>")       # local0.warning


def test_benign_request_no_alert(server, rsyslog):
    n = nonce()
    m = rsyslog.mark()
    for path in ("/", "/index.html?n=" + n, "/static.txt?n=" + n):
        st, _ = iwtest.http_get(server.port, path)
        assert st == 200
    # a following attack proves the pipeline is alive while we wait
    iwtest.http_get(server.port, "/probe?n=%s&q=iwattack-a" % n)
    rsyslog.wait_alerts(m, 1, by_url(n))
    alerts = rsyslog.alerts(m, by_url(n))
    assert [get(a, "url.original") for a in alerts] == ["/probe?n=%s&q=iwattack-a" % n]


def test_raw_target_exactly_as_sent(server, rsyslog):
    n = nonce()
    m = rsyslog.mark()
    target = "/iwpath-c/%%2e%%2E/a%%20b;x=1?n=%s&v=%%27%%22+q" % n
    iwtest.http_get(server.port, target)
    (a,) = rsyslog.wait_alerts(m, 1, by_url(n))
    assert get(a, "rule.id") == RULE_C
    assert get(a, "url.original") == target
    assert get(a, "log.level") == "low"


def test_internal_redirect_uses_final_request(server, rsyslog):
    # 404 -> ErrorDocument /err404.html: fields of the client's request line,
    # status of the final response
    n = nonce()
    m = rsyslog.mark()
    target = "/missing/x.php?n=%s&q=iwattack-a" % n
    st, resp = iwtest.http_get(server.port, target)
    assert st == 404 and b"not here" in resp
    (a,) = rsyslog.wait_alerts(m, 1, by_url(n))
    assert get(a, "url.original") == target
    assert get(a, "http.response.status_code") == 404


def test_error_log_rule_ah01630(server, rsyslog, errlog):
    errlog.expect(r"AH01630: client denied by server configuration")
    m = rsyslog.mark()
    st, _ = iwtest.http_get(server.port, "/denied/secret.txt")
    assert st == 403
    alerts = rsyslog.wait_alerts(m, 1, lambda a: get(a, "rule.id") == RULE_E)
    assert len(alerts) == 1
    assert get(alerts[0], "source.ip") == "127.0.0.1"


@pytest.mark.parametrize("path,rule", [("/inject-segv", SEGFAULT),
                                       ("/inject-thread", THREADING)])
def test_sigmahq_apache_error_keywords(server, rsyslog, errlog, path, rule):
    errlog.expect(r"child pid 4242 exit signal")
    # mod_log_debug writes the line into the error log (info level); the
    # error_log hook sees it like any other entry
    m = rsyslog.mark()
    iwtest.http_get(server.port, path)
    alerts = rsyslog.wait_alerts(m, 1, lambda a: get(a, "rule.id") == rule)
    assert len(alerts) == 1


def test_status_page_counts(server, rsyslog):
    st = iwtest.status_page(server.port)
    assert st["enabled"] == 1
    assert st["rules"] >= 6
    assert st["dropped"] == 0
    assert st["enqueue_failed"] == 0
    for k in ("scan_cache_hits", "scan_cache_misses", "event_cache_hits",
              "event_cache_misses"):
        assert isinstance(st[k], int) and st[k] >= 0, (k, st.get(k))


def test_status_page_counts_events(server, rsyslog):
    """Access events are counted per thread and summed by the status page:
    the status requests themselves are events, so some process's count
    grows past a few while we poll."""
    seen = []

    def counted():
        seen.append(iwtest.status_page(server.port)["events"])
        return seen[-1] >= 3
    iwtest.wait_until(counted, 20, step=0.02, what="events on the status page")
    assert all(isinstance(n, int) and n >= 0 for n in seen)


def test_status_page_shows_cache_hits(server, rsyslog):
    """Each status request is itself an identical request: once a thread
    has evaluated it twice, its process reports an event cache hit
    (IocWatchScanCache is on by default; the scan cache is only consulted
    for values a Vectorscan database would scan, none here)."""
    seen = {}

    def hits():
        st = iwtest.status_page(server.port)
        seen.update(st)
        return st["event_cache_hits"] >= 1
    try:
        iwtest.wait_until(hits, 20, step=0.02, what="cache hits on the status page")
    except AssertionError:
        raise AssertionError({k: v for k, v in seen.items() if "cache" in k or k == "events"})


def test_real_child_crash_seen_by_the_parent(server, rsyslog, errlog):
    """A child killed by SIGSEGV: the parent logs AH00052 "child pid N exit
    signal Segmentation fault (11)" -- no request, no connection -- and
    the SigmaHQ rule fires from the parent's own queue."""
    import signal
    import subprocess
    errlog.expect(r"AH00052: child pid \d+ exit signal Segmentation fault")
    parent = server.pid()
    kids = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True,
                          text=True).stdout.split()
    # a child that serves requests (the status page says which): the parent
    # has another child, the module's alert relay, which the MPM does not
    # watch -- the highest pid is usually, not always, a server child
    victim = str(iwtest.status_page(server.port)["pid"])
    assert victim in kids, (victim, kids)
    m = rsyslog.mark()
    os.kill(int(victim), signal.SIGSEGV)
    (a,) = rsyslog.wait_alerts(m, 1, lambda a: get(a, "rule.id") == SEGFAULT)
    assert "child pid %s exit signal" % victim in get(a, "error.message")
    assert get(a, "process.pid") == parent
    iwtest.wait_until(lambda: iwtest.http_get(server.port, "/")[0] == 200, 10,
                      what="server still serving")
