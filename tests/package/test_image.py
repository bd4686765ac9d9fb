# SPDX-License-Identifier: Apache-2.0
"""The runtime image (docker/Dockerfile, default target) built with podman
from the package `make deb` writes, run for real: an attack on its httpd
gives the alert on the container's stdout and in the mounted
/var/log/iocwatch/alerts.json.  Skipped without podman (or not root).

    /usr/bin/python3 -m pytest -q tests/package/test_image.py
"""
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from podman_util import REPO, base_image, podman, podman_usable

IMAGE = "localhost/iocwatch:test"
SQLI = "/item?id=0%20UNION%20SELECT%20password%20FROM%20users--"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(port, path):
    try:
        return OPENER.open("http://127.0.0.1:%d%s" % (port, path), timeout=5).status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:             # not listening yet
        return None


def wait(pred, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError("timed out: " + what)


@pytest.fixture(scope="module")
def container(tmp_path_factory):
    if not podman_usable():
        pytest.skip("podman not installed or not root")
    base_image()
    r = subprocess.run(["make", "--no-print-directory", "deb"], cwd=REPO,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    cache = os.path.join(REPO, "build", "podman", "apt-archives")
    os.makedirs(os.path.join(cache, "partial"), exist_ok=True)
    r = podman(["build", "--network=host", "-f", "docker/Dockerfile", "-t", IMAGE,
                "-v", "%s:/var/cache/apt/archives" % cache, "."], timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    logdir = str(tmp_path_factory.mktemp("iwlog"))
    port = free_port()
    name = "iocwatch-test-%d" % os.getpid()
    r = podman(["run", "-d", "--name", name, "--network=host", "-e", "APACHE_PORT=%d" % port,
                "-v", "%s:/var/log/iocwatch" % logdir, IMAGE])
    assert r.returncode == 0, r.stderr
    try:
        # the first start compiles the rule pack: minutes on a loaded machine
        wait(lambda: get(port, "/") == 200, 180, "httpd in the container")
        yield name, port, logdir
    finally:
        podman(["rm", "-f", "-t", "2", name])
        podman(["rmi", IMAGE])              # ~340 MB per run otherwise
        podman(["image", "prune", "-f"])


def test_alert_on_stdout_and_in_mounted_file(container):
    name, port, logdir = container
    assert get(port, SQLI) == 404

    def alerts():
        out = podman(["logs", name]).stdout
        return [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    wait(lambda: any("UNION SELECT" in (a.get("message") or "") for a in alerts()), 30,
         "alert on the container's stdout")
    a = next(a for a in alerts() if "UNION SELECT" in a["message"])
    assert a["log"]["level"] == "high" and a["url"]["original"] == SQLI
    path = os.path.join(logdir, "alerts.json")
    wait(lambda: os.path.exists(path) and "UNION SELECT" in open(path).read(), 10,
         "alert in the mounted alerts.json")
