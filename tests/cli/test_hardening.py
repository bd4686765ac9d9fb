# SPDX-License-Identifier: Apache-2.0
"""The CLI and the module are built hardened, as Debian builds its packages
(Makefile: HARDEN_CFLAGS, HARDEN_LDFLAGS): the engine inside both parses
requests and log lines an attacker writes.  Read off the ELF files of the
default build (build/), whatever IW_CLI names."""
import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FILES = [os.path.join(REPO, "build", "iocwatch"), os.path.join(REPO, "build", "mod_iocwatch.so")]


def readelf(*args):
    return subprocess.run(["readelf", "-W"] + list(args), capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.parametrize("path", FILES, ids=["iocwatch", "mod_iocwatch.so"])
def test_built_hardened(path):
    if not os.path.exists(path):
        pytest.skip("not built: " + path)
    dyn = readelf("-d", path)
    assert "BIND_NOW" in dyn or "Flags: NOW" in dyn, "no -z now"
    assert "GNU_RELRO" in readelf("-l", path), "no -z relro"
    assert "DYN" in readelf("-h", path)              # PIE (the CLI) or a shared object
    syms = readelf("--dyn-syms", path)
    assert "__stack_chk_fail" in syms                 # -fstack-protector-strong
    assert "__memcpy_chk" in syms or "__snprintf_chk" in syms   # -D_FORTIFY_SOURCE=2


def test_engine_objects_have_stack_protector():
    """The engine's objects themselves, not only the apxs-compiled glue."""
    obj = os.path.join(REPO, "build", "obj", "iw_engine_eval.o")
    if not os.path.exists(obj):
        pytest.skip("not built")
    syms = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    assert "__stack_chk_fail" in syms
