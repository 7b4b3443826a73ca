"""Live reload with real processes: ``prodserver reload`` and SIGHUP apply only what changed."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest
from healthrun import Up, run_cli, short_runtime_dir, wait_until, write_project

from tests.conftest import POSIX_RUNTIME

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason=POSIX_RUNTIME)

# prints its pid and what it was started with, then a numbered tick every 0.1 s
TICKER = (
    "import os, signal, sys, time\n"
    "signal.signal(signal.SIGUSR1, lambda *a: print('reload signal', flush=True))\n"
    "print('pid', os.getpid(), sys.argv[1], os.environ.get('X', '-'), flush=True)\n"
    "n = 0\n"
    "while True:\n"
    "    n += 1\n"
    "    print('tick', n, flush=True)\n"
    "    time.sleep(0.1)\n"
)


def config(*procs: tuple[str, str], env: dict[str, str] | None = None, extra: str = "") -> str:
    text = '[project]\nname = "live"\n'
    for name, arg in procs:
        text += f"\n[processes.{name}]\ncommand = [{json.dumps(sys.executable)}, "
        text += f'"-c", {json.dumps(TICKER)}, "{arg}"]\n'
        if name == "web":
            text += 'reload_signal = "SIGUSR1"\n'
        if env and name in env:
            text += f'env = {{ X = "{env[name]}" }}\n'
    return text + extra


def pids(up: Up) -> dict[str, int]:
    """The latest pid each process printed."""
    found: dict[str, int] = {}
    for line in up.lines:
        label, _, text = line.partition("|")
        if text.strip().startswith("pid "):
            found[label.strip().split(".")[0]] = int(text.split()[1])
    return found


def reload(project: Path, runtime: str) -> tuple[int, str, str]:
    done = run_cli(project, "reload", runtime=runtime)
    return done.returncode, done.stdout, done.stderr


def ticks(up: Up, name: str) -> int:
    return sum(line.startswith(f"{name}.1") and "| tick" in line for line in up.lines)


def test_reload_restarts_what_changed_and_touches_nothing_else(tmp_path: Path):
    runtime = short_runtime_dir()
    project = write_project(tmp_path, config(("web", "v1"), ("worker", "v1")))
    up = Up.cli(project, runtime=runtime)
    try:
        up.wait_for("web.1 | pid")
        up.wait_for("worker.1 | pid")
        up.wait_for("worker.1 | tick", count=3)
        before = pids(up)

        # 1. a changed command: web restarts, worker keeps its pid and keeps printing
        write_project(tmp_path, config(("web", "v2"), ("worker", "v1")))
        code, out, err = reload(project, runtime)
        assert code == 0, err
        assert "changed: web" in out and "unchanged: worker" in out
        up.wait_for("web.1 | pid", count=2)
        after = pids(up)
        assert after["web"] != before["web"] and after["worker"] == before["worker"]
        seen = ticks(up, "worker")
        wait_until(lambda: ticks(up, "worker") > seen + 3, what="worker output after reload")

        # 2. added and removed processes
        write_project(tmp_path, config(("web", "v2"), ("beat", "v1")))
        code, out, err = reload(project, runtime)
        assert code == 0, err
        assert "added: beat" in out and "removed: worker" in out and "unchanged: web" in out
        up.wait_for("beat.1 | pid")
        up.wait_for("worker.1 * stopped")
        up.wait_for("web.1 | reload signal")  # unchanged, with a reload_signal
        assert pids(up)["web"] == after["web"]

        # 3. a broken file changes nothing and says why
        (tmp_path / "prodserver.toml").write_text(config(("web", "v2")) + "\n[processes.bad\n")
        code, out, err = reload(project, runtime)
        assert code == 1 and "nothing changed" in err
        assert "PS10" in err  # the problem, with its code
        up.wait_for("the configuration is not valid; nothing changed")
        assert up.popen.poll() is None and pids(up)["web"] == after["web"]

        # 4. only the environment of one process: that one restarts
        env_only = config(("web", "v2"), ("beat", "v1"), env={"beat": "2"})
        write_project(tmp_path, env_only)
        beat = pids(up)["beat"]
        up.popen.send_signal(signal.SIGHUP)  # SIGHUP is the same as prodserver reload
        up.wait_for("SIGHUP received: configuration reloaded")
        up.wait_for("beat.1 | pid", count=2)
        now = pids(up)
        assert now["beat"] != beat and now["web"] == after["web"]
        assert any("| pid" in line and line.endswith("v1 2") for line in up.lines)
    finally:
        assert up.stop() == 0, up.err


def test_reload_of_an_unchanged_file_touches_nothing(tmp_path: Path):
    runtime = short_runtime_dir()
    text = config(("web", "v1"), ("worker", "v1"))
    project = write_project(tmp_path, text.replace('reload_signal = "SIGUSR1"\n', ""))
    up = Up.cli(project, runtime=runtime)
    try:
        up.wait_for("web.1 | pid")
        up.wait_for("worker.1 | pid")
        before = pids(up)
        code, out, err = reload(project, runtime)
        assert code == 0, err
        assert out.strip() == "unchanged: web, worker"
        assert pids(up) == before
        assert not any("stopp" in line for line in up.lines)
    finally:
        assert up.stop() == 0, up.err


def test_reload_without_a_running_up_says_so(tmp_path: Path):
    project = write_project(tmp_path, config(("web", "v1")))
    done = run_cli(project, "reload", runtime=short_runtime_dir())
    assert done.returncode == 3
