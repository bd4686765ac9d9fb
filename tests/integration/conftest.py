# SPDX-License-Identifier: Apache-2.0
"""Fixtures: one rsyslogd per session, one httpd per test module (reused
across tests while the config stays the same), the error log as oracle."""

import os
import shutil

import pytest

import iwtest


def pytest_report_header(config):
    return "iocwatch: module=%s cli=%s" % (iwtest.MODULE, iwtest.CLI)


@pytest.fixture(scope="session")
def base_dir():
    d = iwtest.make_tmpdir("iw-it-")
    yield d
    if os.environ.get("IW_KEEP") != "1":
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def module_built():
    if not os.path.exists(iwtest.MODULE):
        pytest.fail("module not built: %s (make module, or set IW_MODULE)" % iwtest.MODULE)
    return iwtest.MODULE


@pytest.fixture(scope="session")
def rsyslog(base_dir):
    rs = iwtest.Rsyslog(base_dir)
    rs.start()
    yield rs
    rs.stop()


@pytest.fixture(scope="module")
def httpd(request, base_dir, module_built):
    name = request.module.__name__.replace("test_", "h_")
    h = iwtest.Httpd(base_dir, name)
    yield h
    h.stop()


class ErrlogOracle:
    """Collects regexes of error-log lines a test expects; everything else
    at warn or worse fails the test after it ran."""

    def __init__(self, httpd):
        self.httpd = httpd
        self.expected = []
        self.since = httpd.errlog_size()

    def expect(self, *regexes):
        self.expected.extend(regexes)

    def new_lines(self):
        return self.httpd.errlog_lines(self.since)


@pytest.fixture(autouse=True)
def errlog(request):
    if "httpd" not in request.fixturenames:
        yield None
        return
    h = request.getfixturevalue("httpd")
    o = ErrlogOracle(h)
    yield o
    bad = iwtest.bad_errlog_lines(o.new_lines(), o.expected)
    for f in h.asan_reports():
        with open(f, errors="replace") as fh:
            bad.append("sanitizer report %s:\n%s" % (f, fh.read()[:4000]))
        os.rename(f, os.path.join(os.path.dirname(f), "reported-" + os.path.basename(f)))
    if bad:
        pytest.fail("unexpected error-log lines:\n" + "\n".join(bad[:20]), pytrace=False)
