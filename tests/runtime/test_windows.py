"""The Windows spawner and program lookup, run against fakes of the Windows calls.

These run on every system: the Job Object, console-event and process-creation calls are
replaced by fakes that record what the spawner asked for. Nothing here proves that Windows
does what the fakes pretend; the Windows CI job is where the real calls run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from prodserver.runtime import lookup
from prodserver.runtime.lookup import ExecutableNotFound, find_executable
from prodserver.runtime.plumbing import Plumbing, ThreadedPoller
from prodserver.runtime.spawner import SpawnFailed, Undeliverable
from prodserver.runtime.spawner_windows import (
    CREATE_NEW_PROCESS_GROUP,
    KILLED_CODE,
    WindowsSpawner,
    windows_argv,
)

COMSPEC = r"C:\Windows\system32\cmd.exe"


class FakeWinApi:
    """Job Objects as a dict: which processes each job holds."""

    def __init__(self) -> None:
        self.jobs: dict[int, set[int]] = {}
        self.closed: list[int] = []
        self.breaks: list[int] = []
        self.terminated: list[tuple[int, int]] = []
        self.fail_assign = False
        self._next = 1000

    def create_job(self) -> int:
        self._next += 1
        self.jobs[self._next] = set()
        return self._next

    def assign(self, job: int, process: int) -> None:
        if self.fail_assign:
            raise OSError(5, "Access is denied")
        self.jobs[job].add(process)

    def terminate(self, job: int, code: int) -> None:
        self.terminated.append((job, code))
        self.jobs[job].clear()

    def active_processes(self, job: int) -> int:
        return len(self.jobs[job])

    def close(self, handle: int) -> None:
        self.closed.append(handle)

    def ctrl_break(self, pid: int) -> None:
        self.breaks.append(pid)


class FakePopen:
    """What ``subprocess.Popen`` gives the spawner: a pid, a process handle, ``poll``."""

    made: list[FakePopen] = []

    def __init__(self, argv: list[str], **kwargs: Any) -> None:
        if argv[0].endswith("missing.exe"):
            raise FileNotFoundError(2, "The system cannot find the file specified")
        self.argv = argv
        self.kwargs = kwargs
        self.pid = 4000 + len(FakePopen.made)
        self._handle = 9000 + len(FakePopen.made)
        self.returncode: int | None = None
        self.killed = False
        FakePopen.made.append(self)

    def poll(self) -> int | None:
        return self.returncode

    def kill(self) -> None:
        self.killed = True
        self.returncode = 1

    def wait(self) -> int:
        return self.returncode or 0


@pytest.fixture
def api() -> FakeWinApi:
    FakePopen.made = []
    return FakeWinApi()


@pytest.fixture
def spawner(api: FakeWinApi) -> WindowsSpawner:
    return WindowsSpawner(api, popen=FakePopen, comspec=COMSPEC)


def _close(handle: Any) -> None:
    for fd in (handle.stdout, handle.stderr):
        if fd is not None:
            os.close(fd)


def test_each_child_gets_a_console_group_and_a_job_of_its_own(
    spawner: WindowsSpawner, api: FakeWinApi, tmp_path: Path
) -> None:
    first = spawner.spawn(("C:/app/web.exe", "--port", "8000"), {"A": "1"}, tmp_path)
    second = spawner.spawn(("C:/app/worker.exe",), {}, tmp_path)
    try:
        made = FakePopen.made
        assert made[0].argv == ["C:/app/web.exe", "--port", "8000"]
        assert made[0].kwargs["creationflags"] == CREATE_NEW_PROCESS_GROUP
        assert made[0].kwargs["env"] == {"A": "1"}
        assert made[0].kwargs["stdin"] is subprocess.DEVNULL
        # one job each, holding that child's process
        assert sorted(api.jobs.values(), key=sorted) == [{9000}, {9001}]
        assert (first.pid, first.pgid) == (4000, 4000)
        assert first.stdout is not None and first.stderr is not None
        assert second.pid == 4001
    finally:
        _close(first)
        _close(second)


def test_any_stop_signal_is_one_ctrl_break_to_the_group(
    spawner: WindowsSpawner, api: FakeWinApi, tmp_path: Path
) -> None:
    handle = spawner.spawn(("C:/app/web.exe",), {}, tmp_path)
    try:
        spawner.stop(handle, signal.SIGTERM, group=True)
        spawner.stop(handle, signal.SIGINT, group=False)
        spawner.stop(handle, signal.SIGABRT, group=True)
        assert api.breaks == [4000, 4000, 4000]  # no SIGCONT after any of them
        assert api.terminated == []
    finally:
        _close(handle)


def test_a_reload_signal_is_refused_not_turned_into_a_stop(
    spawner: WindowsSpawner, api: FakeWinApi, tmp_path: Path
) -> None:
    handle = spawner.spawn(("C:/app/web.exe",), {}, tmp_path)
    try:
        with pytest.raises(Undeliverable, match="cannot send SIGINT to a process"):
            spawner.send(handle, signal.SIGINT, group=False)
        spawner.send(handle, getattr(signal, "SIGCONT", 18), group=True)  # means nothing
        assert api.breaks == []
        assert api.terminated == []
    finally:
        _close(handle)


def test_a_kill_terminates_the_whole_job(
    spawner: WindowsSpawner, api: FakeWinApi, tmp_path: Path
) -> None:
    handle = spawner.spawn(("C:/app/web.exe",), {}, tmp_path)
    try:
        (job,) = api.jobs
        api.jobs[job].add(7777)  # a grandchild: in the job, whatever it does
        assert spawner.group_alive(handle)
        spawner.stop(handle, getattr(signal, "SIGKILL", 9), group=True)
        assert api.terminated == [(job, KILLED_CODE)]
        assert not spawner.group_alive(handle)
        assert api.closed == []  # the main process is not reaped yet: the job stays
        FakePopen.made[0].returncode = KILLED_CODE
        assert spawner.reap() == [(4000, KILLED_CODE)]
        assert not spawner.group_alive(handle)
        assert api.closed == [job]  # reaped and empty: the handle is given back
        assert spawner.strays(()) == []  # nothing can leave a job
    finally:
        _close(handle)


def test_shell_true_runs_through_cmd_exe() -> None:
    assert windows_argv((COMSPEC, "-c", "echo %PORT% && web"), COMSPEC) == [
        COMSPEC,
        "/d",
        "/s",
        "/c",
        "echo %PORT% && web",
    ]
    assert windows_argv(("/bin/sh", "-c", "x"), COMSPEC)[:4] == [COMSPEC, "/d", "/s", "/c"]
    # a program that merely takes -c is left alone
    assert windows_argv(("C:/py/python.exe", "-c", "pass"), COMSPEC) == [
        "C:/py/python.exe",
        "-c",
        "pass",
    ]


def test_a_program_that_cannot_start_is_127_and_leaks_nothing(
    spawner: WindowsSpawner, api: FakeWinApi, tmp_path: Path
) -> None:
    with pytest.raises(SpawnFailed) as caught:
        spawner.spawn(("C:/app/missing.exe",), {}, tmp_path)
    assert caught.value.code == 127
    assert "cannot start C:/app/missing.exe" in caught.value.message
    assert api.closed == list(api.jobs)  # its job is given back


def test_a_child_that_cannot_join_its_job_is_not_left_running(
    spawner: WindowsSpawner, api: FakeWinApi, tmp_path: Path
) -> None:
    api.fail_assign = True
    with pytest.raises(SpawnFailed, match="no Job Object"):
        spawner.spawn(("C:/app/web.exe",), {}, tmp_path)
    assert FakePopen.made[0].killed
    assert api.closed == list(api.jobs)


def test_user_is_refused_on_windows(spawner: WindowsSpawner, tmp_path: Path) -> None:
    with pytest.raises(SpawnFailed, match="not supported on Windows") as caught:
        spawner.spawn(("C:/app/web.exe",), {}, tmp_path, user="www-data")
    assert caught.value.code == 126
    assert FakePopen.made == []


def test_the_portable_plumbing_reads_pipes_with_threads_on_windows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    poller = Plumbing("portable").poller()
    assert isinstance(poller, ThreadedPoller)
    poller.close()


# -- finding programs as Windows does --------------------------------------------------------


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lookup, "_on_windows", lambda: True)


def test_a_bare_name_finds_its_exe_on_path(windows: None, tmp_path: Path) -> None:
    bin_dir = tmp_path / "Scripts"
    bin_dir.mkdir()
    (bin_dir / "gunicorn.exe").write_bytes(b"MZ")
    (bin_dir / "manage.cmd").write_text("@echo off")
    env = {"PATH": str(bin_dir), "PATHEXT": ".COM;.EXE;.BAT;.CMD"}
    assert find_executable("gunicorn", env, tmp_path) == str(bin_dir / "gunicorn.exe")
    assert find_executable("manage", env, tmp_path) == str(bin_dir / "manage.cmd")
    assert find_executable("gunicorn.exe", env, tmp_path) == str(bin_dir / "gunicorn.exe")


def test_the_working_directory_is_not_searched_first(windows: None, tmp_path: Path) -> None:
    (tmp_path / "web.exe").write_bytes(b"MZ")  # planted where the process runs
    with pytest.raises(ExecutableNotFound, match="not found on PATH"):
        find_executable("web", {"PATH": str(tmp_path / "nowhere")}, tmp_path)


def test_bin_sh_is_cmd_exe_on_windows(windows: None, tmp_path: Path) -> None:
    assert find_executable("/bin/sh", {"COMSPEC": COMSPEC}, tmp_path) == COMSPEC


def test_a_relative_path_with_an_extension_found_by_pathext(windows: None, tmp_path: Path) -> None:
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "run.bat").write_text("@echo off")
    found = find_executable("tools/run", {"PATH": ""}, tmp_path)
    assert found == os.path.join(tmp_path, "tools/run") + ".bat"
    with pytest.raises(ExecutableNotFound, match="does not exist"):
        find_executable("tools/missing", {"PATH": ""}, tmp_path)


def test_a_non_blocking_pipe_is_not_taken_for_its_end_by_a_reader_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The loop's wake-up pipe is non-blocking (Python 3.12 can do that on Windows too): its
    reader thread must wait for data, not read "nothing yet" as the pipe's end."""
    from prodserver.runtime import plumbing

    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(plumbing, "_is_socket", lambda fd: False)  # a pipe, as on Windows
    r, w = os.pipe()
    os.set_blocking(r, False)
    poller = ThreadedPoller()
    try:
        poller.register(r, plumbing.READ)
        assert poller.poll(0.05) == []  # nothing written yet, and not the end either
        os.write(w, b"x")
        ready: list[tuple[int, int]] = []
        for _ in range(100):
            ready = poller.poll(0.1)
            if ready:
                break
        assert ready == [(r, plumbing.READ)]
        assert poller.read(r, 10) == b"x"
    finally:
        poller.close()
        os.close(w)
        os.close(r)
