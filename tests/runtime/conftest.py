"""Fakes for the supervisor's decisions: a spawner, a clock and hooks that only record."""

from __future__ import annotations

import signal
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from prodserver.runtime.process import Unit
from prodserver.runtime.spawner import ChildHandle


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_700_000_000.0 + self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeSpawner:
    """Records what the supervisor asks of the OS; children exit when a test says so."""

    def __init__(self) -> None:
        self.next_pid = 100
        self.spawned: list[tuple[int, tuple[str, ...], dict[str, str]]] = []
        self.signals: list[tuple[int, int, bool]] = []
        self.groups: set[int] = set()
        self.main: set[int] = set()
        self._exits: list[tuple[int, int]] = []
        self.stray_pids: list[int] = []
        #: SIGCONTs, kept apart: each follows a stop signal (see ``test_stop_signal_then_sigcont``)
        self.continued: list[tuple[int, bool]] = []

    def prepare(self) -> None:
        pass

    def spawn(
        self,
        argv: tuple[str, ...],
        env: Mapping[str, str],
        cwd: Path,
        *,
        user: str | None = None,
    ) -> ChildHandle:
        pid = self.next_pid
        self.next_pid += 1
        self.spawned.append((pid, argv, dict(env)))
        self.groups.add(pid)
        self.main.add(pid)
        return ChildHandle(pid, pid)

    def send(self, handle: ChildHandle, sig: int, *, group: bool) -> None:
        if sig == signal.SIGCONT:
            self.continued.append((handle.pid, group))
            return
        self.signals.append((handle.pid, sig, group))

    def stop(self, handle: ChildHandle, sig: int, *, group: bool) -> None:
        self.signals.append((handle.pid, sig, group))
        if sig not in (signal.SIGKILL, signal.SIGCONT):
            self.continued.append((handle.pid, group))

    def kill(self, handle: ChildHandle) -> None:
        self.signals.append((handle.pid, signal.SIGKILL, True))
        if handle.pid in self.main:
            self.exit(handle.pid, -signal.SIGKILL)
        self.groups.discard(handle.pgid)

    def group_alive(self, handle: ChildHandle) -> bool:
        return handle.pgid in self.groups

    def reap(self) -> list[tuple[int, int]]:
        out, self._exits = self._exits, []
        return out

    def strays(self, known: Iterable[int]) -> list[int]:
        return list(self.stray_pids)

    def stop_pids(self, pids: Iterable[int]) -> None:
        for pid in pids:
            self.signals.append((pid, signal.SIGTERM, False))
            self.continued.append((pid, False))

    def kill_pids(self, pids: Iterable[int]) -> None:
        for pid in pids:
            self.signals.append((pid, signal.SIGKILL, False))

    # -- for tests ---------------------------------------------------------------------

    def exit(self, pid: int, returncode: int, *, group_empties: bool = True) -> None:
        """Make ``pid`` exit (negative: killed by that signal)."""
        self.main.discard(pid)
        self._exits.append((pid, returncode))
        if group_empties:
            self.groups.discard(pid)

    def pid_of(self, argv_marker: str) -> int:
        """The latest pid whose argv contains ``argv_marker``."""
        for pid, argv, _env in reversed(self.spawned):
            if any(argv_marker in word for word in argv):
                return pid
        raise KeyError(argv_marker)


class FakeHooks:
    """Collects prodserver's messages as ``(label, text)``."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def attached(self, unit: Unit) -> None:
        pass

    def exited(self, unit: Unit) -> None:
        pass

    def released(self, unit: Unit, pgid: int) -> None:
        pass

    def say(self, unit: Unit | None, text: str) -> None:
        self.messages.append((unit.label if unit else "prodserver", text))

    def texts(self, label: str | None = None) -> list[str]:
        return [t for lbl, t in self.messages if label is None or lbl == label]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def spawner() -> FakeSpawner:
    return FakeSpawner()


@pytest.fixture
def hooks() -> FakeHooks:
    return FakeHooks()
