"""``up``, ``status``, ``run`` and ``exec`` for real on Windows: these run only there (the
Windows CI job), and are the first place the Windows calls meet Windows. Everywhere else
they skip; what stands for them on Linux is in test_windows*.py and test_foreground.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "win32", reason="Windows only (its CI job)")

ROOT = Path(__file__).resolve().parents[2]
#: ``subprocess.CREATE_NEW_PROCESS_GROUP`` and ``signal.CTRL_BREAK_EVENT`` (Windows only)
NEW_GROUP = 0x00000200
CTRL_BREAK = 1


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), NO_COLOR="1", PYTHONUNBUFFERED="1")


def _cli(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "prodserver", *argv],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _write(tmp_path: Path, code: str) -> None:
    (tmp_path / "prodserver.toml").write_text(
        f"[processes.web]\ncommand = [{sys.executable!r}, '-c', {code!r}]\n"
    )


def test_run_passes_the_exit_code_through(tmp_path: Path) -> None:
    _write(tmp_path, "pass")
    result = _cli(tmp_path, "run", "--", sys.executable, "-c", "raise SystemExit(3)")
    assert result.returncode == 3, result.stderr


def test_exec_waits_and_exits_with_the_process_code(tmp_path: Path) -> None:
    _write(tmp_path, "import sys; print('hello from web'); sys.exit(4)")
    result = _cli(tmp_path, "exec", "web")
    assert result.returncode == 4, result.stderr
    assert "hello from web" in result.stdout


def test_up_answers_status_and_stops_on_ctrl_break(tmp_path: Path) -> None:
    _write(tmp_path, "import time\nprint('serving', flush=True)\ntime.sleep(120)")
    up = subprocess.Popen(
        [sys.executable, "-m", "prodserver", "up"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        creationflags=NEW_GROUP,
    )
    try:
        assert up.stdout is not None
        for line in up.stdout:
            if "serving" in line:
                break
        status = _cli(tmp_path, "status")
        assert status.returncode == 0, status.stderr
        assert "web.1" in status.stdout
        began = time.monotonic()
        os.kill(up.pid, CTRL_BREAK)  # GenerateConsoleCtrlEvent to up's group
        rest, err = up.communicate(timeout=60)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
    assert up.returncode == 0, err
    assert "stopping all processes" in rest + err
    assert time.monotonic() - began < 30
