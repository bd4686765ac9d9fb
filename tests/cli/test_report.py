# SPDX-License-Identifier: Apache-2.0
"""`iocwatch report`: counts by level, rule, client and target, new clients,
correlation incidents and busiest minutes over alerts rendered by the
module's own renderer (`iocwatch scan`), for --since / --from / --to, from
several files, stdin and .gz; malformed lines named; text, JSON, and HTML
checked in a real headless Chromium (rendered to PNG: the timeline's level
colours are drawn, no console message, nothing fetched)."""

import datetime
import gzip
import json
import os
import shutil
import struct
import subprocess
import zlib

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CLI = os.environ.get("IW_CLI", os.path.join(REPO, "build", "iocwatch"))
RULES = os.path.join(REPO, "tests", "integration", "rules")
CHROMIUM = os.environ.get("IW_CHROMIUM", "/usr/bin/chromium")
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def clf(ip, t, target, ua="x", status=404):
    return '%s - - [%s] "GET %s HTTP/1.1" %d 1 "-" "%s"\n' % (
        ip, t.strftime("%d/%b/%Y:%H:%M:%S +0000"), target, status, ua)


def scan(lines, rules):
    r = subprocess.run([CLI, "scan", "--rules", os.path.join(RULES, rules), "-"],
                       input="".join(lines), capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 1), r.stderr
    return [l for l in r.stdout.splitlines() if l.startswith("{")]


@pytest.fixture(scope="module")
def alerts(tmp_path_factory):
    """old.json: 10.0.0.7 two days ago.  new.json (last 24 h): 10.0.0.7
    again (not new), a burst of 5 from 10.0.0.20 in one minute (new), a low
    alert of 10.0.0.8 (new), a correlation incident of 10.0.0.9; syslog
    framing on one line, two lines that are no alert."""
    d = tmp_path_factory.mktemp("report")
    old_t = NOW - datetime.timedelta(days=2)
    # on a minute boundary: the burst (seconds 0-4 after t + 1 h) must fall in
    # one minute whatever the time of the run
    t = (NOW - datetime.timedelta(hours=3)).replace(second=0)
    old = scan([clf("10.0.0.7", old_t, "/x?q=iwattack-a")], "basic.yml")
    new = scan([clf("10.0.0.7", t, "/x?q=iwattack-a"),
                clf("10.0.0.8", t + datetime.timedelta(minutes=5), "/iwpath-c/")] +
               [clf("10.0.0.20", t + datetime.timedelta(hours=1, seconds=i), "/x?q=iwattack-a&i=%d" % i,
                    ua="iwscanner-b") for i in range(5)], "basic.yml")
    corr = [l for l in scan([clf("10.0.0.9", t + datetime.timedelta(hours=2, seconds=i), "/n%d" % i)
                             for i in range(5)], "corr_urgent.yml") if '"correlation"' in l]
    assert len(old) == 1 and len(new) == 12 and len(corr) == 1
    (d / "old.json").write_text(old[0] + "\n")
    new[3] = "<133>Dec  6 10:00:00 www iocwatch: " + new[3]      # as raw syslog
    (d / "new.json").write_text("\n".join(new + corr + ["not an alert", '{"broken":']) + "\n")
    with gzip.open(d / "new.json.gz", "wt") as f:
        f.write((d / "new.json").read_text())
    return d


def report(*args, stdin=None):
    r = subprocess.run([CLI, "report"] + [str(a) for a in args], capture_output=True,
                       text=True, timeout=60, input=stdin)
    return r


def test_json_counts(alerts):
    r = report("--since", "24h", "--format", "json", alerts / "old.json", alerts / "new.json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    # A high x6 (7, 20 x5), B medium x5 (20), C low x1 (8), correlation high x1
    assert j["alerts"] == 13
    assert j["levels"] == {"critical": 0, "high": 7, "medium": 5, "low": 1,
                           "informational": 0, "other": 0}
    rules = {x["key"]: x["alerts"] for x in j["by_rule"]}
    assert rules == {"7b0c5a55-0000-4000-8000-00000000000a": 6,
                     "7b0c5a55-0000-4000-8000-00000000000b": 5,
                     "7b0c5a55-0000-4000-8000-00000000000c": 1,
                     "3c0e1a00-0000-4000-8000-000000000050": 1}
    clients = {x["key"]: x["alerts"] for x in j["by_client"]}
    assert clients == {"10.0.0.20": 10, "10.0.0.7": 1, "10.0.0.8": 1, "10.0.0.9": 1}
    assert j["by_client"][0]["key"] == "10.0.0.20"
    # 10.0.0.7 was seen two days ago: not new
    assert [x["client"] for x in j["new_client_list"]] == ["10.0.0.8", "10.0.0.20", "10.0.0.9"]
    assert j["new_clients"] == 3
    assert j["correlation_incidents"] == 1
    inc = j["incidents"][0]
    assert inc["group"] == "c-ip=10.0.0.9" and inc["count"] == 5 and inc["level"] == "high"
    assert j["busiest_minutes"][0]["alerts"] == 10          # the burst's minute
    assert sum(x["alerts"] for x in j["by_target"]) == 13
    assert j["input"] == {"files": 2, "lines": 16, "not_alerts": 2}
    assert "new.json:14: no JSON object" in r.stderr
    assert "new.json:15: malformed JSON" in r.stderr


def test_ranges_stdin_and_gz(alerts):
    whole = report("--format", "json", alerts / "old.json", alerts / "new.json")
    assert json.loads(whole.stdout)["alerts"] == 14        # open range: all
    frm = (NOW - datetime.timedelta(hours=2, minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    to = (NOW - datetime.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    r = report("--from", frm, "--to", to, "--format", "json", alerts / "new.json")
    j = json.loads(r.stdout)
    assert j["alerts"] == 11                            # the burst and the incident
    assert {x["key"] for x in j["by_client"]} == {"10.0.0.20", "10.0.0.9"}
    gz = report("--since", "24h", "--format", "json", alerts / "old.json", alerts / "new.json.gz")
    plain = report("--since", "24h", "--format", "json", alerts / "old.json", alerts / "new.json")
    assert gz.returncode == 0, gz.stderr
    assert json.loads(gz.stdout)["by_rule"] == json.loads(plain.stdout)["by_rule"]
    st = report("--since", "24h", "--format", "json", "-",
                stdin=(alerts / "new.json").read_text())
    assert json.loads(st.stdout)["alerts"] == 13


def test_text_and_errors(alerts, tmp_path):
    r = report("--since", "1d", alerts / "old.json", alerts / "new.json")
    assert r.returncode == 0
    out = r.stdout
    assert "alerts: 13 (critical 0, high 7, medium 5, low 1" in out
    assert "IW test A - marker in the query (7b0c5a55-0000-4000-8000-00000000000a)" in out
    assert "10.0.0.20 (new)" in out and "10.0.0.7 (new)" not in out
    assert "c-ip=10.0.0.9" in out
    for section in ("Top rules", "Top clients", "Targets", "New clients",
                    "Correlation incidents", "Busiest minutes"):
        assert section in out
    bad = report("--since", "24x", alerts / "new.json")
    assert bad.returncode == 2 and "--since wants N[smhdw]" in bad.stderr
    bad = report("--from", "yesterday", alerts / "new.json")
    assert bad.returncode == 2 and "--from: not a time" in bad.stderr
    missing = report(tmp_path / "nope.json")
    assert missing.returncode == 1 and "nope.json" in missing.stderr
    notgz = tmp_path / "x.json.gz"
    notgz.write_text("plain\n")
    r = report(notgz)
    assert r.returncode == 1 and "gzip -dc failed" in r.stderr


def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of an 8-bit non-interlaced PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if typ == b"IHDR":
            w, h, depth, ctype, _, _, inter = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and inter == 0
            bpp = 3 if ctype == 2 else 4
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return w, h, bpp, rows


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="chromium not installed")
def test_html_renders_in_chromium(alerts, tmp_path):
    r = report("--since", "24h", "--format", "html", alerts / "old.json", alerts / "new.json")
    assert r.returncode == 0
    html = r.stdout
    page = tmp_path / "report.html"
    page.write_text(html)
    # self-contained: no script, no external reference (the CSP forbids any)
    low = html.lower()
    assert "<script" not in low and "src=" not in low and "href=" not in low
    assert "url(" not in low and "@import" not in low
    assert "<svg" in html and 'class="lv-high"' in html and 'class="lv-medium"' in html
    assert "default-src 'none'" in html
    png = tmp_path / "report.png"
    profile = tmp_path / "profile"
    c = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        "--user-data-dir=%s" % profile, "--enable-logging=stderr", "--v=0",
                        "--window-size=1100,1400", "--screenshot=%s" % png, page.as_uri()],
                       capture_output=True, text=True, timeout=90)
    assert png.exists() and png.stat().st_size > 5000, c.stderr[-2000:]
    # console messages (errors, CSP violations of a fetch) are logged as CONSOLE
    assert "CONSOLE" not in c.stderr, [l for l in c.stderr.splitlines() if "CONSOLE" in l]
    w, h, bpp, rows = png_pixels(str(png))
    colours = set()
    for row in rows[::2]:
        for x in range(0, w * bpp, bpp * 2):
            colours.add(row[x:x + 3])
    # the timeline's bars of each level in range (high, medium, low)
    for hexc in ("d7301f", "fc8d59", "fdcc8a"):
        assert bytes.fromhex(hexc) in colours, hexc
    shutil.rmtree(profile, ignore_errors=True)
