#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Write docs/man/iocwatch.conf.5 (the module's directives) from the directive
table of docs/MODULE.md, so the man page says what the documentation says.

    /usr/bin/python3 tools/gen-man.py          # rewrite the page
    /usr/bin/python3 tools/gen-man.py --check  # exit 1 when it is out of date
    /usr/bin/python3 tools/gen-man.py --stdout # print it

The page is committed (for builds without Python); tools/install.sh (make
install, make deb) installs a freshly generated one when Python is there.
tests/package/test_install.py checks that it names every directive of the
module's command table."""
import os
import re
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(REPO, "docs", "MODULE.md")
OUT = os.path.join(REPO, "docs", "man", "iocwatch.conf.5")


def roff(text):
    """Markdown cell -> roff: `code` bold, escapes, no leading dot."""
    text = text.replace("\\|", "|").replace("\\", "\\e")
    text = re.sub(r"`([^`]*)`", lambda m: "\\fB" + m.group(1) + "\\fR", text)
    text = text.replace("-", "\\-")
    return text


def directives():
    with open(SRC) as f:
        md = f.read()
    sec = md.split("\n## Directives", 1)[1].split("\n### ", 1)[0]
    rows = []
    for ln in sec.splitlines():
        if not ln.startswith("| `IocWatch"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", ln.strip().strip("|"))]
        rows.append(cells[:4])
    return rows


def page():
    with open(os.path.join(REPO, "VERSION")) as f:
        version = f.read().strip()
    out = [
        '.TH IOCWATCH.CONF 5 "" "iocwatch %s" "mod_iocwatch"' % version,
        ".SH NAME",
        "iocwatch.conf \\- mod_iocwatch directives (Apache httpd)",
        ".SH SYNOPSIS",
        ".B /etc/apache2/mods-available/iocwatch.conf",
        ".br",
        ".B a2enmod iocwatch",
        ".SH DESCRIPTION",
        "mod_iocwatch checks every finished request and every error\\-log entry against",
        "Sigma rules and sends one ECS JSON alert per match to syslog.",
        "The Debian package enables it with the defaults of",
        ".IR /etc/apache2/mods-available/iocwatch.conf :",
        "the shipped pack",
        ".I /usr/share/iocwatch/rules",
        "(replaced on upgrade) and the administrator's own rules in",
        ".IR /etc/iocwatch/rules ,",
        "alerts to",
        ".I /dev/log",
        "and, through",
        ".IR /etc/rsyslog.d/30-iocwatch.conf ,",
        "to",
        ".I /var/log/iocwatch/alerts.json",
        "(group adm).",
        "Values are checked when the configuration is read:",
        ".B apachectl configtest",
        "names the file and line of a bad value or a broken rule.",
        "None of the directives is allowed in .htaccess files.",
        "Reload with",
        ".B apachectl graceful",
        "(it runs configtest first).",
        ".SH DIRECTIVES",
    ]
    for name, ctx, default, meaning in directives():
        out += [".TP", roff(name), roff(meaning),
                ".br", "Context: %s. Default: %s." % (roff(ctx), roff(default))]
    out += [
        ".SH FILES",
        ".TP", ".I /usr/lib/apache2/modules/mod_iocwatch.so", "the module",
        ".TP", ".I /usr/share/iocwatch/rules", "the shipped rule pack (do not edit)",
        ".TP", ".I /etc/iocwatch/rules", "local rules (kept on upgrade and removal)",
        ".TP", ".I /var/log/iocwatch/alerts.json", "the alerts, one JSON object per line",
        ".TP", ".I /usr/share/doc/iocwatch/", "MODULE.md (everything about the module), "
        "ALERTS.md (reading alerts), PACK.md (the pack, local rules)",
        ".SH SEE ALSO",
        ".BR iocwatch (1),",
        ".BR apache2ctl (8),",
        ".BR rsyslogd (8)",
    ]
    return "\n".join(ln if not ln.startswith(("'",)) else "\\&" + ln for ln in out) + "\n"


def main():
    text = page()
    if "--stdout" in sys.argv:
        sys.stdout.write(text)
        return 0
    if "--check" in sys.argv:
        with open(OUT) as f:
            if f.read() != text:
                print("docs/man/iocwatch.conf.5 is out of date: run tools/gen-man.py")
                return 1
        return 0
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
