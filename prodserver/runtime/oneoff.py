"""``prodserver run -- CMD...``: one command with the profile's environment.

The command runs in prodserver's own process group, in the foreground: an interactive
``manage.py shell`` keeps the terminal, and the terminal's Ctrl-C reaches it directly (so
prodserver does not forward SIGINT when it is itself in the terminal's foreground, which would
deliver it twice). Other signals sent to prodserver are forwarded. The exit code is passed
through, 128+N when a signal ended the command.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import signal
import subprocess
from collections.abc import Sequence
from types import FrameType

from prodserver.config.model import ResolvedProject
from prodserver.errors import BackendUnavailable, UsageError
from prodserver.exitcodes import signal_exit_code
from prodserver.runtime.lookup import ExecutableNotFound, find_executable

#: (those the system has: Windows has neither SIGHUP nor the SIGUSRs nor SIGQUIT)
_FORWARDED = tuple(
    getattr(signal, name)
    for name in ("SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGINT", "SIGQUIT")
    if hasattr(signal, name)
)


def _terminal_delivers() -> bool:
    """Whether a terminal's Ctrl-C already reaches the command (we are in its foreground)."""
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
    return False


def run_oneoff(project: ResolvedProject, argv: Sequence[str]) -> int:
    """Run ``argv`` in ``project``'s environment from its root; returns its exit code."""
    if not argv:
        raise UsageError("nothing to run", hint="prodserver run -- python manage.py shell")
    from prodserver.runtime.plumbing import choose

    choose()  # an unknown PRODSERVER_RUNTIME is an error here too (one command, no plumbing)
    env = dict(project.env)
    try:
        program = find_executable(argv[0], env, project.root)
    except ExecutableNotFound as exc:
        raise BackendUnavailable(exc.message) from exc
    queue: collections.deque[int] = collections.deque()

    def enqueue(signum: int, frame: FrameType | None) -> None:
        queue.append(signum)

    from prodserver.runtime.spawner import unignore_inherited_signals

    # A parent that blocked signals would make this loop deaf to SIGCHLD (it would never see
    # the command end) and pass the mask on; one that ignored signals would pass those on too.
    # The command must start with the defaults, as it would from a login shell.
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
    unignore_inherited_signals()
    terminal = _terminal_delivers()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    previous = {sig: signal.signal(sig, enqueue) for sig in (*_FORWARDED, signal.SIGCHLD)}
    old_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    try:
        child = subprocess.Popen([program, *argv[1:]], env=env, cwd=project.root)
        while child.poll() is None:
            select.select([wake_r], [], [])
            with contextlib.suppress(BlockingIOError):
                while os.read(wake_r, 512):
                    pass
            while queue:
                sig = queue.popleft()
                if sig == signal.SIGCHLD:
                    continue
                if terminal and sig in (signal.SIGINT, signal.SIGQUIT):
                    continue  # the terminal sent it to the command already
                with contextlib.suppress(ProcessLookupError):
                    child.send_signal(sig)
        code = child.returncode
    finally:
        signal.set_wakeup_fd(old_wakeup)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(wake_r)
        os.close(wake_w)
    return signal_exit_code(-code) if code < 0 else code
