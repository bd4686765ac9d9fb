# SPDX-License-Identifier: Apache-2.0
"""The Debian package, used the way an admin uses it, in a clean Debian 12
container (podman; skipped when podman is not installed or not root):
`apt-get install ./iocwatch.deb` resolves the dependencies from the mirror,
rsyslogd and apache2 start, an attack and a 404 burst give an alert and the
probing correlation alert in /var/log/iocwatch/alerts.json (root:adm 0640,
readable by group adm only), a local rule in /etc/iocwatch/rules fires after
`apachectl graceful`, an upgrade keeps an edited iocwatch.conf (the new one
goes to .dpkg-dist), the logrotate snippet rotates the alert file (new one
root:adm 0640, alerts continue in it), `apt-get purge` leaves no file of the
package.  And (no container needed) the package is built with
dpkg-buildflags' flags and its binaries carry the hardening.

The steps run in tests/package/admin-path.sh; each prints a CHECK line.
The base image is made once (tools/podman/base-image.sh: debootstrap,
cached under build/podman); the apt archives are cached there too, so a
rerun downloads nothing.  Run:

    /usr/bin/python3 -m pytest -q tests/package/test_deb.py
"""
import os
import re
import shutil
import socket
import subprocess

import pytest

from podman_util import REPO, base_image, podman, podman_usable

CHECKS = ["install", "module_enabled_by_postinst", "conffiles_marked", "man_pages",
          "docs_linked_from_conf", "cli_version", "cli_check_default_rules", "apache_start",
          "apache_up", "attack_alert", "correlation_alert", "alert_message",
          "alerts_group_adm_0640", "readable_by_adm", "not_readable_by_others",
          "not_in_syslog", "local_rule_checks", "reload", "local_rule_alert", "logrotate_config",
          "logrotate_rotates", "rotated_file", "new_file_root_adm_0640",
          "alert_after_rotation", "upgrade",
          "upgraded_version", "edit_kept", "new_version_beside", "local_rule_kept",
          "still_enabled", "configtest_after_upgrade", "purge", "disabled_on_remove",
          "no_packaged_file_left", "nothing_named_iocwatch"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def build_debs(dest):
    """make deb, and an "upgrade" of it: same files, a newer version and a
    changed iocwatch.conf (so dpkg must choose between two edits)."""
    r = subprocess.run(["make", "--no-print-directory", "deb"], cwd=REPO,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    deb = os.path.join(REPO, r.stdout.strip().splitlines()[-1])
    v1 = os.path.join(dest, "iocwatch_1.deb")
    shutil.copy(deb, v1)
    tree = os.path.join(dest, "tree")
    subprocess.run(["dpkg-deb", "-R", v1, tree], check=True)
    ctl = os.path.join(tree, "DEBIAN", "control")
    with open(ctl) as f:
        text = f.read()
    text = re.sub(r"^Version: (.*)$", r"Version: \1+upgrade1", text, flags=re.M)
    with open(ctl, "w") as f:
        f.write(text)
    with open(os.path.join(tree, "etc", "apache2", "mods-available", "iocwatch.conf"), "a") as f:
        f.write("# changed upstream in the upgrade\n")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "-b", tree,
                    os.path.join(dest, "iocwatch_2.deb")], check=True, capture_output=True)


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("deb"))
    build_debs(d)
    return d


def elf(opt, path):
    return subprocess.run(["readelf", "-W", opt, path], capture_output=True, text=True,
                          check=True).stdout


def test_packaged_binaries_hardened(debs, tmp_path):
    """make deb builds as Debian builds packages: dpkg-buildflags' flags
    (hardening=+all unless DEB_BUILD_MAINT_OPTIONS says otherwise), with
    -Werror=format-security, and the binaries in the package carry it:
    full RELRO, stack protector, _FORTIFY_SOURCE checks."""
    if not shutil.which("dpkg-buildflags"):
        pytest.skip("no dpkg-buildflags (dpkg-dev): the package takes the Makefile's flags")
    env = dict(os.environ)
    env.setdefault("DEB_BUILD_MAINT_OPTIONS", "hardening=+all")

    def want(name):
        return subprocess.run(["dpkg-buildflags", "--get", name], cwd=REPO, env=env,
                              capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(REPO, "build", "pkg", "buildflags")) as f:
        used = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
    assert used["CFLAGS"].startswith(want("CFLAGS"))
    assert "-Werror=format-security" in used["CFLAGS"].split()
    assert len([o for o in used["CFLAGS"].split() if o.startswith("-O")]) == 1   # dpkg's alone
    assert used["CPPFLAGS"] == want("CPPFLAGS") and "-D_FORTIFY_SOURCE=2" in used["CPPFLAGS"]
    assert used["LDFLAGS"] == want("LDFLAGS")
    tree = str(tmp_path / "x")
    subprocess.run(["dpkg-deb", "-x", os.path.join(debs, "iocwatch_1.deb"), tree], check=True)
    for rel in ("usr/bin/iocwatch", "usr/lib/apache2/modules/mod_iocwatch.so"):
        path = os.path.join(tree, rel)
        dyn, syms = elf("-d", path), elf("--dyn-syms", path)
        assert "BIND_NOW" in dyn and "GNU_RELRO" in elf("-l", path), rel
        assert "__stack_chk_fail" in syms, rel
        assert "__memcpy_chk" in syms and "__snprintf_chk" in syms, rel


@pytest.fixture(scope="module")
def admin_run(request):
    if not podman_usable():
        pytest.skip("podman not installed or not root")
    base_image()
    d = request.getfixturevalue("debs")
    cache = os.path.join(REPO, "build", "podman", "apt-archives")
    os.makedirs(os.path.join(cache, "partial"), exist_ok=True)
    port = free_port()
    r = podman(["run", "--rm", "--network=host", "-e", "PORT=%d" % port,
                "-v", "%s:/pkg:ro" % d,
                "-v", "%s:/admin-path.sh:ro" % os.path.join(REPO, "tests", "package",
                                                            "admin-path.sh"),
                "-v", "%s:/var/cache/apt/archives" % cache,
                "localhost/debian:12", "bash", "/admin-path.sh"], timeout=900)
    out = r.stdout + r.stderr
    results = dict(re.findall(r"^CHECK (\S+) (ok|FAIL.*)$", out, re.M))
    return results, out


@pytest.mark.parametrize("name", CHECKS)
def test_admin_path(admin_run, name):
    results, out = admin_run
    assert name in results, "step not reached: %s\n%s" % (name, out[-3000:])
    assert results[name] == "ok", "%s: %s" % (name, results[name])
