"""``prodserver exec NAME``: become one resolved process (the container entry point).

No supervisor stays in between: the process replaces prodserver (``execve``), so it is PID 1
in a container and receives the orchestrator's signals directly.

Windows has no ``execve``: its ``os.exec*`` starts a new process and ends prodserver at once,
so whoever started prodserver would see it exit while the server runs on. There prodserver
starts the process in its own console and a Job Object, waits for it, and exits with its
exit code (:mod:`prodserver.runtime.foreground`): Ctrl-C and Ctrl-Break reach the process
from the console as they would without prodserver, and if prodserver is killed the job takes
the process with it.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

from prodserver.config.model import Instance, ResolvedProject
from prodserver.errors import BackendUnavailable, SpawnError, UsageError
from prodserver.runtime.lookup import (
    Account,
    ExecutableNotFound,
    UnknownUser,
    account_environment,
    find_account,
    find_executable,
    why_not_started,
)
from prodserver.suggest import did_you_mean


def choose_instance(project: ResolvedProject, name: str) -> Instance:
    """The instance ``NAME`` (its first) or ``NAME.N`` designates.

    With ``scale > 1`` a plain name means instance 1: in a container the orchestrator does the
    scaling, and every replica runs the same command.
    """
    process, _, number = name.partition(".")
    if process not in project.processes and name in project.processes:
        process, number = name, ""
    spec = project.processes.get(process)
    if spec is None:
        known = list(project.processes)
        hint = did_you_mean(process, known) or f"known: {', '.join(known)}"
        raise UsageError(f"no process named {process!r} in profile {project.profile!r}", hint=hint)
    if not number:
        return spec.instances[0]
    if not number.isdigit() or not 1 <= int(number) <= len(spec.instances):
        raise UsageError(
            f"{process!r} has {len(spec.instances)} instance(s); {name!r} is not one of them",
            hint=f"use {process}.1 to {process}.{len(spec.instances)}",
        )
    return spec.instances[int(number) - 1]


def exec_process(project: ResolvedProject, name: str, *, waiting: bool | None = None) -> NoReturn:
    """Replace this process with the process ``name`` (``web`` or ``web.2``).

    ``waiting``: start it, wait for it and exit with its code (``SystemExit``), as on
    Windows, where this is the default. Errors name the instance and are masked: a program
    or directory may come from a secret.
    """
    waiting = sys.platform == "win32" if waiting is None else waiting
    from prodserver.config.display import masker_for

    inst = choose_instance(project, name)
    spec = project.processes[inst.process]
    mask = masker_for(project).text
    env = dict(inst.env)
    env.setdefault("PYTHONUNBUFFERED", "1")
    account = None
    if spec.user is not None and sys.platform == "win32":
        raise SpawnError(f"{inst.label}: `user =` is not supported on Windows")
    if spec.user is not None:
        try:
            account = find_account(spec.user)
        except UnknownUser as exc:
            raise SpawnError(f"{inst.label}: {mask(exc.message)}") from None
        env = account_environment(env, account, os.environ)
    if not spec.cwd.is_dir():
        raise SpawnError(
            f"{inst.label}: working directory {mask(str(spec.cwd))} does not exist",
            hint="check the process's cwd in the configuration",
        )
    try:
        program = find_executable(inst.argv[0] if inst.argv else "", env, spec.cwd)
    except ExecutableNotFound as exc:
        raise BackendUnavailable(f"{inst.label}: {mask(exc.message)}") from None
    try:
        os.chdir(spec.cwd)
    except OSError as exc:
        what = exc.strerror or type(exc).__name__
        raise SpawnError(
            f"{inst.label}: cannot enter working directory {mask(str(spec.cwd))}: {what}"
        ) from None
    if account is not None:
        _become(account, inst.label)
    sys.stdout.flush()
    sys.stderr.flush()
    if waiting:
        failure = f"{inst.label}: cannot start {mask(program)}"
        raise SystemExit(_wait_for((program, *inst.argv[1:]), env, spec.cwd, failure))
    # Python ignores these; the program we become must start with the defaults.
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    try:
        os.execve(program, list(inst.argv), env)  # noqa: S606 - argv from the config, no shell
    except OSError as exc:
        what = why_not_started(program, exc)
        raise SpawnError(f"{inst.label}: cannot start {mask(program)}: {what}") from None


def _wait_for(argv: tuple[str, ...], env: dict[str, str], cwd: Path, failure: str) -> int:
    """Run ``argv`` as prodserver's child until it ends; its exit code. ``failure`` starts
    the error message when it cannot start."""
    from prodserver.runtime.foreground import run_foreground

    try:
        return run_foreground(argv, env, cwd)
    except OSError as exc:
        raise SpawnError(f"{failure}: {exc.strerror or type(exc).__name__}") from None


def _become(account: Account, label: str) -> None:
    """Drop to ``account``: groups first, then the gid, then the uid (which ends the right)."""
    try:
        os.setgroups(list(account.groups))
        os.setgid(account.gid)
        os.setuid(account.uid)
    except PermissionError:
        raise SpawnError(
            f"{label}: cannot switch to user {account.name!r}: prodserver is not root",
            hint="run prodserver as root, or remove `user =` and start it as that user",
        ) from None
