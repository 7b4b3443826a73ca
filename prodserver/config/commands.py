"""Command step: one instance's argv, built by its backend (or ``/bin/sh -c`` for a shell
command), and the facts a backend may know of the instance while it builds it.
"""

from __future__ import annotations

import functools
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prodserver import codes
from prodserver.backends.base import BackendContext
from prodserver.config.context import Context, ProcessEntry
from prodserver.config.ports import port_or_none
from prodserver.config.target import INSTANCE
from prodserver.config.values import option_values
from prodserver.errors import ConfigError
from prodserver.template import Ref, Template


def cwd_for(ctx: Context, values: Mapping[str, Any]) -> Path:
    """The process's working directory: ``cwd``, relative to the project root."""
    return _cwd(ctx.root, str(values.get("cwd", ".") or "."))


@functools.lru_cache(maxsize=256)
def _cwd(root: Path, raw: str) -> Path:
    """Memoised: the processes of a file share a few working directories (a path is
    immutable, so one object serves them all)."""
    path = Path(raw)
    return path if path.is_absolute() else (root / path)


def backend_context(
    ctx: Context, proc: ProcessEntry, values: Mapping[str, Any], lookup: Mapping[str, str]
) -> BackendContext:
    """What a backend may know of one instance while it builds argv or a probe."""
    return BackendContext(
        root=ctx.root,
        env=dict(lookup),
        port=port_or_none(lookup.get("PORT")),
        process=proc.name,
        python=ctx.target.python or sys.executable or "python3",
        cwd=cwd_for(ctx, values),
    )


def build_argv(
    ctx: Context,
    proc: ProcessEntry,
    values: Mapping[str, Any],
    lookup: Mapping[str, str],
    facts: BackendContext | None = None,
) -> list[str] | None:
    """The instance's argv, ``args`` appended; None after recording the problem.

    ``facts``: the instance's :func:`backend_context`, when the caller already has it.
    """
    args = [str(a) for a in values.get("args") or []]
    if values.get("shell"):
        command = values.get("command")
        if not isinstance(command, str):
            ctx.out.error(
                codes.EMPTY_COMMAND,
                "`shell = true` needs a `command`",
                proc.where("shell"),
                'add command = "..." or remove shell',
            )
            return None
        from prodserver.config.shellline import exec_form

        script = command + ("" if not args else " " + shlex.join(args))
        # `exec`: one simple command becomes the process itself (signals, exit status)
        return ["/bin/sh", "-c", exec_form(script)]
    try:
        facts = facts or backend_context(ctx, proc, values, lookup)
        argv = list(proc.backend.argv(values, facts))
    except ConfigError as exc:
        ctx.out.error(exc.code, exc.message, proc.where(), exc.hint)
        return None
    if not argv or not argv[0]:
        ctx.out.error(codes.EMPTY_COMMAND, "the command is empty", proc.where("command"))
        return None
    return argv + args


def numbered_argv(
    ctx: Context, proc: ProcessEntry, lookup: Mapping[str, str]
) -> tuple[str, ...] | None:
    """An export's argv of every copy, the copy's number a ``PRODSERVER_INSTANCE`` reference.

    In ``up`` each copy's number is known when its argv is built (Celery's node name
    ``worker.2@%h``). An export writes one argv for every copy: engines that number their
    copies (systemd's instance name, supervisord's ``process_num``) fill the reference in;
    the others (Compose, Kubernetes) have no number and use the argv built without it.
    """
    numbered = dict(lookup)
    numbered[INSTANCE] = ctx.placeholders.encode(Template((Ref(INSTANCE),)))
    values = option_values(ctx, proc, numbered, report=False)
    if values is None:
        return None
    argv = build_argv(ctx, proc, values, numbered)
    return None if argv is None else tuple(argv)
