# SPDX-License-Identifier: Apache-2.0
"""`iocwatch scan --jobs N` prints exactly what `--jobs 1` prints.

Each case runs the scan serially and with 4 workers and asserts
byte-identical stdout, the same exit code and the same stderr (malformed
reports, summary line and per-rule counts) once the timing is cut out.
IOCWATCH_BATCH_LINES makes batches tiny so batch boundaries fall between
correlated lines and malformed lines.  Run:

    /usr/bin/python3 -m pytest tests/cli/test_scan_parallel.py

Paths: repo root from this file; shared dir <repo>/../shared (IW_SHARED
overrides); CLI <repo>/build/iocwatch (IW_CLI overrides).
"""
import os
import re
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SHARED = os.environ.get("IW_SHARED", os.path.join(REPO, "..", "shared"))
CLI = os.environ.get("IW_CLI", os.path.join(REPO, "build", "iocwatch"))
SIGMAHQ = os.path.join(SHARED, "sigma", "sigmahq-rules")
SIGMA_RULES = ["--rules", os.path.join(SIGMAHQ, "rules"),
               "--rules", os.path.join(SIGMAHQ, "rules-emerging-threats")]
PACK = ["--rules", os.path.join(REPO, "conf", "rules")]
CORR_RULES = ["--rules", os.path.join(REPO, "tests", "integration", "rules")]
CRS = os.path.join(SHARED, "corpus", "crs-requests.jsonl")
BENIGN = os.path.join(SHARED, "corpus", "benign", "elastic-apache.log")
REQUESTS = os.path.join(REPO, "tests", "sigmahq", "requests.jsonl")
ERRORS = os.path.join(REPO, "tests", "sigmahq", "errors.log")
TIMEOUT = 300
TIMING = re.compile(r" in [0-9.]+ s \([0-9]+ lines/s\)")
SUMMARY = re.compile(r"iocwatch: (\d+) lines, (\d+) events, (\d+) malformed, "
                     r"(\d+) alerts \((\d+) correlation\)")


def scan(args, jobs, batch=None, stdin=None):
    if not os.access(CLI, os.X_OK):
        pytest.skip("CLI not built: %s" % CLI)
    env = dict(os.environ)
    env.pop("IOCWATCH_BATCH_LINES", None)
    if batch:
        env["IOCWATCH_BATCH_LINES"] = str(batch)
    p = subprocess.run([CLI, "scan", "--no-progress", "--jobs", str(jobs)] + args,
                       input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=TIMEOUT, check=False)
    err = TIMING.sub("", p.stderr.decode("utf-8", "replace"))
    return p.returncode, p.stdout, err


def counts(err):
    m = SUMMARY.search(err)
    assert m, err
    return dict(zip(("lines", "events", "malformed", "alerts", "corr"),
                    map(int, m.groups())))


def same_as_serial(args, batch=None, stdin=None):
    """Serial result; asserts --jobs 4 reproduces it exactly."""
    ref = scan(args, 1, stdin=stdin)
    for jobs in (4,):
        got = scan(args, jobs, batch=batch, stdin=stdin)
        assert got[0] == ref[0], "exit code, --jobs %d" % jobs
        assert got[1] == ref[1], "stdout differs, --jobs %d" % jobs
        assert got[2] == ref[2], "stderr differs, --jobs %d" % jobs
    return ref[0], ref[1], counts(ref[2]), ref[2]


def need(*paths):
    for p in paths:
        if not os.path.exists(p):
            pytest.skip("missing %s" % p)


@pytest.mark.parametrize("batch", [None, 3])
def test_crs_corpus_sigmahq(batch):
    need(CRS)
    rc, out, c, _ = same_as_serial(SIGMA_RULES + [CRS], batch=batch)
    assert rc == 0 and c["alerts"] > 0 and out.count(b"\n") == c["alerts"]


def test_crs_corpus_pack_with_correlation():
    """The shipped pack (its correlations fire on the CRS corpus)."""
    need(CRS)
    rc, out, c, _ = same_as_serial(PACK + [CRS], batch=5)
    assert rc == 0 and c["corr"] > 0
    assert out.count(b"\n") == c["alerts"]     # "N alerts" counts every line


def test_summary_mode():
    need(CRS)
    rc, out, c, _ = same_as_serial(SIGMA_RULES + CORR_RULES + ["--one-alert-per-request", CRS],
                                   batch=7)
    assert rc == 0 and c["alerts"] > 0 and b'"rules":[' in out
    assert out.count(b"\n") == c["alerts"]


def test_benign_log_many_batches():
    need(BENIGN)
    rc, _, c, _ = same_as_serial(SIGMA_RULES + CORR_RULES + [BENIGN, BENIGN, BENIGN])
    with open(BENIGN, "rb") as f:
        n = f.read().count(b"\n")
    assert rc == 0 and c["lines"] == c["events"] == 3 * n
    assert c["malformed"] == 0


def test_requests_and_error_log():
    need(REQUESTS, ERRORS)
    rc, out, c, _ = same_as_serial(SIGMA_RULES + [REQUESTS, ERRORS], batch=4)
    assert rc == 0 and c["alerts"] > 0
    assert b'"input":{"line":' in out


def test_error_log_alone():
    need(ERRORS)
    rc, _, c, _ = same_as_serial(SIGMA_RULES + ["--format", "error", ERRORS])
    assert rc == 0 and c["events"] > 0


def test_correlation_rules_across_batches():
    """corr_urgent & co. over access and error logs: the correlation alerts
    sit after their line's detection alerts in both modes."""
    need(BENIGN, ERRORS, CRS)
    rc, out, c, _ = same_as_serial(CORR_RULES + [ERRORS, BENIGN, CRS], batch=2)
    assert rc == 0 and c["corr"] > 0
    assert out.count(b'"correlation":{') == c["corr"]


def test_stdin():
    need(CRS)
    with open(CRS, "rb") as f:
        data = f.read()
    rc, out, c, _ = same_as_serial(SIGMA_RULES + ["-"], batch=16, stdin=data)
    assert rc == 0 and c["lines"] == data.count(b"\n") and out


@pytest.fixture(scope="module")
def mixed_log(tmp_path_factory):
    """Benign lines with CRLF endings, empty lines, lines no parser takes,
    an unrecognisable start, a 1.5 MiB and a 5 MiB line, no final newline.
    Returns (path, 1-based numbers of the malformed lines, number of the
    1.5 MiB line)."""
    need(BENIGN)
    with open(BENIGN, "rb") as f:
        benign = f.read().split(b"\n")[:3000]
    out = [b"garbage first line", b"", b"still not a log line"]
    bad = [1, 3]
    for i, line in enumerate(benign):
        out.append(line + (b"\r" if i % 7 == 0 else b""))
        if i % 97 == 5:
            out.append(b"not a combined line %d" % i)
            bad.append(len(out))
        if i == 1000:
            out.append(b"1.2.3.4 - - [" + b"x" * (1536 * 1024) + b"]")
            bad.append(len(out))
            long_line = len(out)
        if i == 2000:
            out.append(b"5.6.7.8 - - " + b"y" * (5 * 1024 * 1024))
            bad.append(len(out))
        if i == 2500:
            out.append(b"")
    path = tmp_path_factory.mktemp("scanpar") / "mixed.log"
    path.write_bytes(b"\n".join(out))
    return str(path), bad, long_line


@pytest.mark.parametrize("batch", [None, 5])
def test_malformed_lines(mixed_log, batch):
    path, bad, long_line = mixed_log
    rc, _, c, err = same_as_serial(CORR_RULES + [path], batch=batch)
    assert rc == 0
    assert c["malformed"] == len(bad)
    shown = [int(n) for n in re.findall(r"mixed\.log:(\d+): malformed line", err)]
    assert shown == bad[:20]
    assert "further malformed lines are only counted" in err
    assert "mixed.log:%d: malformed line: line too long" % long_line in err


def test_jobs_option_errors():
    if not os.access(CLI, os.X_OK):
        pytest.skip("CLI not built: %s" % CLI)
    for bad in ("0", "x", "65", "-1"):
        p = subprocess.run([CLI, "scan", "--jobs", bad, ERRORS], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=TIMEOUT, check=False)
        assert p.returncode == 2 and b"--jobs" in p.stderr
