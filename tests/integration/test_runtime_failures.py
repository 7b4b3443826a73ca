"""Issue 15's failures, each shown with real processes, real signals and real pipes."""

from __future__ import annotations

import json
import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))

from realrun import Run, alive, wait_until

PY = sys.executable

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux runtime")


def py(code: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code)]


def pids_in(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def escaping_tree(pidfile: Path, *, parent_ignores_term: bool) -> list[str]:
    """A main process that leaves a SIGTERM-deaf daemon outside its group (double fork)."""
    ignore = "signal.signal(signal.SIGTERM, signal.SIG_IGN)" if parent_ignores_term else ""
    return py(f"""
        import os, signal, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                open({str(pidfile)!r} + '.tmp', 'w').write(str(os.getpid()))
                os.rename({str(pidfile)!r} + '.tmp', {str(pidfile)!r})
                time.sleep(120)
            os._exit(0)
        {ignore}
        while not os.path.exists({str(pidfile)!r}):
            time.sleep(0.01)
        print('ready', flush=True)
        time.sleep(120)
    """)


def test_an_internal_error_inside_up_stops_every_child_first(tmp_path):
    pidfile = tmp_path / "daemon"
    polite = tmp_path / "polite"
    stubborn = py(f"""
        import os, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        open({str(tmp_path / "stubborn")!r}, 'w').write(str(os.getpid()))
        print('ready', flush=True)
        time.sleep(120)
    """)
    run = Run(
        tmp_path,
        [
            {"name": "tree", "argv": escaping_tree(pidfile, parent_ignores_term=False)},
            {
                "name": "polite",
                "argv": py(f"""
                    import os, time
                    open({str(polite)!r}, 'w').write(str(os.getpid()))
                    print('ready', flush=True)
                    time.sleep(120)
                """),
            },
            {"name": "stubborn", "argv": stubborn, "stop_timeout": 1.0},
            {
                "name": "trigger",
                "argv": py("import time; time.sleep(1.0)"),
                "oneshot": True,
            },
        ],
        crash_on_exit=True,
    )
    try:
        run.wait_for_line("ready", 3)
        pids = pids_in(pidfile) + pids_in(polite) + pids_in(tmp_path / "stubborn")
        assert len(pids) == 3 and all(alive(p) for p in pids)
        code = run.finish()
    finally:
        run.kill()
    assert b"deliberate internal error" in run.err
    assert code != 0
    assert [p for p in pids if alive(p)] == []
    assert any("internal error: stopping every process" in line for line in run.lines)


def test_escaped_processes_share_the_stops_one_deadline(tmp_path):
    pidfile = tmp_path / "daemon"
    tree = escaping_tree(pidfile, parent_ignores_term=True)
    run = Run(tmp_path, [{"name": "tree", "argv": tree, "stop_timeout": 1.5}])
    try:
        run.wait_for_line("ready")
        daemon = pids_in(pidfile)[0]
        sent = time.monotonic()
        os.kill(run.pid, signal.SIGTERM)
        code = run.finish()
        elapsed = time.monotonic() - sent
    finally:
        run.kill()
    assert not alive(daemon)
    # the main process is killed at 1.5 s; the daemon found then gets no second grace
    assert 1.5 <= elapsed < 2.5, elapsed
    assert code == 79


def test_a_second_ctrl_c_kills_escaped_processes_too(tmp_path):
    pidfile = tmp_path / "daemon"
    tree = escaping_tree(pidfile, parent_ignores_term=True)
    run = Run(tmp_path, [{"name": "tree", "argv": tree, "stop_timeout": 30.0}])
    try:
        run.wait_for_line("ready")
        daemon = pids_in(pidfile)[0]
        os.kill(run.pid, signal.SIGINT)
        run.wait_for_line("stopping all processes")
        sent = time.monotonic()
        os.kill(run.pid, signal.SIGINT)
        code = run.finish()
        elapsed = time.monotonic() - sent
    finally:
        run.kill()
    assert not alive(daemon)
    assert elapsed < 1.5, elapsed
    assert code == 79


def test_a_stopped_child_still_stops_gracefully(tmp_path):
    child = py("""
        import os, signal, sys, time
        def bye(signum, frame):
            print('graceful exit', flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, bye)
        print('ready', os.getpid(), flush=True)
        while True:
            time.sleep(1)
    """)
    run = Run(tmp_path, [{"name": "paused", "argv": child, "stop_timeout": 5.0}])
    try:
        run.wait_for_line("ready")
        pid = int(next(line for line in run.lines if "ready" in line).split()[-1])
        os.kill(pid, signal.SIGSTOP)
        wait_until(lambda: psutil.Process(pid).status() == psutil.STATUS_STOPPED)
        sent = time.monotonic()
        os.kill(run.pid, signal.SIGTERM)
        code = run.finish()
        elapsed = time.monotonic() - sent
    finally:
        run.kill()
    assert any("graceful exit" in line for line in run.lines)
    assert code == 0
    assert elapsed < 2.0, elapsed


def test_an_exit_code_above_128_is_an_exit_not_a_signal(tmp_path):
    run = Run(
        tmp_path,
        [{"name": "sh", "argv": ["/bin/sh", "-c", "exit 130"]}],
        {"log_format": "json"},
    )
    try:
        code = run.finish()
    finally:
        run.kill()
    records = [json.loads(line) for line in run.lines]
    exited = [r for r in records if r.get("event") == "process_exited"]
    assert exited and exited[0]["code"] == 130
    assert "signal" not in exited[0]
    assert "exited with code 130" in exited[0]["line"]
    assert code == 130


def test_a_process_killed_by_a_signal_is_still_reported_as_killed(tmp_path):
    run = Run(
        tmp_path,
        [{"name": "k", "argv": py("import os, signal; os.kill(os.getpid(), signal.SIGINT)")}],
        {"log_format": "json"},
    )
    try:
        code = run.finish()
    finally:
        run.kill()
    exited = [r for r in map(json.loads, run.lines) if r.get("event") == "process_exited"]
    assert exited[0]["code"] == 130 and exited[0]["signal"] == "SIGINT"
    assert code == 130
