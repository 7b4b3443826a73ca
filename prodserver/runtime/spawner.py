"""The seam between the supervisor and the operating system: starting, signalling, reaping.

The supervisor only talks to a :class:`Spawner`; tests replace it with a fake that records
signals and exits on command. :class:`PosixSpawner` is the real one on Linux and macOS,
:class:`~prodserver.runtime.spawner_windows.WindowsSpawner` keeps the same shape on Windows.

On POSIX every child gets, between fork and exec:

- its own session and process group (``setsid``), so that a terminal's Ctrl-C reaches only
  prodserver, which forwards it exactly once, and so that the whole group can be stopped;
- an empty signal mask and default dispositions: Python ignores ``SIGPIPE`` and ``SIGXFSZ``,
  and a shell may have started prodserver with ``SIGINT`` ignored; children must inherit none
  of that;
- on Linux, a parent-death signal (``SIGKILL``) so that it dies with prodserver even when
  prodserver is killed with ``SIGKILL``. The kernel sends it when the *thread* that forked the
  child exits, so children are always spawned from the supervisor's main thread.

prodserver itself becomes a child subreaper on Linux: a daemon that double-forks out of its
group is re-parented to prodserver instead of init, so it is still found and stopped.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from prodserver.records import Protocol
from prodserver.runtime import tree
from prodserver.runtime.lookup import (
    NOT_EXECUTABLE_CODE,
    UnknownUser,
    account_environment,
    find_account,
    why_not_started,
)

#: a command line (``argv[0]`` resolved to a path) and an environment, as the spawner takes them
Argv = tuple[str, ...]
Env = Mapping[str, str]

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
#: a bigger pipe means fewer wake-ups per megabyte of log (the default is 64 KiB)
_PIPE_SIZE = 1 << 20

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Undeliverable(Exception):
    """The system cannot send this signal to a process (Windows has console events only)."""


class SpawnFailed(Exception):
    """A process could not be started; ``code`` is what it counts as (127: not found)."""

    def __init__(self, message: str, code: int = 127) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class ChildHandle:
    """A started child: its pid, its process group and the read ends of its output pipes."""

    __slots__ = ("native", "pgid", "pid", "stderr", "stdout")

    def __init__(
        self,
        pid: int,
        pgid: int,
        stdout: int | None = None,
        stderr: int | None = None,
        native: Any = None,
    ) -> None:
        self.pid = pid
        self.pgid = pgid
        self.stdout = stdout
        self.stderr = stderr
        #: the platform object behind it (a ``subprocess.Popen``), if any
        self.native = native

    def __repr__(self) -> str:
        return f"ChildHandle(pid={self.pid}, pgid={self.pgid})"


class Spawner(Protocol):
    """What the supervisor needs from the operating system."""

    def prepare(self) -> None:
        """Once, before the first spawn (Linux: become a child subreaper)."""

    def spawn(self, argv: Argv, env: Env, cwd: Path, *, user: str | None = None) -> ChildHandle:
        """Start ``argv`` (``argv[0]`` already resolved to a path); raises SpawnFailed.

        With ``user``, the child runs as that account (its groups, gid and uid, and HOME,
        USER and LOGNAME from its password entry unless ``env`` chose them).
        """

    def send(self, handle: ChildHandle, sig: int, *, group: bool) -> None:
        """Send ``sig`` (a ``reload_signal``) to the main process, or to its whole group.

        Raises :class:`Undeliverable` where the system cannot send that signal (Windows).
        """

    def stop(self, handle: ChildHandle, sig: int, *, group: bool) -> None:
        """Ask the child to stop gracefully with its stop signal ``sig``, and make sure a
        stopped (SIGSTOP) child sees it: POSIX sends ``sig`` then SIGCONT, as systemd does;
        Windows sends the group a Ctrl-Break."""

    def kill(self, handle: ChildHandle) -> None:
        """Kill the whole group (and, where groups do not exist, the whole tree) at once."""

    def group_alive(self, handle: ChildHandle) -> bool:
        """Whether any process of the child's group is still there."""

    def reap(self) -> list[tuple[int, int]]:
        """Collect every exited child: ``(pid, returncode)``, negative for a signal."""

    def strays(self, known: Iterable[int]) -> list[int]:
        """Descendants that are not in ``known`` (adopted daemons that left their group)."""

    def stop_pids(self, pids: Iterable[int]) -> None:
        """Ask individual processes (strays) to stop (SIGTERM, then SIGCONT), ignoring those
        already gone."""

    def kill_pids(self, pids: Iterable[int]) -> None:
        """Kill individual processes (strays) at once, ignoring those already gone."""


def _load_prctl() -> Callable[..., int] | None:
    from prodserver.runtime.libc import int_function

    return int_function("prctl", "iLLLL")


class PosixSpawner:
    """Real processes on Linux and other POSIX systems.

    ``die_with_parent`` sets the parent-death signal in each child. It needs Python code
    between fork and exec, which makes every spawn several milliseconds slower (no vfork,
    copy-on-write faults), so ``prodserver up`` turns it off when its guardian
    (:mod:`prodserver.runtime.guardian`) already kills every group if prodserver dies.
    """

    def __init__(self, *, die_with_parent: bool = True) -> None:
        self._prctl = _load_prctl() if die_with_parent else None
        self._parent = os.getpid()
        self._popens: dict[int, subprocess.Popen[bytes]] = {}
        self.subreaper = False

    def prepare(self) -> None:
        prctl = self._prctl or _load_prctl()
        if prctl is not None:
            self.subreaper = prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        self._parent = os.getpid()
        unignore_inherited_signals()

    def _child_setup(self) -> None:
        # Runs in the child between fork and exec (only when a parent-death signal is
        # wanted: running Python there costs milliseconds per spawn, see ``die_with_parent``).
        signal.pthread_sigmask(signal.SIG_SETMASK, ())
        if self._prctl is not None:
            self._prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != self._parent:
                # prodserver died between fork and prctl: do not outlive it
                os.kill(os.getpid(), signal.SIGKILL)

    def spawn(self, argv: Argv, env: Env, cwd: Path, *, user: str | None = None) -> ChildHandle:
        creds: dict[str, Any] = {}
        if user is not None:
            env, creds = _credentials(user, env)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        for fd in (out_w, err_w):
            with contextlib.suppress(OSError, AttributeError):
                import fcntl

                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
        try:
            popen = subprocess.Popen(
                list(argv),
                executable=argv[0],
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out_w,
                stderr=err_w,
                close_fds=True,
                start_new_session=True,
                restore_signals=True,
                preexec_fn=self._child_setup if self._prctl is not None else None,  # noqa: PLW1509 - see comment
                **creds,
            )
        except OSError as exc:
            os.close(out_r)
            os.close(err_r)
            code = 126 if isinstance(exc, PermissionError) else 127
            what = why_not_started(argv[0], exc)
            raise SpawnFailed(f"cannot start {argv[0]}: {what}", code) from exc
        finally:
            os.close(out_w)
            os.close(err_w)
        os.set_blocking(out_r, False)
        os.set_blocking(err_r, False)
        self._popens[popen.pid] = popen
        handle = ChildHandle(popen.pid, popen.pid, out_r, err_r, popen)
        self._started(handle)
        return handle

    def _started(self, handle: ChildHandle) -> None:
        """A child was started (the portable spawner remembers its session)."""

    def send(self, handle: ChildHandle, sig: int, *, group: bool) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if group:
                os.killpg(handle.pgid, sig)
            else:
                os.kill(handle.pid, sig)

    def stop(self, handle: ChildHandle, sig: int, *, group: bool) -> None:
        self.send(handle, sig, group=group)
        if sig not in (signal.SIGKILL, signal.SIGCONT):
            self.send(handle, signal.SIGCONT, group=group)

    def kill(self, handle: ChildHandle) -> None:
        self.send(handle, signal.SIGKILL, group=True)

    def group_alive(self, handle: ChildHandle) -> bool:
        return _group_exists(handle.pgid)

    def reap(self) -> list[tuple[int, int]]:
        done: list[tuple[int, int]] = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            code = os.waitstatus_to_exitcode(status)
            popen = self._popens.pop(pid, None)
            if popen is not None:
                # we reaped it ourselves: tell Popen so it does not warn or wait again
                popen.returncode = code
            done.append((pid, code))
        return done

    def strays(self, known: Iterable[int]) -> list[int]:
        # the subreaper made every orphan below us our child: each one we did not start
        return tree.adopted(set(known))

    def stop_pids(self, pids: Iterable[int]) -> None:
        pids = list(pids)
        self._signal_pids(pids, signal.SIGTERM)
        self._signal_pids(pids, signal.SIGCONT)

    def kill_pids(self, pids: Iterable[int]) -> None:
        self._signal_pids(pids, signal.SIGKILL)

    def _signal_pids(self, pids: Iterable[int], sig: int) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)


class PortableSpawner(PosixSpawner):
    """POSIX without Linux's extras: no subreaper, no parent-death signal, no ``/proc``.

    Starting, signalling groups and reaping are :class:`PosixSpawner`'s. A daemon that left
    its group is not adopted by prodserver here, so :meth:`strays` finds it another way: in
    the session of a child prodserver started, or by this run's ``token`` in its environment
    (:func:`prodserver.runtime.tree.run_processes`, through psutil). It is stopped with the
    rest and killed at the stop's deadline, as on Linux; only a daemon that also cleared its
    environment and left the session escapes (Linux's subreaper still finds that one).
    """

    def __init__(self, *, token: str | None = None) -> None:
        super().__init__(die_with_parent=False)
        self.token = token
        #: the session (and group) ids of the children started, while anything is in them
        self._sessions: set[int] = set()
        #: processes (pid, session) found without the token: not read again
        self._untagged: set[tuple[int, int]] = set()

    def prepare(self) -> None:
        self._parent = os.getpid()
        unignore_inherited_signals()

    def _started(self, handle: ChildHandle) -> None:
        self._sessions.add(handle.pgid)

    def strays(self, known: Iterable[int]) -> list[int]:
        found = tree.run_processes(
            self._sessions, self.token, set(known), use_proc=False, untagged=self._untagged
        )
        # a session whose leader was reaped, whose group is empty and where nothing was
        # found is over (its id may be reused)
        seen = set()
        for pid in found:
            with contextlib.suppress(OSError):
                seen.add(os.getsid(pid))
        self._sessions = {
            sid
            for sid in self._sessions
            if sid in self._popens or sid in seen or _group_exists(sid)
        }
        return found


def _credentials(user: str, env: Mapping[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
    """The environment and the ``subprocess.Popen`` arguments that make a child run as ``user``.

    ``subprocess`` sets the groups, then the gid, then the uid (the order ``initgroups``,
    ``setgid``, ``setuid`` needs: each step after the uid change would be refused) between
    fork and exec without running any Python code there. A ``preexec_fn`` (the parent-death
    signal) runs after the change, so the kernel does not clear that signal again.
    """
    try:
        account = find_account(user)
    except UnknownUser as exc:
        raise SpawnFailed(exc.message, NOT_EXECUTABLE_CODE) from None
    child_env = account_environment(env, account, os.environ)
    if account.uid == os.geteuid() and account.gid == os.getegid():
        return child_env, {}  # already that user: nothing to drop (and no root needed)
    if os.geteuid() != 0:
        raise SpawnFailed(
            f"cannot switch to user {account.name!r}: prodserver is not running as root",
            NOT_EXECUTABLE_CODE,
        )
    creds: dict[str, Any] = {
        "user": account.uid,
        "group": account.gid,
        "extra_groups": list(account.groups),
    }
    return child_env, creds


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def unignore_inherited_signals() -> None:
    """Make the signals this process inherited as ignored reach its future children.

    A signal prodserver inherited as ignored (a shell's background job ignores SIGINT and
    SIGQUIT) would stay ignored in every child. A caught signal is reset to its default by
    exec, so catch those here with a handler that does nothing: prodserver still ignores
    them, its children do not. SIGPIPE and SIGXFSZ, which Python itself ignores, are restored
    by ``subprocess``'s ``restore_signals``.
    """
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP, signal.SIGPIPE, signal.SIGXFSZ):
            continue
        if _getsignal(sig) is signal.Handlers.SIG_IGN:
            with contextlib.suppress(OSError, ValueError):
                signal.signal(sig, _ignore)


def _ignore(signum: int, frame: Any) -> None:
    """A handler that does nothing (see :meth:`PosixSpawner.prepare`)."""


def _getsignal(sig: int) -> Any:
    try:
        return signal.getsignal(sig)
    except (ValueError, OSError):
        return None
