"""``run`` and ``exec`` by waiting (how Windows runs them): the loop run for real here by
asking for it, the Windows child against fakes of the Windows calls, and the decisions with
``sys.platform`` pretending to be ``win32``."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_windows import FakePopen, FakeWinApi
from test_windows_supervisor import windows_signal_module

from prodserver.runtime import foreground, oneoff
from prodserver.runtime.foreground import FORWARDED_NAMES, signals_named, wait_for
from prodserver.runtime.spawner_windows import KILLED_CODE, JobChild
from tests.conftest import POSIX_RUNTIME

posix = pytest.mark.skipif(sys.platform == "win32", reason=POSIX_RUNTIME)
ROOT = Path(__file__).resolve().parents[2]

# the CLI with `run` and `exec` forced onto the waiting path
WAITING_CLI = (
    "import sys; from prodserver.runtime import exec as ex, oneoff; "
    "run, become = oneoff.run_oneoff, ex.exec_process; "
    "oneoff.run_oneoff = lambda p, a: run(p, a, waiting=True); "
    "ex.exec_process = lambda p, n: become(p, n, waiting=True); "
    "from prodserver.cli.main import main; sys.exit(main(sys.argv[1:]))"
)

# a child that says it is ready, then reports the first signal it gets and exits 3
REPORTER = (
    "import os, signal, sys, time\n"
    "def got(n, f):\n"
    "    print('got', signal.Signals(n).name, flush=True); sys.exit(3)\n"
    "for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGINT):\n"
    "    signal.signal(s, got)\n"
    "print('ready', os.getpid(), os.getppid(), flush=True)\n"
    "time.sleep(60)\n"
)


def _cli(tmp_path: Path, *argv: str) -> subprocess.Popen[str]:
    (tmp_path / "prodserver.toml").write_text(
        f"[processes.web]\ncommand = [{sys.executable!r}, '-c', {REPORTER!r}]\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", WAITING_CLI, *argv],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdin=subprocess.DEVNULL,  # not a terminal: nothing is delivered by one
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


# -- which signals: looked up in the signal module when asked -----------------------------


def test_only_the_signals_the_system_has_are_caught_and_forwarded() -> None:
    windows = windows_signal_module()
    assert signals_named(FORWARDED_NAMES, windows) == {15, 2, 21}  # SIGTERM, SIGINT, SIGBREAK
    assert signals_named(("SIGKILL", "SIGHUP", "SIGCONT"), windows) == set()  # no AttributeError
    here = signals_named(FORWARDED_NAMES)
    if sys.platform != "win32":
        assert {signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGQUIT} <= here


def test_the_console_delivers_ctrl_c_and_ctrl_break_on_windows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(signal, "SIGBREAK", 21, raising=False)
    assert foreground.delivered_here() == {int(signal.SIGINT), 21}


class FakeChild:
    """A child that ends after ``turns`` waits, recording what it was sent."""

    def __init__(self, turns: int, code: int) -> None:
        self.turns, self.code = turns, code
        self.sent: list[int] = []

    def wait(self, timeout: float | None = None) -> int:
        self.turns -= 1
        if self.turns > 0:
            raise subprocess.TimeoutExpired("child", timeout or 0)
        return self.code

    def send_signal(self, sig: int) -> None:
        self.sent.append(sig)


def test_what_the_console_delivered_is_not_sent_again() -> None:
    child = FakeChild(turns=2, code=0xC000013A)
    queue = collections.deque([2, 21, 15])  # Ctrl-C, Ctrl-Break, SIGTERM
    assert wait_for(child, queue, delivered={2, 21}) == 0xC000013A  # passed through as is
    assert child.sent == [15]


def test_a_child_killed_by_a_signal_exits_128_plus_n() -> None:
    assert wait_for(FakeChild(1, -9), collections.deque(), delivered=()) == 137


# -- the decisions, as on Windows ---------------------------------------------------------


def test_run_on_windows_waits_instead_of_using_sigchld(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from projects import project

    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("PRODSERVER_RUNTIME", "portable")  # choose() runs on the real Linux
    monkeypatch.setattr(
        foreground, "run_foreground", lambda argv, env, cwd: calls.append(argv) or 5
    )
    monkeypatch.setattr(oneoff, "_run_posix", lambda *a: pytest.fail("the POSIX path ran"))
    monkeypatch.setattr(oneoff, "find_executable", lambda name, env, cwd: "C:/py/python.exe")
    assert oneoff.run_oneoff(project(), ["python", "-V"]) == 5
    assert calls == [("C:/py/python.exe", "-V")]


def test_exec_on_windows_waits_and_exits_with_the_code_instead_of_execve(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from projects import proc, project

    from prodserver.runtime import exec as execute

    calls: list[tuple[tuple[str, ...], Path]] = []

    def waited(argv: tuple[str, ...], env: Any, cwd: Path) -> int:
        calls.append((argv, cwd))
        return 6

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(foreground, "run_foreground", waited)
    monkeypatch.setattr(execute, "find_executable", lambda name, env, cwd: "C:/app/web.exe")
    monkeypatch.setattr(os, "execve", lambda *a: pytest.fail("execve on Windows"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as ended:
        execute.exec_process(project(proc("web", ("web", "--port", "80")), root=tmp_path), "web")
    assert ended.value.code == 6
    assert calls == [(("C:/app/web.exe", "--port", "80"), tmp_path)]


def test_exec_on_windows_refuses_user_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import dataclasses

    from projects import proc, project

    from prodserver.errors import SpawnError
    from prodserver.runtime import exec as execute

    monkeypatch.setattr(sys, "platform", "win32")
    base = project(proc("web", ("web",)), root=tmp_path)
    web = dataclasses.replace(base.processes["web"], user="www-data")
    proj = dataclasses.replace(base, processes={"web": web})
    with pytest.raises(SpawnError, match=r"web\.1: `user =` is not supported on Windows"):
        execute.exec_process(proj, "web")


# -- the Windows child, against fakes of the Windows calls --------------------------------


@pytest.fixture
def api() -> FakeWinApi:
    FakePopen.made = []
    return FakeWinApi()


class WaitingPopen(FakePopen):
    """A fake ``Popen`` whose ``wait`` times out until the test sets its exit code."""

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            raise subprocess.TimeoutExpired("child", timeout or 0)
        return self.returncode


def test_the_windows_child_is_in_a_job_and_shares_the_console(
    api: FakeWinApi, tmp_path: Path
) -> None:
    argv = ("C:/py/python.exe", "manage.py", "shell")
    child = JobChild(argv, {"A": "1"}, tmp_path, api=api, popen=WaitingPopen)
    made = FakePopen.made[0]
    assert made.argv == list(argv)
    assert "creationflags" not in made.kwargs  # its console group: Ctrl-C reaches it
    assert "stdin" not in made.kwargs  # and the console itself, for an interactive shell
    (job,) = api.jobs
    assert api.jobs[job] == {made._handle}
    with pytest.raises(subprocess.TimeoutExpired):
        child.wait(0.1)
    assert api.closed == []
    made.returncode = 4
    assert child.wait(0.1) == 4
    assert api.closed == [job]  # what it left in its job ends with it


def test_sigterm_ends_the_windows_childs_whole_job_and_ctrl_events_are_not_sent(
    api: FakeWinApi, tmp_path: Path
) -> None:
    child = JobChild(("C:/app/web.exe",), {}, tmp_path, api=api, popen=FakePopen)
    child.send_signal(21)  # SIGBREAK: the console gave it already
    child.send_signal(2)
    assert api.terminated == [] and api.breaks == []
    child.send_signal(int(signal.SIGTERM))
    assert api.terminated == [(next(iter(api.jobs)), KILLED_CODE)]


def test_a_windows_child_that_cannot_start_or_join_its_job_leaks_nothing(
    api: FakeWinApi, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        JobChild(("C:/app/missing.exe",), {}, tmp_path, api=api, popen=FakePopen)
    assert api.closed == list(api.jobs)
    api.fail_assign = True
    with pytest.raises(OSError, match="Access is denied"):
        JobChild(("C:/app/web.exe",), {}, tmp_path, api=api, popen=FakePopen)
    assert FakePopen.made[-1].killed
    assert sorted(api.closed) == sorted(api.jobs)


# -- for real, on the waiting path ---------------------------------------------------------


@posix
def test_run_by_waiting_passes_the_exit_code_through(tmp_path: Path) -> None:
    up = _cli(tmp_path, "run", "--", sys.executable, "-c", "raise SystemExit(7)")
    _out, err = up.communicate(timeout=60)
    assert up.returncode == 7, err


@posix
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGINT])
def test_run_by_waiting_forwards_each_signal_the_system_has(
    tmp_path: Path, sig: signal.Signals
) -> None:
    up = _cli(tmp_path, "run", "--", sys.executable, "-c", REPORTER)
    try:
        assert up.stdout is not None
        ready = up.stdout.readline().split()
        assert ready[0] == "ready", up.stderr.read() if up.stderr else ""
        assert int(ready[2]) == up.pid  # prodserver stays its parent
        up.send_signal(sig)  # to prodserver only: it must pass it on
        out, err = up.communicate(timeout=60)
    finally:
        up.kill()
        up.wait()
    assert out == f"got {sig.name}\n", err
    assert up.returncode == 3


@posix
def test_exec_by_waiting_stays_the_parent_forwards_and_exits_with_the_code(
    tmp_path: Path,
) -> None:
    up = _cli(tmp_path, "exec", "web")
    try:
        assert up.stdout is not None
        ready = up.stdout.readline().split()
        assert ready[0] == "ready", up.stderr.read() if up.stderr else ""
        assert int(ready[1]) != up.pid and int(ready[2]) == up.pid  # not replaced: waited for
        up.send_signal(signal.SIGTERM)
        out, err = up.communicate(timeout=60)
    finally:
        up.kill()
        up.wait()
    assert out == "got SIGTERM\n", err
    assert up.returncode == 3


@posix
def test_exec_by_waiting_reports_a_child_killed_by_a_signal_as_128_plus_n(
    tmp_path: Path,
) -> None:
    (tmp_path / "prodserver.toml").write_text(
        "[processes.web]\n"
        f"command = [{sys.executable!r}, '-c', 'import os, signal; os.kill(os.getpid(), 9)']\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", WAITING_CLI, "exec", "web"],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 137, proc.stderr
