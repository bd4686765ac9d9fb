#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A deliberately small, independent Sigma evaluator for the SigmaHQ
webserver/apache rules, used to cross-check the C engine (differential
testing) and to validate tests/sigmahq data before the engine exists.

It implements only what the 88 SigmaHQ rules use, with the field semantics
documented in docs/SIGMAHQ.md:
  * string compare is case-insensitive; '*' and '?' are wildcards, '\\'
    escapes them; contains/startswith/endswith/all/re modifiers;
  * items on cs-uri-stem / cs-uri-query match the raw stem, the raw query or
    the full raw target (iw_field_slots); `null` tests the field itself;
  * keyword lists match `_raw` = "METHOD target VERSION STATUS\\n" + every
    header "Name: value\\n" (access) or the message (error);
  * numbers compare as their decimal text.

Usage: oracle.py [--rules DIR]... FILE.jsonl|FILE.log --format jsonl|error|combined
prints "<input id or line>\\t<rule id>" for every hit.
"""
import argparse
import json
import os
import re
import sys

import yaml

HDR_FIELDS = {"cs-user-agent": "user-agent", "cs-referer": "referer",
              "cs-cookie": "cookie", "cs-host": "host",
              "cs-content-type": "content-type"}
URI_FIELDS = ("cs-uri-stem", "cs-uri-query")


def load_rules(dirs):
    rules = []
    for top in dirs:
        for d, _, files in os.walk(top):
            for f in sorted(files):
                if f.endswith(".yml"):
                    with open(os.path.join(d, f), encoding="utf-8") as fh:
                        rules.append(yaml.safe_load(fh))
    return rules


# ------------------------------------------------------------- matching --
def wildcard_re(value, anchor_start, anchor_end):
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value) and value[i + 1] in "*?\\":
            out.append(re.escape(value[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    pat = "".join(out)
    return re.compile(("^" if anchor_start else "") + pat +
                      ("$" if anchor_end else ""), re.I | re.S)


def match_value(text, value, mods):
    if text is None:
        return False
    if "re" in mods:
        return re.search(value, text, re.S) is not None
    value = str(value)
    if "contains" in mods:
        return wildcard_re(value, False, False).search(text) is not None
    if "startswith" in mods:
        return wildcard_re(value, True, False).search(text) is not None
    if "endswith" in mods:
        return wildcard_re(value, False, True).search(text) is not None
    return wildcard_re(value, True, True).search(text) is not None


def field_texts(ev, field):
    if field in URI_FIELDS:
        return [t for t in (ev["stem"], ev["query"], ev["target"])
                if t is not None]
    return [ev["fields"].get(field)]


def match_item(ev, key, values):
    parts = key.split("|")
    field, mods = parts[0], parts[1:]
    if not isinstance(values, list):
        values = [values]
    if values == [None]:
        if field in URI_FIELDS:
            raw = ev["query"] if field == "cs-uri-query" else ev["stem"]
            return raw is None or raw == ""
        return ev["fields"].get(field) in (None, "")
    texts = field_texts(ev, field)

    def one(v):
        return any(match_value(t, v, mods) for t in texts)
    return all(one(v) for v in values) if "all" in mods else \
        any(one(v) for v in values)


def match_search(ev, search):
    if isinstance(search, dict):
        if set(search) == {"|all"}:
            return all(match_value(ev["raw"], v, ["contains"])
                       for v in search["|all"])
        return all(match_item(ev, k, v) for k, v in search.items())
    if isinstance(search, list):
        if all(isinstance(x, dict) for x in search):
            return any(match_search(ev, x) for x in search)
        return any(match_value(ev["raw"], v, ["contains"]) for v in search)
    return match_value(ev["raw"], search, ["contains"])


# ------------------------------------------------------------ condition --
def tokenize(cond):
    return re.findall(r"\(|\)|[^\s()]+", cond)


def eval_cond(cond, results):
    toks = tokenize(cond)
    pos = [0]

    def peek():
        return toks[pos[0]].lower() if pos[0] < len(toks) else None

    def take():
        pos[0] += 1
        return toks[pos[0] - 1]

    def names(pat):
        if pat == "them":
            return list(results)
        rx = re.compile("^" + re.escape(pat).replace("\\*", ".*") + "$")
        return [n for n in results if rx.match(n)]

    def primary():
        t = peek()
        if t == "(":
            take()
            v = expr()
            take()
            return v
        if t == "not":
            take()
            return not primary()
        if t in ("1", "all", "any"):
            q = take().lower()
            take()  # of
            ns = names(take())
            vals = [results[n] for n in ns]
            return all(vals) if q == "all" else any(vals)
        return results[take()]

    def conj():
        v = primary()
        while peek() == "and":
            take()
            v = primary() and v
        return v

    def expr():
        v = conj()
        while peek() == "or":
            take()
            v = conj() or v
        return v
    return expr()


def fires(rule, ev):
    ls = rule.get("logsource", {})
    want = "error" if ls.get("service") == "apache" else "access"
    if ev["type"] != want:
        return False
    det = rule["detection"]
    results = {k: match_search(ev, v) for k, v in det.items()
               if k != "condition"}
    return eval_cond(det["condition"], results)


# ----------------------------------------------------------------- input --
def access_event(method, target, version, status, headers, username=None):
    stem, _, query = target.partition("?")
    has_q = "?" in target
    hl = {k.lower(): v for k, v in headers.items()}
    fields = {"cs-method": method, "sc-status": str(status),
              "cs-version": version, "cs-username": username}
    for f, h in HDR_FIELDS.items():
        fields[f] = hl.get(h)
    raw = "%s %s %s %s\n" % (method, target, version, status)
    raw += "".join("%s: %s\n" % (k, v) for k, v in headers.items())
    return {"type": "access", "stem": stem, "query": query if has_q else None,
            "target": target, "fields": fields, "raw": raw}


QUOTED = r'"((?:[^"\\]|\\.)*)"'
CLF = re.compile(r'^(\S+) \S+ (\S+) \[[^\]]+\] ' + QUOTED + r' (\d{3}) \S+'
                 r'(?: ' + QUOTED + ' ' + QUOTED + ')?')


def log_unescape(s):
    """Undo httpd's ap_escape_logitem: \\" \\\\ \\xhh \\n \\t ..."""
    def one(m):
        c = m.group(1)
        if c.startswith("x"):
            return chr(int(c[1:], 16))
        return {"n": "\n", "t": "\t", "r": "\r", "b": "\b",
                "v": "\v"}.get(c, c)
    return re.sub(r"\\(x[0-9a-fA-F]{2}|.)", one, s)


def read_events(path, fmt):
    with open(path, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not line.strip() or (fmt != "jsonl" and line.startswith("#")):
                continue
            if fmt == "jsonl":
                o = json.loads(line)
                yield o["id"], access_event(o["method"], o["uri"],
                                            o.get("version", "HTTP/1.1"),
                                            o.get("status", 0),
                                            o.get("headers", {}),
                                            o.get("user"))
            elif fmt == "combined":
                m = CLF.match(line)
                if not m:
                    continue
                user = None if m.group(2) == "-" else log_unescape(m.group(2))
                method, target, version = \
                    (log_unescape(m.group(3)).split(" ") + ["", ""])[:3]
                h = {}
                if m.group(5) not in (None, "-"):
                    h["Referer"] = log_unescape(m.group(5))
                if m.group(6) not in (None, "-"):
                    h["User-Agent"] = log_unescape(m.group(6))
                yield str(n), access_event(method, target, version,
                                           m.group(4), h, user)
            else:
                msg = re.sub(r"^(\[[^\]]*\] )+", "", line)
                yield str(n), {"type": "error", "raw": msg, "fields": {},
                               "stem": None, "query": None, "target": None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rules", action="append", required=True)
    ap.add_argument("--format", default="jsonl")
    ap.add_argument("file")
    a = ap.parse_args()
    rules = load_rules(a.rules)
    for key, ev in read_events(a.file, a.format):
        for r in rules:
            if fires(r, ev):
                print("%s\t%s" % (key, r["id"]))


if __name__ == "__main__":
    sys.exit(main())
