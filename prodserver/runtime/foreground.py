"""One child in the foreground, waited for: ``run`` and ``exec`` where POSIX tools are missing.

On Linux and macOS ``run`` waits for its command through SIGCHLD and a wake-up pipe
(:mod:`prodserver.runtime.oneoff`), and ``exec`` replaces prodserver (``execve``). Windows has
neither SIGCHLD nor a real ``execve`` (its ``os.exec*`` starts a new process and ends the old
one at once, so whoever started prodserver would see it exit while the server runs on). There
both commands start the child, stay its parent, and wait for it here:

- the child shares prodserver's console, so Ctrl-C and Ctrl-Break reach it from the console
  directly (an interactive ``manage.py shell`` keeps Ctrl-C for itself); prodserver catches
  them only to stay alive until the child is done, and does not send them again, which
  would deliver them twice (the rule ``run`` follows in a POSIX terminal's foreground);
- every other signal prodserver catches and the system has is forwarded to the child;
- prodserver exits with the child's exit code (128 + N for a POSIX signal N).

The loop is the same on every system, so it runs (and is tested) on Linux too.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from types import FrameType, ModuleType

from prodserver.exitcodes import signal_exit_code
from prodserver.records import Protocol

#: the longest single wait: on Windows a signal handler only runs once a wait returns
SLICE = 0.1
#: what ``run`` forwards where the system has it (Windows: SIGTERM, SIGINT and SIGBREAK)
FORWARDED_NAMES = ("SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGINT", "SIGQUIT", "SIGBREAK")


class Waitable(Protocol):
    """The part of ``subprocess.Popen`` the loop uses."""

    def wait(self, timeout: float | None = None) -> int:
        """The exit code (negative: killed by that signal); TimeoutExpired meanwhile."""

    def send_signal(self, sig: int) -> None: ...


def signals_named(names: Collection[str], module: ModuleType | object = signal) -> set[int]:
    """The numbers of those of ``names`` that ``module`` (the system's ``signal``) defines,
    looked up when asked: a name Windows lacks is left out, never an AttributeError."""
    return {int(getattr(module, name)) for name in names if hasattr(module, name)}


@contextlib.contextmanager
def caught(signals: Collection[int]) -> Iterator[collections.deque[int]]:
    """While inside, ``signals`` are queued instead of acted on; the old handlers after."""
    queue: collections.deque[int] = collections.deque()

    def enqueue(signum: int, frame: FrameType | None) -> None:
        queue.append(signum)

    previous = {sig: signal.signal(sig, enqueue) for sig in signals}
    try:
        yield queue
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def wait_for(
    child: Waitable,
    queue: collections.deque[int],
    *,
    delivered: Collection[int],
) -> int:
    """Wait for ``child``, forwarding each queued signal but those in ``delivered`` (the
    console or terminal gave the child those already); its exit code, 128 + N for signal N."""
    while True:
        try:
            code = child.wait(timeout=SLICE)
        except subprocess.TimeoutExpired:
            code = None
        while queue:
            sig = queue.popleft()
            if sig not in delivered:
                with contextlib.suppress(ProcessLookupError, OSError):
                    child.send_signal(sig)
        if code is not None:
            return signal_exit_code(-code) if code < 0 else code


def delivered_here() -> set[int]:
    """The signals the child gets without prodserver's help: on Windows Ctrl-C and
    Ctrl-Break from the console they share; in a POSIX terminal's foreground, Ctrl-C and
    Ctrl-\\ (the child is in prodserver's process group)."""
    if sys.platform == "win32":
        return signals_named(("SIGINT", "SIGBREAK"))
    return signals_named(("SIGINT", "SIGQUIT")) if terminal_foreground() else set()


def terminal_foreground() -> bool:
    """Whether a terminal's Ctrl-C already reaches our children (we are in its foreground)."""
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError, AttributeError):
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
    return False


def start_child(argv: tuple[str, ...], env: Mapping[str, str], cwd: Path) -> Waitable:
    """Start ``argv`` (``argv[0]`` resolved) in the foreground; raises OSError."""
    if sys.platform == "win32":
        from prodserver.runtime.spawner_windows import JobChild

        return JobChild(argv, env, cwd)
    return subprocess.Popen(list(argv), env=dict(env), cwd=cwd)


def run_foreground(
    argv: tuple[str, ...],
    env: Mapping[str, str],
    cwd: Path,
    *,
    start: Callable[[tuple[str, ...], Mapping[str, str], Path], Waitable] = start_child,
) -> int:
    """Start ``argv``, wait for it forwarding signals (see the module), its exit code.

    Raises OSError when it cannot start.
    """
    with caught(signals_named(FORWARDED_NAMES)) as queue:
        child = start(argv, env, cwd)
        return wait_for(child, queue, delivered=delivered_here())
