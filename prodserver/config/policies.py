"""Policy step: what the supervisor does with a process, read from its option values.

Restart policy and exit codes, stop and reload signals, ``depends_on`` entries and the
account (``user``) a process runs as. Each function takes the typed values and returns the
model's field; a bad value is recorded in the context's sink.
"""

from __future__ import annotations

import functools
import signal
from collections.abc import Mapping
from typing import Any

from prodserver import codes
from prodserver.backends.base import Backend
from prodserver.config.context import Context, Where
from prodserver.config.model import Dependency, RestartPolicy
from prodserver.config.sources import KeyPath


def restart_policy(ctx: Context, values: Mapping[str, Any], where: Where) -> RestartPolicy:
    """``restart = "always"`` or a table; ``max_restarts``/``backoff`` as defaults."""
    raw = values.get("restart", "no")
    fields: dict[str, Any] = {
        "max_restarts": values.get("max_restarts", 5),
        "backoff": values.get("backoff", 1.0),
    }
    if not isinstance(raw, dict):
        return _plain_policy(raw, fields["max_restarts"], fields["backoff"])
    from prodserver.config import units

    for key in ("max_restarts", "backoff", "backoff_max", "window"):
        if key in raw:
            value = raw[key]
            if key != "max_restarts":
                location = ctx.source.location(where("restart", key))
                value = units.parse_duration(value, where=location)
            fields[key] = value
    for key in ("success_exit_codes", "prevent_exit_codes"):
        if key in raw:
            fields[key] = exit_codes(ctx, raw[key], where("restart", key))
    return RestartPolicy(mode=raw.get("policy", "on-failure"), **fields)


@functools.lru_cache(maxsize=64, typed=True)
def _plain_policy(mode: Any, max_restarts: Any, backoff: Any) -> RestartPolicy:
    """A policy given by its mode (a frozen value: the processes that share one share it)."""
    return RestartPolicy(mode=mode, max_restarts=max_restarts, backoff=backoff)


def exit_codes(ctx: Context, raw: Any, path: KeyPath) -> tuple[int, ...]:
    """``restart.success_exit_codes`` / ``prevent_exit_codes``: integers 0-255."""
    ok = isinstance(raw, list) and all(
        isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in raw
    )
    if not ok:
        ctx.out.error(
            codes.BAD_EXIT_CODE_LIST,
            f"exit codes must be a list of integers from 0 to 255, not {raw!r}",
            path,
            "for example success_exit_codes = [3, 4]",
        )
        return ()
    return tuple(sorted(set(raw)))


def stop_signal(ctx: Context, raw: Any, backend: Backend, path: KeyPath) -> signal.Signals:
    """A signal by name (``TERM``, ``SIGTERM``) or number; the backend's by default."""
    if raw is None:
        return backend.stop_signal
    try:
        if isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit()):
            return signal.Signals(int(raw))
        name = str(raw).upper()
        return signal.Signals[name if name.startswith("SIG") else "SIG" + name]
    except (KeyError, ValueError):
        ctx.out.error(
            codes.UNKNOWN_SIGNAL,
            f"unknown signal {raw!r}",
            path,
            "use a name such as SIGTERM, SIGINT, SIGQUIT or SIGHUP",
        )
        return backend.stop_signal


def reload_signal(ctx: Context, raw: Any, backend: Backend, path: KeyPath) -> signal.Signals | None:
    """``reload_signal``: like a stop signal, but none by default."""
    if raw is None:
        return None
    return stop_signal(ctx, raw, backend, path)


def dependencies(raw: Any) -> tuple[Dependency, ...]:
    """``depends_on``: a list of names, or a table of name -> condition."""
    if not raw:
        return ()
    if isinstance(raw, list):
        return tuple(Dependency(str(n)) for n in raw)
    return tuple(Dependency(str(n), c) for n, c in raw.items())


def user_for(ctx: Context, name: str, user: Any, where: Where) -> str | None:
    """`user =` must name an account of this machine (checked at run time, not export)."""
    if not user or not ctx.target.checks_users:
        return user if user else None
    try:
        import pwd
    except ImportError:  # Windows: the runtime refuses `user =` itself
        return str(user)
    text = str(user)
    try:
        if text.isdigit():
            pwd.getpwuid(int(text))
        else:
            pwd.getpwnam(text)
    except (KeyError, ValueError, OverflowError):  # unknown, or a uid no system has
        ctx.out.error(
            codes.UNKNOWN_USER,
            f"process {name!r}: user {text!r} does not exist on this machine",
            where("user"),
            "create the account, or name an existing one (`getent passwd` lists them)",
        )
    return text
