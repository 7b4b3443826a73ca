"""``prodserver run -- CMD...``: one command with the profile's environment.

The command runs in prodserver's own process group, in the foreground: an interactive
``manage.py shell`` keeps the terminal, and the terminal's Ctrl-C reaches it directly (so
prodserver does not forward SIGINT when it is itself in the terminal's foreground, which would
deliver it twice). Other signals sent to prodserver are forwarded, those the system has
(Windows has neither SIGHUP nor the SIGUSRs nor SIGQUIT). The exit code is passed through,
128+N when a signal ended the command. On Windows prodserver waits for the command without
SIGCHLD, and Ctrl-C and Ctrl-Break reach it from the console (see
:mod:`prodserver.runtime.foreground`).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from prodserver.config.model import ResolvedProject
from prodserver.errors import BackendUnavailable, SpawnError, UsageError
from prodserver.exitcodes import signal_exit_code
from prodserver.runtime.lookup import ExecutableNotFound, find_executable, why_not_started


def run_oneoff(
    project: ResolvedProject, argv: Sequence[str], *, waiting: bool | None = None
) -> int:
    """Run ``argv`` in ``project``'s environment from its root; returns its exit code.

    ``waiting``: start it and wait, as on Windows (:mod:`prodserver.runtime.foreground`);
    by default only there.
    """
    if not argv:
        raise UsageError("nothing to run", hint="prodserver run -- python manage.py shell")
    from prodserver.runtime.plumbing import choose

    choose()  # an unknown PRODSERVER_RUNTIME is an error here too (one command, no plumbing)
    env = dict(project.env)
    try:
        program = find_executable(argv[0], env, project.root)
    except ExecutableNotFound as exc:
        raise BackendUnavailable(exc.message) from exc
    if sys.platform == "win32" if waiting is None else waiting:
        from prodserver.runtime.foreground import run_foreground

        try:
            return run_foreground((program, *argv[1:]), env, project.root)
        except OSError as exc:
            raise SpawnError(f"cannot start {program}: {why_not_started(program, exc)}") from None
    return _run_posix([program, *argv[1:]], env, project.root)


def _run_posix(argv: list[str], env: dict[str, str], root: Path) -> int:
    """The command's exit code; prodserver waits on SIGCHLD and a wake-up pipe meanwhile."""
    from prodserver.runtime.foreground import (
        FORWARDED_NAMES,
        caught,
        signals_named,
        terminal_foreground,
    )
    from prodserver.runtime.spawner import unignore_inherited_signals

    # A parent that blocked signals would make this loop deaf to SIGCHLD (it would never see
    # the command end) and pass the mask on; one that ignored signals would pass those on too.
    # The command must start with the defaults, as it would from a login shell.
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    unignore_inherited_signals()
    terminal = terminal_foreground()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    # looked up now, from the signal module: only the signals this system has
    forwarded = signals_named(FORWARDED_NAMES)
    with caught({*forwarded, signal.SIGCHLD}) as queue:
        old_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        try:
            try:
                child = subprocess.Popen(argv, env=env, cwd=root)
            except OSError as exc:
                why = why_not_started(argv[0], exc)
                raise SpawnError(f"cannot start {argv[0]}: {why}") from None
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
            os.close(wake_r)
            os.close(wake_w)
    return signal_exit_code(-code) if code < 0 else code
