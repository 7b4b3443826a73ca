"""Windows: the :class:`~prodserver.runtime.spawner.Spawner` shape with consoles and Job Objects.

Windows has no process groups in the POSIX sense and no signals beyond console events:

- every child starts in a **new console process group** (``CREATE_NEW_PROCESS_GROUP``), so a
  Ctrl-C in prodserver's console reaches prodserver only, and a graceful stop is
  ``CTRL_BREAK_EVENT`` sent to the child's group (a Python child sees ``SIGBREAK``; Ctrl-C
  cannot be sent to another group);
- every child is put in a **Job Object** of its own, which plays the part of the POSIX process
  group: every process it starts is in the job too (a daemon cannot leave it), "is anything
  left" asks the job, and a kill (SIGKILL, the end of the grace) terminates the whole job.
  The job is created with ``KILL_ON_JOB_CLOSE``: if prodserver dies, however it dies, the
  system closes its handles and kills every job, which is the guardian's work on POSIX;
- a ``shell = true`` process runs through ``cmd.exe /d /s /c`` (``%COMSPEC%``), not /bin/sh;
- exits are found by polling each child (there is no SIGCHLD), and output is read by the
  reader threads of :class:`~prodserver.runtime.plumbing.ThreadedPoller`.

The Windows calls are behind :class:`WinApi`; :class:`Kernel32` is the real one (ctypes), and
the tests run this module against a fake of it. This module is only ever run for real on
Windows.
"""

from __future__ import annotations

import contextlib
import ntpath
import os
import signal
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from prodserver.runtime.run import signal_name
from prodserver.runtime.spawner import Argv, ChildHandle, Env, SpawnFailed, Undeliverable

#: ``CREATE_NEW_PROCESS_GROUP``: the child leads a console process group of its own
CREATE_NEW_PROCESS_GROUP = 0x00000200
#: ``CTRL_BREAK_EVENT`` (``signal.CTRL_BREAK_EVENT`` on Windows)
CTRL_BREAK_EVENT = 1
#: the exit code a terminated job's processes get (as if killed by SIGKILL: 128 + 9)
KILLED_CODE = 137
#: signals that end a process outright; every other one asks it to stop (Ctrl-Break)
_KILLING = frozenset({9, int(getattr(signal, "SIGKILL", 9))})
#: signals that mean nothing here (SIGCONT, 0 to probe): not sent
_IGNORED = frozenset({0, 18, int(getattr(signal, "SIGCONT", 18))})


class WinApi(Protocol):
    """The Windows calls the spawner makes (real: :class:`Kernel32`; tests: a fake)."""

    def create_job(self) -> int:
        """A new Job Object that kills its processes when its last handle closes."""
        ...

    def assign(self, job: int, process: int) -> None:
        """Put the process (a process handle) in ``job``; raises OSError."""
        ...

    def terminate(self, job: int, code: int) -> None:
        """End every process in ``job`` with exit code ``code``."""
        ...

    def active_processes(self, job: int) -> int:
        """How many processes ``job`` still holds."""
        ...

    def close(self, handle: int) -> None: ...

    def ctrl_break(self, pid: int) -> None:
        """Send CTRL_BREAK_EVENT to the console process group ``pid`` leads."""
        ...


class Kernel32:  # pragma: no cover - Windows only: exercised by the Windows CI job
    """:class:`WinApi` through ctypes."""

    # JOBOBJECTINFOCLASS values and limit flags (winnt.h)
    _BASIC_ACCOUNTING = 1
    _EXTENDED_LIMITS = 9
    _KILL_ON_JOB_CLOSE = 0x2000

    def __init__(self) -> None:
        import ctypes
        from ctypes import wintypes

        self._ctypes = ctypes
        self._k32: Any = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]

        class IoCounters(ctypes.Structure):
            _fields_ = [(name, ctypes.c_ulonglong) for name in ("r", "w", "o", "rb", "wb", "ob")]

        class BasicLimits(ctypes.Structure):
            _fields_ = [
                ("PerProcessUserTimeLimit", ctypes.c_int64),
                ("PerJobUserTimeLimit", ctypes.c_int64),
                ("LimitFlags", wintypes.DWORD),
                ("MinimumWorkingSetSize", ctypes.c_size_t),
                ("MaximumWorkingSetSize", ctypes.c_size_t),
                ("ActiveProcessLimit", wintypes.DWORD),
                ("Affinity", ctypes.c_size_t),
                ("PriorityClass", wintypes.DWORD),
                ("SchedulingClass", wintypes.DWORD),
            ]

        class ExtendedLimits(ctypes.Structure):
            _fields_ = [
                ("BasicLimitInformation", BasicLimits),
                ("IoInfo", IoCounters),
                ("ProcessMemoryLimit", ctypes.c_size_t),
                ("JobMemoryLimit", ctypes.c_size_t),
                ("PeakProcessMemoryUsed", ctypes.c_size_t),
                ("PeakJobMemoryUsed", ctypes.c_size_t),
            ]

        class Accounting(ctypes.Structure):
            _fields_ = [
                ("TotalUserTime", ctypes.c_int64),
                ("TotalKernelTime", ctypes.c_int64),
                ("ThisPeriodTotalUserTime", ctypes.c_int64),
                ("ThisPeriodTotalKernelTime", ctypes.c_int64),
                ("TotalPageFaultCount", wintypes.DWORD),
                ("TotalProcesses", wintypes.DWORD),
                ("ActiveProcesses", wintypes.DWORD),
                ("TotalTerminatedProcesses", wintypes.DWORD),
            ]

        self._extended = ExtendedLimits
        self._accounting = Accounting

    def _check(self, ok: object) -> None:
        if not ok:
            code = self._ctypes.get_last_error()  # type: ignore[attr-defined]
            raise OSError(code, self._ctypes.FormatError(code))  # type: ignore[attr-defined]

    def create_job(self) -> int:
        job = int(self._k32.CreateJobObjectW(None, None) or 0)
        self._check(job)
        limits = self._extended()
        limits.BasicLimitInformation.LimitFlags = self._KILL_ON_JOB_CLOSE
        size = self._ctypes.sizeof(limits)
        ref = self._ctypes.byref(limits)
        self._check(self._k32.SetInformationJobObject(job, self._EXTENDED_LIMITS, ref, size))
        return job

    def assign(self, job: int, process: int) -> None:
        self._check(self._k32.AssignProcessToJobObject(job, process))

    def terminate(self, job: int, code: int) -> None:
        self._k32.TerminateJobObject(job, code)

    def active_processes(self, job: int) -> int:
        info = self._accounting()
        size = self._ctypes.sizeof(info)
        ref = self._ctypes.byref(info)
        ok = self._k32.QueryInformationJobObject(job, self._BASIC_ACCOUNTING, ref, size, None)
        return int(info.ActiveProcesses) if ok else 0

    def close(self, handle: int) -> None:
        self._k32.CloseHandle(handle)

    def ctrl_break(self, pid: int) -> None:
        self._check(self._k32.GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, pid))


@dataclass
class _Child:
    popen: Any
    job: int


def windows_argv(argv: tuple[str, ...], comspec: str) -> list[str]:
    """``argv`` as Windows runs it: a ``/bin/sh -c SCRIPT`` line (``shell = true``) goes to
    ``cmd.exe /d /s /c SCRIPT`` (no AutoRun commands, the script's quotes kept as written)."""
    name = ntpath.basename(argv[0]).lower() if argv else ""
    if len(argv) == 3 and name in ("sh", "sh.exe", "cmd.exe", "cmd") and argv[1] in ("-c", "/c"):
        return [comspec, "/d", "/s", "/c", argv[2]]
    return list(argv)


class WindowsSpawner:
    """Real processes on Windows: a console group and a Job Object per child."""

    def __init__(
        self,
        api: WinApi | None = None,
        popen: Callable[..., Any] = subprocess.Popen,
        comspec: str | None = None,
    ) -> None:
        self._api = api if api is not None else Kernel32()
        self._popen = popen
        self._comspec = comspec or os.environ.get("COMSPEC", "cmd.exe")
        self._children: dict[int, _Child] = {}
        #: jobs whose main process was reaped, kept until they are empty
        self._jobs: dict[int, int] = {}

    def prepare(self) -> None:
        return None

    def spawn(self, argv: Argv, env: Env, cwd: Path, *, user: str | None = None) -> ChildHandle:
        if user is not None:
            raise SpawnFailed(
                f"cannot run as user {user!r}: `user =` is not supported on Windows", 126
            )
        job = self._api.create_job()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            popen = self._popen(
                windows_argv(argv, self._comspec),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=err_w,
                creationflags=CREATE_NEW_PROCESS_GROUP,
            )
        except OSError as exc:
            os.close(out_r)
            os.close(err_r)
            self._api.close(job)
            code = 126 if isinstance(exc, PermissionError) else 127
            raise SpawnFailed(f"cannot start {argv[0]}: {exc.strerror or exc}", code) from exc
        finally:
            os.close(out_w)
            os.close(err_w)
        try:
            # a process it starts in its first instant escapes the job: none does that
            # before its own start-up is over, which takes milliseconds
            self._api.assign(job, int(popen._handle))
        except OSError:
            popen.kill()
            popen.wait()
            os.close(out_r)
            os.close(err_r)
            self._api.close(job)
            raise SpawnFailed(f"cannot start {argv[0]}: no Job Object for it") from None
        self._children[popen.pid] = _Child(popen, job)
        self._jobs[popen.pid] = job
        return ChildHandle(popen.pid, popen.pid, out_r, err_r, popen)

    def send(self, handle: ChildHandle, sig: int, *, group: bool) -> None:
        """A ``reload_signal``: Windows has no way to deliver one (the only event another
        group can be sent is Ctrl-Break, which stops it), so it is refused, not faked."""
        if sig in _KILLING:
            self.kill(handle)
            return
        if sig in _IGNORED:
            return
        raise Undeliverable(
            f"Windows cannot send {signal_name(sig)} to a process (only Ctrl-Break, which stops it)"
        )

    def stop(self, handle: ChildHandle, sig: int, *, group: bool) -> None:
        """A graceful stop is a Ctrl-Break to the child's console group, whatever the stop
        signal (Windows has no other); a killing one terminates the job.

        Windows cannot deliver a console event to one process of a group, so ``group`` makes
        no difference; there is no SIGCONT to follow it (nothing is stopped by SIGSTOP here).
        """
        if sig in _KILLING:
            self.kill(handle)
            return
        with contextlib.suppress(OSError):
            self._api.ctrl_break(handle.pid)

    def kill(self, handle: ChildHandle) -> None:
        job = self._jobs.get(handle.pgid)
        if job is not None:
            self._api.terminate(job, KILLED_CODE)

    def group_alive(self, handle: ChildHandle) -> bool:
        job = self._jobs.get(handle.pgid)
        if job is None:
            return False
        if self._api.active_processes(job) > 0:
            return True
        if handle.pgid not in self._children:  # reaped, and now empty: done with the job
            del self._jobs[handle.pgid]
            self._api.close(job)
        return False

    def reap(self) -> list[tuple[int, int]]:
        done = []
        for pid, child in list(self._children.items()):
            code = child.popen.poll()
            if code is not None:
                del self._children[pid]
                done.append((pid, code))
        return done

    def strays(self, known: Iterable[int]) -> list[int]:
        return []  # nothing leaves a Job Object: every process is stopped with its job

    def stop_pids(self, pids: Iterable[int]) -> None:
        self.kill_pids(pids)  # never called: :meth:`strays` finds none

    def kill_pids(self, pids: Iterable[int]) -> None:
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)  # TerminateProcess on Windows


class JobChild:
    """``run``'s or ``exec``'s one child on Windows: in prodserver's console (Ctrl-C and
    Ctrl-Break reach it from there), in a Job Object of its own (it and everything it starts
    end with prodserver, however prodserver ends). Waited for by
    :func:`prodserver.runtime.foreground.wait_for`; raises OSError when it cannot start."""

    def __init__(
        self,
        argv: tuple[str, ...],
        env: Mapping[str, str],
        cwd: Path,
        *,
        api: WinApi | None = None,
        popen: Callable[..., Any] = subprocess.Popen,
        comspec: str | None = None,
    ) -> None:
        self._api = api if api is not None else Kernel32()
        self._job: int | None = self._api.create_job()
        command = windows_argv(argv, comspec or os.environ.get("COMSPEC", "cmd.exe"))
        try:
            self._popen = popen(command, env=dict(env), cwd=cwd)
        except OSError:
            self._close()
            raise
        try:
            self._api.assign(self._job, int(self._popen._handle))
        except OSError:
            self._popen.kill()
            self._popen.wait()
            self._close()
            raise

    @property
    def pid(self) -> int:
        return int(self._popen.pid)

    def wait(self, timeout: float | None = None) -> int:
        code = int(self._popen.wait(timeout))  # TimeoutExpired until it exits
        self._close()  # what it left running in its job ends with it, as at prodserver's end
        return code

    def send_signal(self, sig: int) -> None:
        """SIGTERM (which Windows only delivers as TerminateProcess) ends the whole job;
        nothing else can be sent (Ctrl-C and Ctrl-Break come from the console itself)."""
        if (sig in _KILLING or sig == int(signal.SIGTERM)) and self._job is not None:
            self._api.terminate(self._job, KILLED_CODE)

    def _close(self) -> None:
        if self._job is not None:
            self._api.close(self._job)
            self._job = None
