# SPDX-License-Identifier: Apache-2.0
"""`iocwatch check` reports every rule error with file:line, including the
limits that only the correlation program knows (rules per correlation)."""
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CLI = os.environ.get("IW_CLI", os.path.join(REPO, "build", "iocwatch"))


def feeder(i):
    return ("title: feeder %d\nid: 0f0f0f0f-0000-4000-8000-%012d\nname: f%d\n"
            "logsource:\n    category: webserver\ndetection:\n    sel:\n"
            "        cs-uri-stem: '/x%d'\n    condition: sel\nlevel: low\n" % (i, i, i, i))


def correlation(n):
    refs = ", ".join("f%d" % i for i in range(n))
    return ("title: wide\nid: 0f0f0f0f-0000-4000-9000-000000000001\ncorrelation:\n"
            "    type: event_count\n    rules: [%s]\n    group-by: [c-ip]\n"
            "    timespan: 60s\n    condition:\n        gte: 5\nlevel: high\n" % refs)


def run_check(tmp_path, n):
    path = tmp_path / "wide.yml"
    path.write_text("---\n".join([feeder(i) for i in range(n)] + [correlation(n)]))
    return subprocess.run([CLI, "check", str(path)], capture_output=True, text=True), path


def test_check_accepts_a_correlation_within_limits(tmp_path):
    r, _ = run_check(tmp_path, 32)
    assert r.returncode == 0, r.stderr
    assert "33 rule(s) OK" in r.stderr


def test_check_refuses_too_wide_correlation_with_location(tmp_path):
    r, path = run_check(tmp_path, 33)
    assert r.returncode == 1
    assert "%s:" % path in r.stderr
    assert "rule 0f0f0f0f-0000-4000-9000-000000000001" in r.stderr
    assert "33 referenced rules" in r.stderr
