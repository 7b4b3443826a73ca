"""Port step: which port each process listens on, and where that number came from.

The rule (SPEC): a process's own ``port``; else the base port (``--port``, the shell's
``PORT`` where the target takes shell values, a Procfile's ``.env`` ``PORT``, ``[project]
base_port``, else 5000) plus 100 times the process's position in the file; copy N gets the
first port + N - 1. A process that sets ``PORT`` in its own env listens there, with one copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prodserver import codes
from prodserver.config.coerce import COMMON_BY_NAME, PROJECT_BY_NAME, coerce
from prodserver.config.context import Context, ProcessEntry, Where
from prodserver.config.expand import kept_in
from prodserver.config.model import assigned_port
from prodserver.declarations.defaults import DEFAULT_BASE_PORT
from prodserver.errors import ConfigError


@dataclass(frozen=True)
class PortChoice:
    """A process's first port (None: none, or a problem was recorded) and, for
    ``config --explain``, where its base came from ("" for a process's own ``port``)."""

    port: int | None
    origin: str = ""


def port_for(
    ctx: Context, proc: ProcessEntry, position: int, lookup: Mapping[str, str]
) -> PortChoice:
    """The process's first port, by the rule above."""
    name, table, where = proc.name, proc.table, proc.where
    if "port" in table:
        value = coerce(ctx, COMMON_BY_NAME["port"], table["port"], lookup, where("port"))
        if isinstance(value, int) and not 1 <= value <= 65535:
            ctx.out.error(codes.BAD_PORT, f"port {value} is not in 1-65535", where("port"))
            return PortChoice(None)
        return PortChoice(value if isinstance(value, int) else None)
    base = _given_base(ctx, lookup)
    if base is None:
        base = _project_base(ctx, lookup)
    if base.port is None:
        return base
    port = assigned_port(base.port, position)
    if port > 65535:
        ctx.out.error(
            codes.BAD_PORT,
            f"the assigned port {port} of {name!r} is above 65535",
            where(),
            "lower base_port or set `port` on the process",
        )
        return PortChoice(None, base.origin)
    return PortChoice(port, base.origin)


def _given_base(ctx: Context, lookup: Mapping[str, str]) -> PortChoice | None:
    """The base port the command line or the shell gives; None where neither does."""
    if ctx.port is not None:
        origin = f"--port {ctx.port}"
        if not 1 <= int(ctx.port) <= 65535:
            ctx.out.error(codes.BAD_PORT, f"--port {ctx.port} is not in 1-65535", ())
            return PortChoice(None, origin)
        return PortChoice(ctx.port, origin)
    if not ctx.target.shell_values:
        return None
    shell_port = ctx.environ.get("PORT")
    found = "shell PORT"
    if not shell_port and ctx.source.kind == "procfile":
        # honcho and foreman: the .env beside a Procfile sets the base port
        shell_port, found = lookup.get("PORT"), "env file PORT"
    if not shell_port:
        return None
    if not is_port(shell_port):
        ctx.out.error(
            codes.BAD_PORT,
            f"PORT in the environment is {shell_port!r}, not a port number (1-65535)",
            (),
            "unset PORT or set it to a number",
        )
        return PortChoice(None)
    base = int(shell_port)
    return PortChoice(base, f"{found} {base}")


def _project_base(ctx: Context, lookup: Mapping[str, str]) -> PortChoice:
    """``[project] base_port``, else the default."""
    raw = ctx.project.get("base_port", DEFAULT_BASE_PORT)
    base = coerce(ctx, PROJECT_BY_NAME["base_port"], raw, lookup, ("project", "base_port"))
    if not isinstance(base, int):
        return PortChoice(None)
    if "base_port" in ctx.project:
        where_base = ctx.source.location(("project", "base_port")).render()
        return PortChoice(base, f"base_port {base} ({where_base})")
    return PortChoice(base, f"default base {base}")


def port_from_env(ctx: Context, text: str, scale: int, where: Where) -> tuple[bool, int | None]:
    """A process that sets PORT in its own env: that is its port, for one instance."""
    if kept_in(ctx, text):  # a reference: the platform's value
        return True, None
    if not is_port(text):
        ctx.out.error(
            codes.BAD_PORT,
            f"env PORT is {text!r}, not a port number (1-65535)",
            where("env", "PORT"),
        )
        return True, None
    if scale > 1:
        ctx.out.error(
            codes.BAD_PORT,
            f"env PORT = {text} would give all {scale} instances the same port",
            where("env", "PORT"),
            "set `port = N` instead: instance N then gets port + N - 1",
        )
        return True, None
    return True, int(text)


def references_port(table: Mapping[str, Any]) -> bool:
    """Whether any value of a process (but its env) refers to ``${PORT}``."""
    from prodserver.config.substitute import references

    def walk(value: Any) -> bool:
        if isinstance(value, str):
            if "PORT" not in value:
                return False
            try:
                return "PORT" in references(value)
            except ConfigError:
                return False  # malformed: reported with its key path by substitution
        if isinstance(value, dict):
            return any(walk(v) for v in value.values())
        if isinstance(value, list):
            return any(walk(v) for v in value)
        return False

    return any(walk(v) for k, v in table.items() if k not in ("env",))


def is_port(text: str) -> bool:
    """Whether ``text`` is a port number 1-65535."""
    # the length first: int() refuses a string of thousands of digits (a ValueError)
    return len(text) <= 5 and text.isascii() and text.isdigit() and 1 <= int(text) <= 65535


def port_or_none(text: str | None) -> int | None:
    return int(text) if text and is_port(text) else None
