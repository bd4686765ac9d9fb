#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Instructions per rendered alert (make bench; callgrind, deterministic).

`iocwatch scan --jobs 1 --format jsonl` over the first N requests of
corpus/crs-requests.jsonl (bench_instr's attack traffic) with the SigmaHQ
web rules + conf/rules, under callgrind with collection switched on only
inside iw_alert_json (--toggle-collect): everything that renders an
alert (the rule's sections, the event's members, the message line, JSON
escaping) and nothing else.  That total over the alerts printed is the
cost of one alert; the functions it goes to follow.  The rule databases
are compiled for valgrind's CPU model once (--tool=none, the host's
compiled databases do not apply under valgrind) into
build/bench-vg-hscache-cli.

    IW_ALERT_REQUESTS=1000 /usr/bin/python3 tools/bench_alert.py
"""
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("IW_SHARED", os.path.join(os.path.dirname(REPO), "shared"))
CLI = os.environ.get("IW_CLI", os.path.join(REPO, "build", "iocwatch"))
CACHE = os.path.join(REPO, "build", "bench-vg-hscache-cli")
N = int(os.environ.get("IW_ALERT_REQUESTS", "1000"))
TOGGLE = "iw_alert_json"       # what the CLI calls per alert


def rules():
    sigma = os.path.join(SHARED, "sigma", "sigmahq-rules")
    return ["--rules", os.path.join(sigma, "rules"),
            "--rules", os.path.join(sigma, "rules-emerging-threats"),
            "--rules", os.path.join(REPO, "conf", "rules")]


def totals(path):
    """callgrind's Ir total (summary line) of one output file."""
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("no callgrind total in %s" % path)


def top(path, n=12):
    """The functions the counted instructions go to (self cost)."""
    r = subprocess.run(["callgrind_annotate", path], capture_output=True, text=True)
    rows = []
    for line in r.stdout.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(\S+)", line)
        if m and "PROGRAM TOTALS" not in line:
            rows.append((int(m.group(1).replace(",", "")), m.group(2)))
    return rows[:n]


def main():
    log = os.path.join(SHARED, "corpus", "crs-requests.jsonl")
    os.makedirs(CACHE, mode=0o700, exist_ok=True)
    env = dict(os.environ, IOCWATCH_CACHE_DIR=CACHE)
    with tempfile.TemporaryDirectory(prefix="iw-bench-alert-") as d:
        inp = os.path.join(d, "attack.jsonl")
        with open(log) as src, open(inp, "w") as dst:
            for i, line in enumerate(src):
                if i >= N:
                    break
                dst.write(line)
        subprocess.run(["valgrind", "--tool=none", "--quiet", CLI, "check"] + rules(),
                       env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        out = os.path.join(d, "cg.out")
        alerts = os.path.join(d, "alerts.json")
        with open(alerts, "w") as fh:
            subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                            "--toggle-collect=" + TOGGLE, CLI, "scan", "--no-progress",
                            "--jobs", "1", "--format", "jsonl"] + rules() + [inp],
                           env=env, stdout=fh, stderr=subprocess.DEVNULL, check=True)
        with open(alerts) as fh:
            na = sum(1 for line in fh if line.startswith("{"))
        ir = totals(out)
        if not na:
            print("no alerts")
            return 1
        print("alert rendering (%s, callgrind): %d requests, %d alerts, %s instructions: "
              "%s per alert (target <= 5,000)" % (TOGGLE, N, na, format(ir, ","),
                                                  format(ir // na, ",")))
        for cost, fn in top(out):
            print("  %8s per alert  %s" % (format(cost // na, ","), fn))
    return 0


if __name__ == "__main__":
    sys.exit(main())
