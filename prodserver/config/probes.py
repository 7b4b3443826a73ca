"""Health check step: a process's probe, declared (``healthcheck = {...}``) or its
backend's default, with its timings coerced; ``healthcheck = false`` turns it off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from prodserver import codes
from prodserver.backends.base import BackendContext
from prodserver.config.coerce import coerce, words
from prodserver.config.commands import backend_context
from prodserver.config.context import Context, ProcessEntry, Where
from prodserver.config.model import HealthCheck
from prodserver.hostport import AddressError, split_host_port
from prodserver.options import Option
from prodserver.rawsource import KeyPath

if TYPE_CHECKING:
    from prodserver.config.model import ProbeKind

#: (key, default) of a probe's durations
_TIMINGS = (("interval", 5.0), ("timeout", 3.0), ("start_period", 0.0))


def healthcheck(
    ctx: Context,
    proc: ProcessEntry,
    values: Mapping[str, Any],
    lookup: Mapping[str, str],
    facts: BackendContext | None = None,
) -> HealthCheck | None:
    """The instance's probe; None for none, or after recording a problem.

    ``facts``: the instance's :func:`backend_context`, when the caller already has it.
    """
    raw = values.get("healthcheck")
    if raw is False:
        return None
    if raw is None:
        default = proc.backend.default_healthcheck(
            values, facts or backend_context(ctx, proc, values, lookup)
        )
        if default is None:
            return None
        return HealthCheck(
            kind=default.kind, target=default.target, start_period=default.start_period
        )
    return _declared(ctx, cast(Mapping[str, Any], raw), lookup, proc.where)


def _declared(
    ctx: Context, table: Mapping[str, Any], lookup: Mapping[str, str], where: Where
) -> HealthCheck | None:
    kind: ProbeKind = next((k for k in ("http", "tcp", "notify") if k in table), "cmd")
    target: str | tuple[str, ...]
    if kind == "notify":
        target = ""
    elif kind == "cmd":
        argv = words(ctx, table["cmd"], lookup, where("healthcheck", "cmd"))
        if argv is None:
            return None
        target = tuple(argv)
    else:
        target = str(table[kind])
        if kind == "tcp" and not _address_ok(ctx, target, where("healthcheck", "tcp")):
            return None
    status = table.get("status", (200, 399))
    if isinstance(status, int):
        status = (status, status)
    probe: dict[str, Any] = {}
    for key, default_value in _TIMINGS:
        probe[key] = coerce(
            ctx,
            Option(key, "duration", ""),
            table.get(key, default_value),
            lookup,
            where("healthcheck", key),
        )
    retries = coerce(
        ctx,
        Option("retries", "integer", ""),
        table.get("retries", 3),
        lookup,
        where("healthcheck", "retries"),
    )
    if None in probe.values() or retries is None:
        return None
    return HealthCheck(
        kind=kind,
        target=target,
        interval=probe["interval"],
        timeout=probe["timeout"],
        retries=int(retries),
        start_period=probe["start_period"],
        status=(int(status[0]), int(status[1])),
        expect=table.get("expect"),
        role=table.get("role", "both"),
        watchdog=watchdog(ctx, table, kind, lookup, where),
    )


def _address_ok(ctx: Context, target: str, path: KeyPath) -> bool:
    """A literal tcp probe target is ``host:port``; one with a reference is read where it runs."""
    if ctx.placeholders.holds(target) or "$" in target:
        return True
    try:
        split_host_port(target)
    except AddressError as exc:
        ctx.out.error(
            codes.BAD_PROBE_ADDRESS,
            f"healthcheck tcp: {exc}",
            path,
            'healthcheck = { tcp = "127.0.0.1:${PORT}" }',
        )
        return False
    return True


def watchdog(
    ctx: Context, table: Mapping[str, Any], kind: ProbeKind, lookup: Mapping[str, str], where: Where
) -> float | None:
    """``healthcheck.watchdog``: only with ``notify = true``, and more than 0."""
    if "watchdog" not in table:
        return None
    path = where("healthcheck", "watchdog")
    value = coerce(ctx, Option("watchdog", "duration", ""), table["watchdog"], lookup, path)
    if value is None:
        return None
    if kind != "notify" or not value > 0:
        why = "needs notify = true" if kind != "notify" else "must be longer than 0s"
        ctx.out.error(
            codes.BAD_WATCHDOG,
            f"healthcheck watchdog {why}",
            path,
            'healthcheck = { notify = true, watchdog = "30s" }',
        )
        return None
    return float(value)
