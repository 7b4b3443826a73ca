"""``prodserver exec NAME``: become one resolved process (the container entry point).

No supervisor stays in between: the process replaces prodserver (``execve``), so it is PID 1
in a container and receives the orchestrator's signals directly.
"""

from __future__ import annotations

import difflib
import os
import signal
import sys
from typing import NoReturn

from prodserver.config.model import Instance, ResolvedProject
from prodserver.errors import BackendUnavailable, UsageError
from prodserver.runtime.lookup import ExecutableNotFound, find_executable


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
        close = difflib.get_close_matches(process, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
        raise UsageError(f"no process named {process!r} in profile {project.profile!r}", hint=hint)
    if not number:
        return spec.instances[0]
    if not number.isdigit() or not 1 <= int(number) <= len(spec.instances):
        raise UsageError(
            f"{process!r} has {len(spec.instances)} instance(s); {name!r} is not one of them",
            hint=f"use {process}.1 to {process}.{len(spec.instances)}",
        )
    return spec.instances[int(number) - 1]


def exec_process(project: ResolvedProject, name: str) -> NoReturn:
    """Replace this process with the process ``name`` (``web`` or ``web.2``)."""
    inst = choose_instance(project, name)
    spec = project.processes[inst.process]
    env = dict(inst.env)
    env.setdefault("PYTHONUNBUFFERED", "1")
    try:
        program = find_executable(inst.argv[0] if inst.argv else "", env, spec.cwd)
    except ExecutableNotFound as exc:
        raise BackendUnavailable(f"{inst.label}: {exc.message}") from exc
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(spec.cwd)
    # Python ignores these; the program we become must start with the defaults.
    for sig in (signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    os.execve(program, list(inst.argv), env)  # noqa: S606 - argv from the config, no shell
