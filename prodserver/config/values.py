"""Option values step: a merged process table read as the values of its options.

Input: the process table, its backend and the lookup of one instance. Output: every option's
typed value (defaults filled in), strictly validated against the backend's declarations, or
``None`` after the problems were recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prodserver import codes
from prodserver.backends.base import Backend
from prodserver.config.coerce import COMMON_BY_NAME, coerce
from prodserver.config.context import Context, ProcessEntry, Where
from prodserver.declarations.keys import COMMON_OPTIONS
from prodserver.options import Option
from prodserver.template import Deferred


def option_values(
    ctx: Context, proc: ProcessEntry, lookup: Mapping[str, str], *, report: bool
) -> dict[str, Any] | None:
    """The options' values; ``report``: validate them (once per process, not per copy)."""
    table, backend, where = proc.table, proc.backend, proc.where
    options = proc.options
    before = len(ctx.out.problems)
    values = _coerced(ctx, table, options, lookup, where)
    for opt in (*COMMON_OPTIONS, *backend.options):
        if opt.name not in values and opt.default is not None and opt.name not in table:
            values[opt.name] = opt.default
    if len(ctx.out.problems) > before:
        return None
    own = [k for k in values if k not in options and k in COMMON_BY_NAME and k != "port"]
    if [k for k in own if left_to_platform(ctx, k, values[k], where)]:
        return None
    if report and not _valid(ctx, values, backend, options, where):
        return None
    return values


def _coerced(
    ctx: Context,
    table: Mapping[str, Any],
    options: Mapping[str, Option],
    lookup: Mapping[str, str],
    where: Where,
) -> dict[str, Any]:
    import shlex

    values: dict[str, Any] = {}
    shell = table.get("shell") is True
    for key, raw in table.items():
        opt = options.get(key) or COMMON_BY_NAME.get(key)
        if opt is None or key == "env":
            continue  # env: substituted once, as the process's environment layer
        if key == "command" and shell:
            # the shell expands it: no substitution by prodserver (no double expansion)
            values[key] = shlex.join(str(x) for x in raw) if isinstance(raw, list) else raw
            continue
        value = coerce(ctx, opt, raw, lookup, where(key))
        if value is not None:
            values[key] = value
    return values


def _valid(
    ctx: Context,
    values: Mapping[str, Any],
    backend: Backend,
    options: Mapping[str, Option],
    where: Where,
) -> bool:
    from prodserver.schema.validate import validate_process

    # a kept reference stands where a number or boolean will be: the platform fills it in,
    # so only the values known here are type-checked
    checked = {
        k: v for k, v in values.items() if not (isinstance(v, Deferred) and typed_key(k, options))
    }
    problems = validate_process(checked, backend, ctx.source, where)
    ctx.out.problems.extend(problems)
    return not problems


def left_to_platform(ctx: Context, key: str, value: Any, where: Where) -> bool:
    """Report a reference kept where prodserver itself needs the value; True if found.

    A typed option of the backend (``workers = "${N:-2}"``) becomes a flag the platform
    fills in. A key prodserver consumes (``scale``, ``enabled``, ``oneshot``,
    ``stop_timeout``, ``max_memory``, a setting inside ``healthcheck`` or ``restart``)
    decides what the export writes, or becomes an engine's own field, which takes a value,
    never a variable. (``port`` is the port rule's: a reference there stays ``${PORT}``.)
    """
    found = False
    inner = value.items() if isinstance(value, Mapping) else [(None, value)]
    for sub, item in inner:
        if not isinstance(item, Deferred):
            continue
        name = key if sub is None else f"{key}.{sub}"
        ctx.out.error(
            codes.REFERENCE_NOT_ALONE,
            f"{name} = {ctx.placeholders.shown(item)!r} cannot be exported: prodserver "
            "needs its value to write the export, which a ${VARIABLE} reference cannot give",
            where(key) if sub is None else where(key, sub),
            f"write the value itself ({name}), per profile if it differs",
        )
        found = True
    return found


def typed_key(key: str, options: Mapping[str, Option]) -> bool:
    """Whether a key's value has a type other than text."""
    opt = options.get(key) or COMMON_BY_NAME.get(key)
    return opt is not None and opt.type not in ("string", "argv", "list", "table")
