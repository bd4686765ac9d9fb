# SPDX-License-Identifier: Apache-2.0
"""Plain-value databases (src/iw_match_plain.c) never change what is detected.

A value of plain bytes only (letters, digits, - . _ ~ / = & ? : + ,) is
scanned with a smaller database that leaves out the patterns and regex
branches that need another byte.  Every input is scanned with that (the
default) and with IOCWATCH_PLAIN_DB=0 (full databases for every value):
alerts and summaries must be byte-identical.  Besides the corpora, the
CRS and pack attack requests are replayed "plainified" (every other byte
dropped or replaced), so that many targets are plain and still close to
what the patterns look for.

    /usr/bin/python3 -m pytest tests/cli/test_plain_db.py
"""
import json
import os
import sys
import urllib.parse

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_scan_cache import CLI, INPUTS, check_switch_keeps_results, request_uris  # noqa: E402

PLAIN = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/=&?:+,")


def plainified(src, dst):
    """Each request of src three times: non-plain bytes of the (decoded)
    target dropped, replaced by '/', replaced by '='."""
    n = 0
    with open(dst, "w") as out:
        for r, uri in request_uris(src):
            raw = urllib.parse.unquote_to_bytes(uri)
            for rep in (b"", b"/", b"="):
                t = bytes(c for c in raw if c in PLAIN) if not rep else \
                    b"".join(bytes([c]) if c in PLAIN else rep for c in raw)
                if not t.startswith(b"/"):
                    t = b"/" + t
                out.write(json.dumps({"method": r.get("method", "GET"), "uri": t.decode(),
                                      "version": "HTTP/1.1",
                                      "headers": {"Host": "www.example.org"}}) + "\n")
                n += 1
    return n


def check_same(path, want_alerts=True):
    check_switch_keeps_results(path, "IOCWATCH_PLAIN_DB", "plain-value databases", want_alerts)


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_plain_db_never_changes_results(name):
    if not os.access(CLI, os.X_OK):
        pytest.skip("CLI not built: %s" % CLI)
    if not os.path.exists(INPUTS[name]):
        pytest.skip("missing %s" % INPUTS[name])
    check_same(INPUTS[name], want_alerts=name != "benign")


@pytest.mark.parametrize("name", ["crs", "pack-attacks", "pack-cases"])
def test_plain_db_on_plainified_attacks(name, tmp_path):
    if not os.access(CLI, os.X_OK):
        pytest.skip("CLI not built: %s" % CLI)
    if not os.path.exists(INPUTS[name]):
        pytest.skip("missing %s" % INPUTS[name])
    dst = str(tmp_path / "plain.jsonl")
    assert plainified(INPUTS[name], dst) > 30
    check_same(dst)
