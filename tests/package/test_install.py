# SPDX-License-Identifier: Apache-2.0
"""`make install` / `make uninstall` (tools/install.sh) into a scratch
DESTDIR: a reinstall never overwrites an edited configuration file (the new
one goes next to it as .iocwatch-new) and replaces the shipped pack whole;
uninstall removes everything it installed but the edited configuration file
and the admin's own rules.  Also: the man page of the directives,
generated from docs/MODULE.md, names every directive of the module."""
import os
import re
import subprocess

import pytest

from podman_util import REPO

CONF = "etc/apache2/mods-available/iocwatch.conf"


def run(mode, dest):
    env = dict(os.environ, DESTDIR=dest, PREFIX="/usr/local")
    r = subprocess.run(["sh", os.path.join(REPO, "tools", "install.sh"), mode],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def files(dest):
    out = set()
    for root, _, names in os.walk(dest):
        for n in names:
            out.add(os.path.relpath(os.path.join(root, n), dest))
    return out


@pytest.fixture
def dest(tmp_path):
    for f in ("mod_iocwatch.so", "iocwatch"):
        if not os.path.exists(os.path.join(REPO, "build", f)):
            pytest.skip("not built")
    return str(tmp_path / "root")


def test_reinstall_keeps_edits_and_uninstall_removes_the_rest(dest):
    run("install", dest)
    conf = os.path.join(dest, CONF)
    with open(conf) as f:
        text = f.read()
    assert "IocWatchRules /usr/local/share/iocwatch/rules /etc/iocwatch/rules" in text
    pack = os.path.join(dest, "usr/local/share/iocwatch/rules")
    assert os.path.isdir(os.path.join(pack, "correlation"))
    assert os.path.exists(os.path.join(dest, "usr/local/share/man/man5/iocwatch.conf.5.gz"))
    assert os.path.exists(os.path.join(dest, "usr/local/share/doc/iocwatch/ALERTS.md"))
    # an unedited file is simply updated; an edited one is kept
    route = os.path.join(dest, "etc/rsyslog.d/30-iocwatch.conf")
    with open(conf, "a") as f:
        f.write("IocWatchExcludeRule my-noisy-rule\n")
    stale = os.path.join(pack, "stale-upstream-rule.yml")      # gone upstream
    with open(stale, "w") as f:
        f.write("title: old\n")
    local = os.path.join(dest, "etc/iocwatch/rules/mine.yml")
    with open(local, "w") as f:
        f.write("title: mine\n")
    out = run("install", dest)
    assert "kept your /%s" % CONF in out
    with open(conf) as f:
        assert "IocWatchExcludeRule my-noisy-rule" in f.read()
    assert os.path.exists(conf + ".iocwatch-new")
    assert not os.path.exists(route + ".iocwatch-new")
    assert not os.path.exists(stale)
    assert os.path.exists(local)
    out = run("uninstall", dest)
    assert "kept /%s (edited)" % CONF in out
    assert files(dest) == {CONF, "etc/iocwatch/rules/mine.yml"}


def test_old_pack_copy_in_etc_is_removed(dest):
    """An earlier `make install` copied the pack into /etc/iocwatch/rules:
    unchanged copies would load twice next to /usr/local/share (duplicate
    ids); they go, a changed one stays."""
    old = os.path.join(dest, "etc/iocwatch/rules")
    src = os.path.join(REPO, "conf/rules/correlation/mr_http_404_probing.yml")
    os.makedirs(os.path.join(old, "correlation"))
    with open(src) as f:
        text = f.read()
    with open(os.path.join(old, "correlation/mr_http_404_probing.yml"), "w") as f:
        f.write(text)
    with open(os.path.join(old, "correlation/mr_http_5xx_burst.yml"), "w") as f:
        f.write("# edited\n")
    run("install", dest)
    assert not os.path.exists(os.path.join(old, "correlation/mr_http_404_probing.yml"))
    assert os.path.exists(os.path.join(old, "correlation/mr_http_5xx_burst.yml"))


def test_directive_man_page_names_every_directive():
    r = subprocess.run(["/usr/bin/python3", os.path.join(REPO, "tools", "gen-man.py"),
                        "--stdout"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(REPO, "mod_iocwatch.c")) as f:
        names = set(re.findall(r'AP_INIT_\w+\("(IocWatch\w*)"', f.read()))
    page = r.stdout
    documented = set(re.findall(r"^\\fB(IocWatch\w*)", page, re.M))
    assert names and names <= documented, names - documented
