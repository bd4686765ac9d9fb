# SPDX-License-Identifier: Apache-2.0
"""What an admin sees from `iocwatch`: --version, the summary's alert count
equals the alert lines printed (correlation alerts included), the
one-alert-per-request option under its own name (the old --summary still
works, with a warning), gzip logs read like plain ones, a truncated .gz is a
read error, the progress line never cuts the file name, and `check` says
what its rule count is made of.  Run:

    /usr/bin/python3 -m pytest tests/cli/test_usability.py
"""
import gzip
import os
import re
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CLI = os.environ.get("IW_CLI", os.path.join(REPO, "build", "iocwatch"))
PACK = os.path.join(REPO, "conf", "rules")
CORR_INPUT = os.path.join(REPO, "tests", "pack", "correlation.jsonl")
ATTACKS = os.path.join(REPO, "tests", "pack", "attacks.jsonl")
SUMMARY = re.compile(r"iocwatch: (\d+) lines, (\d+) events, (\d+) malformed, "
                     r"(\d+) alerts \((\d+) correlation\)")


def run(args, **kw):
    if not os.access(CLI, os.X_OK):
        pytest.skip("CLI not built: %s" % CLI)
    return subprocess.run([CLI] + args, capture_output=True, timeout=120, **kw)


def scan(*args):
    r = run(["scan", "--rules", PACK, "--no-progress", "--jobs", "1"] + list(args))
    err = r.stderr.decode()
    m = SUMMARY.search(err)
    assert m, err
    return r, int(m.group(4)), int(m.group(5))


def test_version():
    r = run(["--version"])
    assert r.returncode == 0
    with open(os.path.join(REPO, "VERSION")) as f:
        version = f.read().strip()
    assert r.stdout.decode().startswith("iocwatch %s (Vectorscan " % version)


def test_summary_counts_every_alert_printed():
    """The correlation input fires detection and correlation alerts: the
    summary's "N alerts" is the number of lines on stdout (it used to leave
    the correlation alerts out: 9 printed as "9 alerts (13 correlation)"
    for 22 lines)."""
    r, alerts, corr = scan(CORR_INPUT)
    assert r.returncode == 0
    assert corr > 0
    assert alerts == r.stdout.count(b"\n")
    assert r.stdout.count(b'"correlation":{') == corr


def test_one_alert_per_request_and_deprecated_alias():
    new, n_new, _ = scan("--one-alert-per-request", ATTACKS)
    old, n_old, _ = scan("--summary", ATTACKS)
    per_rule, n_rule, _ = scan(ATTACKS)
    assert new.stdout == old.stdout and n_new == n_old
    assert b"--summary is deprecated, use --one-alert-per-request" in old.stderr
    assert b"deprecated" not in new.stderr
    assert n_new == new.stdout.count(b"\n") < n_rule == per_rule.stdout.count(b"\n")
    assert b"requests  rule" in new.stderr and b"alerts  rule" in per_rule.stderr


def test_gzip_log_reads_like_plain(tmp_path):
    gz = tmp_path / "access.log.2.gz"
    with open(CORR_INPUT, "rb") as f:
        gz.write_bytes(gzip.compress(f.read()))
    plain, n_plain, _ = scan(CORR_INPUT)
    zipped, n_zip, _ = scan(str(gz))
    assert zipped.returncode == 0, zipped.stderr
    assert b"malformed line" not in zipped.stderr
    assert zipped.stdout == plain.stdout and n_zip == n_plain > 0


def test_truncated_gzip_is_a_read_error(tmp_path):
    gz = tmp_path / "cut.log.gz"
    with open(ATTACKS, "rb") as f:
        gz.write_bytes(gzip.compress(f.read())[:400])
    r = run(["scan", "--rules", PACK, "--no-progress", str(gz)])
    assert r.returncode == 1
    assert ("iocwatch: %s: read error after line" % gz).encode() in r.stderr
    assert b"unexpected end of file" in r.stderr


def test_progress_keeps_the_whole_file_name(tmp_path):
    d = tmp_path / ("a-directory-with-a-rather-long-name-" * 2)
    d.mkdir()
    log = d / "access.log.with-a-long-suffix"
    with open(ATTACKS, "rb") as f:
        log.write_bytes(f.read())
    r = run(["scan", "--rules", PACK, "--progress", str(log)])
    assert r.returncode == 0
    err = r.stderr.decode()
    assert str(log) + "\n" in err                  # whole, on its own line
    assert re.search(r"\[#{25}\] 100% \d+ lines \d+ alerts", err)


def test_check_explains_its_rule_count():
    r = run(["check", PACK])
    assert r.returncode == 0
    m = re.search(r"iocwatch: (\d+) rule\(s\) OK \(\1 rules: (\d+) detection, "
                  r"(\d+) correlation, (\d+) filters?\)", r.stderr.decode())
    assert m, r.stderr
    total, det, corr, filt = map(int, m.groups())
    assert total == det + corr + filt and corr > 0
    n_yml = 0
    for root, _, files in os.walk(PACK):
        for name in files:
            if name.endswith((".yml", ".yaml")):
                with open(os.path.join(root, name)) as f:
                    n_yml += sum(1 for ln in f if ln.startswith("title:"))
    assert total == n_yml
