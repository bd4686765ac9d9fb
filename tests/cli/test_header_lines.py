# SPDX-License-Identifier: Apache-2.0
"""Header blocks scanned line by line (src/iw_engine_lines.c) never change
what is detected.

Every input is scanned with the header-lines plan (the default) and with
IOCWATCH_HEADER_LINES=0 (the whole block through the field's database):
alerts and summaries must be byte-identical.  Besides the corpora, the CRS
and pack attack requests are replayed with their (decoded) target moved
into headers: whole, and split in two where the second half becomes the
next header's name, so that a match can span two header lines.

    /usr/bin/python3 -m pytest tests/cli/test_header_lines.py
"""
import json
import os
import sys
import urllib.parse

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_scan_cache import CLI, INPUTS, check_switch_keeps_results, request_uris  # noqa: E402


def headerified(src, dst):
    """Each request of src twice with its decoded target in headers: in one
    header, and split at a blank (or the middle) into a header value and
    the next header's name."""
    n = 0
    with open(dst, "w") as out:
        for _, uri in request_uris(src):
            if len(uri) < 4:
                continue
            t = urllib.parse.unquote(uri, errors="replace").replace("\n", " ").replace("\r", " ")
            cut = t.find(" ", 1)
            cut = cut if 0 < cut < len(t) - 1 else len(t) // 2
            for hdrs in ({"Host": "www.example.org", "X-Payload": t, "Accept": "*/*"},
                         {"Host": "www.example.org", "X-Payload": t[:cut],
                          t[cut:].strip() or "x": "1", "Accept": "*/*"}):
                out.write(json.dumps({"method": "GET", "uri": "/", "version": "HTTP/1.1",
                                      "headers": hdrs}) + "\n")
                n += 1
    return n


def check_same(path, want_alerts=True):
    check_switch_keeps_results(path, "IOCWATCH_HEADER_LINES", "header lines", want_alerts)


@pytest.mark.parametrize("name", ["crs", "pack-cases", "benign"])
def test_header_lines_never_change_results(name):
    if not os.access(CLI, os.X_OK):
        pytest.skip("CLI not built: %s" % CLI)
    if not os.path.exists(INPUTS[name]):
        pytest.skip("missing %s" % INPUTS[name])
    check_same(INPUTS[name], want_alerts=name != "benign")


@pytest.mark.parametrize("name", ["crs", "pack-attacks"])
def test_header_lines_on_payloads_in_headers(name, tmp_path):
    if not os.access(CLI, os.X_OK):
        pytest.skip("CLI not built: %s" % CLI)
    if not os.path.exists(INPUTS[name]):
        pytest.skip("missing %s" % INPUTS[name])
    dst = str(tmp_path / "headers.jsonl")
    assert headerified(INPUTS[name], dst) > 30
    check_same(dst)
