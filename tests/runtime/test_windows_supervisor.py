"""The supervisor on Windows, simulated: the real supervisor, stopper and emergency stop, the
real Windows spawner over fakes of the Windows calls, and a ``signal`` module that lacks
what Windows lacks (SIGKILL, SIGCONT, SIGHUP, SIGCHLD, the SIGUSRs).

Nothing here proves what Windows does; it shows that no POSIX-only signal is named on the
way from a stop request to the Windows calls, and that each request becomes the right call.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeClock, FakeHooks
from projects import proc, project, py
from test_windows import COMSPEC, FakePopen, FakeWinApi

from prodserver.config.model import ResolvedProject
from prodserver.runtime import emergency, run, stopping, supervisor
from prodserver.runtime.process import Unit
from prodserver.runtime.spawner_windows import KILLED_CODE, WindowsSpawner
from prodserver.runtime.supervisor import Supervisor

#: what Python's ``signal`` module has on Windows (CTRL_* are console events, not signals)
WINDOWS_SIGNALS = {"SIGABRT": 22, "SIGBREAK": 21, "SIGFPE": 8, "SIGILL": 4, "SIGINT": 2}
WINDOWS_SIGNALS |= {"SIGSEGV": 11, "SIGTERM": 15, "CTRL_C_EVENT": 0, "CTRL_BREAK_EVENT": 1}


def windows_signal_module() -> types.SimpleNamespace:
    """A ``signal`` module as Windows has it: naming SIGKILL or SIGHUP is an AttributeError."""
    fake = types.SimpleNamespace(**WINDOWS_SIGNALS)
    fake.Signals = signal.Signals  # names of the numbers above (the same on every system)
    return fake


class Hooks(FakeHooks):
    """Keeps the pipes the spawner opened, to close them."""

    def __init__(self) -> None:
        super().__init__()
        self.fds: list[int] = []

    def attached(self, unit: Unit) -> None:
        assert unit.handle is not None
        self.fds += [fd for fd in (unit.handle.stdout, unit.handle.stderr) if fd is not None]


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    fake = windows_signal_module()
    for module in (supervisor, run):
        monkeypatch.setattr(module, "signal", fake)
    return fake


@pytest.fixture
def api() -> FakeWinApi:
    FakePopen.made = []
    return FakeWinApi()


@pytest.fixture
def hooks() -> Any:
    made = Hooks()
    yield made
    for fd in made.fds:
        os.close(fd)


def make(api: FakeWinApi, clock: FakeClock, hooks: Hooks, proj: ResolvedProject) -> Supervisor:
    spawner = WindowsSpawner(api, popen=FakePopen, comspec=COMSPEC)
    sup = Supervisor(proj, spawner=spawner, clock=clock, hooks=hooks, reread=lambda: proj)
    sup.start()
    return sup


def two(**kw: Any) -> ResolvedProject:
    return project(proc("web", py("#web"), **kw), proc("worker", py("#worker"), **kw))


def end_jobs(api: FakeWinApi, sup: Supervisor, code: int) -> None:
    """Every child's main process exits with ``code``, and its job empties."""
    for popen in FakePopen.made:
        if popen.returncode is None:
            popen.returncode = code
    for job in api.jobs.values():
        job.clear()
    sup.handle_children()


def test_the_stop_modules_name_no_signal_at_all() -> None:
    # they ask the spawner in words (stop, kill, stop_pids, kill_pids): nothing to look up
    assert not hasattr(stopping, "signal")
    assert not hasattr(emergency, "signal")


def test_a_graceful_stop_is_a_ctrl_break_per_child_and_the_run_ends_cleanly(
    windows: Any, api: FakeWinApi, clock: FakeClock, hooks: Hooks
) -> None:
    sup = make(api, clock, hooks, two())
    pids = [p.pid for p in FakePopen.made]
    assert len(pids) == 2
    sup.handle_signal(windows.SIGTERM)
    assert sup.stopping
    assert sorted(api.breaks) == sorted(pids)  # one Ctrl-Break each, nothing after it
    assert api.terminated == []
    end_jobs(api, sup, 0xC000013A)  # what a console program ended by Ctrl-Break exits with
    assert sup.done
    assert sup.exit_code() == 0
    assert "SIGTERM received: stopping all processes" in hooks.texts()
    stopped = "stopped (was ended by Ctrl-C or Ctrl-Break, exit code 0xC000013A)"
    assert stopped in hooks.texts("web.1")


def test_at_the_deadline_the_whole_job_is_terminated(
    windows: Any, api: FakeWinApi, clock: FakeClock, hooks: Hooks
) -> None:
    sup = make(api, clock, hooks, two(stop_timeout=5.0))
    sup.handle_signal(windows.SIGINT)
    clock.advance(5.1)
    sup.tick()
    assert sorted(job for job, _ in api.terminated) == sorted(api.jobs)
    assert {code for _, code in api.terminated} == {KILLED_CODE}
    end_jobs(api, sup, KILLED_CODE)
    assert sup.done
    assert any("killed with SIGKILL after 5s grace" in t for t in hooks.texts("web.1"))


def test_a_second_ctrl_c_terminates_every_job_at_once(
    windows: Any, api: FakeWinApi, clock: FakeClock, hooks: Hooks
) -> None:
    sup = make(api, clock, hooks, two())
    sup.handle_signal(windows.SIGINT)
    assert api.terminated == []
    sup.handle_signal(windows.SIGINT)
    assert sorted(job for job, _ in api.terminated) == sorted(api.jobs)


def test_a_signal_windows_does_not_have_is_not_looked_up(
    windows: Any, api: FakeWinApi, clock: FakeClock, hooks: Hooks
) -> None:
    sup = make(api, clock, hooks, two())
    sup.handle_signal(1)  # SIGHUP's number: no SIGHUP here, so it is not a reload either
    assert not sup.stopping and api.breaks == []
    assert not any("reloaded" in t for t in hooks.texts())


def test_a_reload_signal_is_not_sent_and_the_log_says_why(
    windows: Any, api: FakeWinApi, clock: FakeClock, hooks: Hooks
) -> None:
    base = two()
    web = dataclasses.replace(base.processes["web"], reload_signal=signal.SIGINT)
    proj = dataclasses.replace(base, processes={**base.processes, "web": web})
    sup = make(api, clock, hooks, proj)
    outcome = sup.reload()
    assert outcome["ok"] and outcome["signalled"] == []
    assert api.breaks == [] and api.terminated == []  # not turned into a stop
    assert (
        "reload signal not sent: Windows cannot send SIGINT to a process "
        "(only Ctrl-Break, which stops it)"
    ) in hooks.texts("web.1")


def test_the_emergency_stop_breaks_then_terminates_at_its_deadline(
    api: FakeWinApi, clock: FakeClock, hooks: Hooks
) -> None:
    sup = make(api, clock, hooks, two(stop_timeout=2.0))
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    killed = emergency.stop_everything(
        sup.units, sup.spawner, grace=2.0, monotonic=lambda: now[0], sleep=sleep
    )
    assert killed
    pids = sorted(p.pid for p in FakePopen.made)
    assert sorted(api.breaks) == pids
    assert sorted(job for job, _ in api.terminated) == sorted(api.jobs)
    assert now[0] >= 2.0


def test_the_spawner_protocol_words_reach_the_windows_spawner(tmp_path: Path) -> None:
    """``stop_pids``/``kill_pids`` take no signal number (Windows finds no strays anyway)."""
    spawner = WindowsSpawner(FakeWinApi(), popen=FakePopen, comspec=COMSPEC)
    spawner.stop_pids([])
    spawner.kill_pids([])
    assert spawner.strays(()) == []


def test_on_win32_the_default_plumbing_is_portable_with_the_windows_pieces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prodserver.runtime import plumbing, spawner_windows

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(spawner_windows, "Kernel32", FakeWinApi)  # no kernel32.dll here
    chosen = plumbing.choose({})
    assert chosen.name == "portable"  # no PS462 any more
    assert isinstance(chosen.spawner(token=None), WindowsSpawner)
    assert chosen.guardian() is None  # the Job Objects do its work
    poller = chosen.poller()
    assert isinstance(poller, plumbing.ThreadedPoller)
    poller.close()
