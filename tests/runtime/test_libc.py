"""prctl and mallopt through ctypes' C core, without the ctypes package (issue 17)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prodserver.runtime import libc

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux's prctl")

#: becomes a child subreaper with the prctl found, then orphans a grandchild and asks it who
#: its parent is now (ours, not init's); also a call that fails, and mallopt
SCRIPT = """
import json, os, sys
from prodserver.runtime import libc
import _ctypes
prctl = libc.int_function("prctl", "iLLLL")
became = prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
refused, errno = prctl(-1, 0, 0, 0, 0), _ctypes.get_errno()
mallopt = libc.int_function("mallopt", "ii")(-1, 1 << 20)  # M_TRIM_THRESHOLD
r, w = os.pipe()
child = os.fork()
if child == 0:
    middle = os.getpid()
    if os.fork() == 0:
        os.close(r)
        while os.getppid() == middle:  # until the middle process is gone
            pass
        os.write(w, str(os.getppid()).encode())
        os._exit(0)
    os._exit(0)
os.close(w)
os.waitpid(child, 0)
parent = int(os.read(r, 64))
os.wait()
print(json.dumps({
    "became": became, "refused": refused, "errno": errno, "mallopt": mallopt,
    "adopted": parent == os.getpid(), "ctypes": "ctypes" in sys.modules,
    "missing": libc.int_function("no_such_function_here", "i"),
}))
"""


def _run(prefix: str = "") -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", prefix + SCRIPT],
        env={"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_prctl_and_mallopt_work_without_the_ctypes_package() -> None:
    result = _run()
    assert result["became"] == 0 and result["adopted"] is True
    assert result["refused"] == -1 and result["errno"] == 22  # EINVAL, kept for get_errno
    assert result["mallopt"] == 1
    assert result["missing"] is None
    assert result["ctypes"] is False


def test_the_ctypes_package_is_the_fallback() -> None:
    # what an interpreter whose _ctypes differs gets: the same functions, through ctypes
    broken = (
        "from prodserver.runtime import libc\n"
        "def _broken(*args): raise AttributeError('no such thing in this _ctypes')\n"
        "libc._from_core = _broken\n"
    )
    result = _run(broken)
    assert result["became"] == 0 and result["adopted"] is True
    assert result["refused"] == -1 and result["errno"] == 22
    assert result["mallopt"] == 1
    assert result["missing"] is None
    assert result["ctypes"] is True


def test_nothing_outside_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert libc.int_function("prctl", "iLLLL") is None
