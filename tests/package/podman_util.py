# SPDX-License-Identifier: Apache-2.0
"""podman for the package and image tests: the project's containers.conf
(tools/podman/containers.conf) and the Debian 12 base image made locally
(tools/podman/base-image.sh: no registry is reachable)."""
import os
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ENV = dict(os.environ, CONTAINERS_CONF=os.path.join(REPO, "tools", "podman", "containers.conf"))


def podman_usable():
    return shutil.which("podman") is not None and os.geteuid() == 0


def podman(args, timeout=600, check=False):
    return subprocess.run(["podman"] + args, capture_output=True, text=True, cwd=REPO,
                          timeout=timeout, env=ENV, check=check)


def base_image():
    r = subprocess.run(["sh", os.path.join(REPO, "tools", "podman", "base-image.sh")],
                       capture_output=True, text=True, timeout=1200, env=ENV)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
