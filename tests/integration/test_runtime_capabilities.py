"""Issue 15's new capabilities with real processes: exit-code policy, watchdog, reload."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import POSIX_RUNTIME

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))

from realrun import Run

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason=POSIX_RUNTIME)


def test_a_prevent_exit_code_is_not_restarted_and_up_exits_with_it(tmp_path):
    runs = tmp_path / "runs"
    cmd = f"echo run >> {runs}; exit 4"
    restart = {"mode": "always", "backoff": 0.1, "prevent_exit_codes": [4]}
    run = Run(tmp_path, [{"name": "w", "argv": ["/bin/sh", "-c", cmd], "restart": restart}])
    try:
        code = run.finish()
    finally:
        run.kill()
    assert code == 4
    assert runs.read_text().count("run") == 1


def test_a_success_exit_code_ends_up_cleanly(tmp_path):
    restart = {"mode": "on-failure", "backoff": 0.1, "success_exit_codes": [3]}
    run = Run(tmp_path, [{"name": "w", "argv": ["/bin/sh", "-c", "exit 3"], "restart": restart}])
    try:
        code = run.finish()
    finally:
        run.kill()
    assert code == 0
    assert not any("restarting" in line for line in run.lines)
