"""Windows: the same :class:`~prodserver.runtime.spawner.Spawner` shape without POSIX groups."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from prodserver.runtime.spawner import ChildHandle, SpawnFailed


class WindowsSpawner:
    """Windows: a new process group per child, CTRL_BREAK to stop, psutil to kill the tree.

    Windows has no process groups in the POSIX sense and no signals beyond console events:
    the stop signal becomes ``CTRL_BREAK_EVENT`` to the child's console process group, and a
    forced stop kills the whole process tree found through psutil.
    """

    def __init__(self) -> None:
        self._popens: dict[int, subprocess.Popen[bytes]] = {}
        self._trees: dict[int, set[int]] = {}

    def prepare(self) -> None:
        return None

    def spawn(
        self,
        argv: tuple[str, ...],
        env: Mapping[str, str],
        cwd: Path,
        *,
        user: str | None = None,
    ) -> ChildHandle:
        if user is not None:
            raise SpawnFailed(f"cannot run as user {user!r}: `user =` is not supported on Windows")
        flags = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)
        try:
            popen = subprocess.Popen(
                list(argv),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                creationflags=flags,
            )
        except OSError as exc:
            raise SpawnFailed(f"cannot start {argv[0]}: {exc}") from exc
        self._popens[popen.pid] = popen
        self._trees[popen.pid] = {popen.pid}
        out = popen.stdout.fileno() if popen.stdout else None
        err = popen.stderr.fileno() if popen.stderr else None
        return ChildHandle(popen.pid, popen.pid, out, err, popen)

    def _tree(self, pid: int) -> set[int]:
        import psutil

        tree = self._trees.setdefault(pid, {pid})
        with contextlib.suppress(psutil.Error):
            tree.update(p.pid for p in psutil.Process(pid).children(recursive=True))
        return tree

    def send(self, handle: ChildHandle, sig: int, *, group: bool) -> None:
        event = getattr(signal, "CTRL_BREAK_EVENT", sig)
        self._tree(handle.pid)
        with contextlib.suppress(OSError):
            os.kill(handle.pid, event)

    def kill(self, handle: ChildHandle) -> None:
        import psutil

        for pid in self._tree(handle.pid):
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()

    def group_alive(self, handle: ChildHandle) -> bool:
        import psutil

        alive = {p for p in self._tree(handle.pid) if psutil.pid_exists(p)}
        self._trees[handle.pid] = alive
        return bool(alive)

    def reap(self) -> list[tuple[int, int]]:
        done = []
        for pid, popen in list(self._popens.items()):
            code = popen.poll()
            if code is not None:
                del self._popens[pid]
                done.append((pid, code))
        return done

    def strays(self, known: Iterable[int]) -> list[int]:
        return []

    def kill_pids(self, pids: Iterable[int], sig: int) -> None:
        import psutil

        for pid in pids:
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()
