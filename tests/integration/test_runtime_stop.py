"""Stopping real processes: grace periods, groups, escapees, Ctrl-C, and a killed prodserver."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import LINUX_ONLY, POSIX_RUNTIME

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))

from realrun import Run, alive, wait_until

PY = sys.executable

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason=POSIX_RUNTIME)


def py(code: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code)]


def pids_in(path: Path) -> list[int]:
    return [int(x) for x in path.read_text().split()] if path.exists() else []


SLEEPER = "import time; print('ready', flush=True); time.sleep(60)"


def test_stubborn_child_is_killed_at_its_grace_and_not_before(tmp_path):
    stubborn = py("""
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print('ready', flush=True)
        time.sleep(60)
    """)
    run = Run(
        tmp_path,
        [
            {"name": "stubborn", "argv": stubborn, "stop_timeout": 1.0},
            {"name": "polite", "argv": py(SLEEPER)},
        ],
    )
    try:
        run.wait_for_line("ready", 2)
        sent = time.monotonic()
        os.kill(run.pid, signal.SIGTERM)
        run.wait_for_line("polite.1   * stopped")
        assert run.popen.poll() is None  # still waiting for the stubborn one
        code = run.finish()
        elapsed = time.monotonic() - sent
    finally:
        run.kill()
    assert 1.0 <= elapsed < 1.6, elapsed
    assert code == 79  # ExitCode.FORCED_STOP
    assert any("killed with SIGKILL after 1s grace" in line for line in run.lines)


def test_prompt_children_stop_quickly_and_exit_zero(tmp_path):
    run = Run(tmp_path, [{"name": "w", "argv": py(SLEEPER), "scale": 8}])
    try:
        run.wait_for_line("ready", 8)
        sent = time.monotonic()
        os.kill(run.pid, signal.SIGINT)
        code = run.finish()
        elapsed = time.monotonic() - sent
    finally:
        run.kill()
    assert code == 0
    assert elapsed < 1.0, elapsed


def test_grandchildren_and_escapees_are_gone_after_stop(tmp_path):
    pidfile = tmp_path / "pids"
    tree = py(f"""
        import os, subprocess, sys, time
        sleep = [sys.executable, '-c', 'import time; time.sleep(60)']
        kids = [subprocess.Popen(sleep) for _ in range(2)]          # same group
        escapee = subprocess.Popen(sleep, start_new_session=True)  # own session
        if os.fork() == 0:                                          # classic daemon
            os.setsid()
            if os.fork() == 0:
                open({str(pidfile)!r} + '.daemon', 'w').write(str(os.getpid()))
                time.sleep(60)
            os._exit(0)
        pids = [k.pid for k in kids] + [escapee.pid]
        open({str(pidfile)!r}, 'w').write(' '.join(map(str, pids)))
        print('ready', flush=True)
        time.sleep(60)
    """)
    run = Run(tmp_path, [{"name": "tree", "argv": tree, "stop_timeout": 2.0}])
    try:
        run.wait_for_line("ready")
        daemon = Path(str(pidfile) + ".daemon")
        wait_until(daemon.exists, what="the daemon's pid file")
        wait_until(lambda: daemon.read_text().strip(), what="the daemon's pid")
        pids = pids_in(pidfile) + pids_in(daemon)
        assert len(pids) == 4 and all(alive(p) for p in pids)
        os.kill(run.pid, signal.SIGINT)
        code = run.finish()
    finally:
        run.kill()
    assert [p for p in pids if alive(p)] == []
    assert code in (0, 79)
    assert any("left their process group" in line for line in run.lines)


def test_killing_prodserver_with_sigkill_leaves_no_survivor(tmp_path):
    tree = py(f"""
        import os, signal, subprocess, sys, time
        code = 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'
        sleep = [sys.executable, '-c', code]
        kids = [subprocess.Popen(sleep) for _ in range(2)]
        escapee = subprocess.Popen(sleep, start_new_session=True)
        pids = [k.pid for k in kids + [escapee]] + [os.getpid()]
        path = {str(tmp_path)!r} + '/pids.' + os.environ['PRODSERVER_INSTANCE']
        open(path, 'w').write(' '.join(map(str, pids)))
        print('ready', flush=True)
        time.sleep(60)
    """)
    run = Run(tmp_path, [{"name": "tree", "argv": tree, "scale": 2}])
    try:
        run.wait_for_line("ready", 2)
        all_pids = [pid for path in tmp_path.glob("pids.*") for pid in pids_in(path)]
        assert len(all_pids) == 8 and all(alive(p) for p in all_pids)
        os.kill(run.pid, signal.SIGKILL)
        run.finish()
        wait_until(
            lambda: not any(alive(p) for p in all_pids),
            timeout=5,
            what="every child to die with prodserver",
        )
    finally:
        run.kill()


def test_ctrl_c_reaches_each_child_exactly_once(tmp_path):
    counter = py(f"""
        import os, signal, subprocess, sys, time
        log = {str(tmp_path)!r} + '/sig.' + os.environ['PRODSERVER_INSTANCE']
        def got(signum, frame):
            with open(log + '.' + str(os.getpid()), 'a') as fh:
                fh.write(signal.Signals(signum).name + '\\n')
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, got)
        print('ready', flush=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.05)
            if any(os.path.exists(log + '.' + str(os.getpid())) for _ in [0]):
                time.sleep(0.3)  # time for a duplicate to arrive
                sys.exit(0)
    """)
    run = Run(tmp_path, [{"name": "c", "argv": counter, "scale": 3}])
    try:
        run.wait_for_line("ready", 3)
        os.killpg(run.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        code = run.finish()
    finally:
        run.kill()
    logs = sorted(tmp_path.glob("sig.*"))
    assert len(logs) == 3
    assert [p.read_text() for p in logs] == ["SIGTERM\n"] * 3
    assert code == 0


@pytest.mark.parametrize(
    ("code", "expected"),
    [("import sys; sys.exit(3)", 3), ("import os; os.kill(os.getpid(), 9)", 137), ("pass", 0)],
)
def test_exit_code_of_the_process_that_ended_the_run(tmp_path, code, expected):
    run = Run(
        tmp_path,
        [
            {"name": "other", "argv": py(SLEEPER)},
            {"name": "ender", "argv": py("import time; time.sleep(0.2)\n" + code)},
        ],
    )
    try:
        assert run.finish() == expected
    finally:
        run.kill()


def test_restart_policy_with_real_processes_gives_up(tmp_path):
    run = Run(
        tmp_path,
        [
            {
                "name": "crash",
                "argv": py("import sys; sys.exit(2)"),
                "restart": {"mode": "on-failure", "max_restarts": 2, "backoff": 0.05},
            }
        ],
    )
    try:
        code = run.finish()
    finally:
        run.kill()
    assert code == 2
    text = "\n".join(run.lines)
    assert text.count("restarting in") == 2
    assert "given up after 2 restarts" in text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason=LINUX_ONLY + ": /proc")
def test_children_get_default_sigpipe_and_an_empty_signal_mask(tmp_path):
    # grep reports its own status: what it inherited from prodserver (which ignores SIGPIPE)
    probe = ["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]
    run = Run(tmp_path, [{"name": "probe", "argv": probe}])
    try:
        assert run.finish() == 0
    finally:
        run.kill()
    fields = dict(line.split("| ")[1].split(":") for line in run.lines if "| Sig" in line)
    assert int(fields["SigBlk"], 16) == 0
    assert int(fields["SigIgn"], 16) == 0
