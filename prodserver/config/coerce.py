"""Coercion step: one raw value substituted and turned into its declared type.

Input: an :class:`~prodserver.options.Option` (its type), the raw TOML value, the lookup of
variables and the value's key path. Output: the typed value, a
:class:`~prodserver.template.Deferred` where a whole reference is left to the platform, or
``None`` after the problem was recorded in the context's sink.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from prodserver import codes
from prodserver.config.context import Context
from prodserver.config.expand import kept_in, kind_of, substitute
from prodserver.config.sources import KeyPath
from prodserver.declarations.keys import COMMON_OPTIONS, PROJECT_KEYS
from prodserver.errors import ConfigError
from prodserver.options import Option, OptionType
from prodserver.template import Deferred

COMMON_BY_NAME = {o.name: o for o in COMMON_OPTIONS}
PROJECT_BY_NAME = {o.name: o for o in PROJECT_KEYS}
#: typed members of the table-valued common keys (coerced like options before validation)
SUBKEY_TYPES: dict[str, dict[str, OptionType]] = {
    "healthcheck": {
        "interval": "duration",
        "timeout": "duration",
        "start_period": "duration",
        "watchdog": "duration",
        "retries": "integer",
    },
    "restart": {
        "backoff": "duration",
        "backoff_max": "duration",
        "window": "duration",
        "max_restarts": "integer",
    },
    "autoscale": {"min": "integer", "max": "integer", "cpu": "integer"},
}
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def coerce(ctx: Context, opt: Option, raw: Any, lookup: Mapping[str, str], path: KeyPath) -> Any:
    """Substitute and coerce one value to its declared type; None after a problem."""
    t = opt.type
    if t == "argv":
        return words(ctx, raw, lookup, path)
    if isinstance(raw, str):
        return _coerce_text(ctx, opt, raw, lookup, path)
    if t == "duration" and isinstance(raw, (int, float)) and not isinstance(raw, bool):
        from prodserver.config import units

        try:
            seconds = units.parse_duration(raw, where=ctx.source.location(path))
        except ConfigError as exc:
            ctx.out.problems.extend(exc.problems)
            return None
        return bounded_duration(ctx, seconds, path)
    if t == "size" and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if t == "list" and isinstance(raw, list):
        item = Option(opt.name, "string", "")
        return [coerce(ctx, item, v, lookup, (*path, str(i))) for i, v in enumerate(raw)]
    if t == "table" and isinstance(raw, dict):
        table = free_table(ctx, raw, lookup, path)
        for sub, sub_type in SUBKEY_TYPES.get(opt.name, {}).items():
            if sub in raw:
                value = coerce(ctx, Option(sub, sub_type, ""), raw[sub], lookup, (*path, sub))
                if value is None:
                    return None
                table[sub] = value
        return table
    return raw


def _coerce_text(
    ctx: Context, opt: Option, raw: str, lookup: Mapping[str, str], path: KeyPath
) -> Any:
    """A string value: substituted, then read as the option's type."""
    t = opt.type
    done = substitute(ctx, raw, lookup, path)
    if done is None:
        return None
    text, whole = done
    if t == "enum" and opt.ignore_case:
        # `loglevel = "INFO"`: the tool accepts any case; pass the declared spelling
        return next((c for c in opt.choices if c.lower() == text.lower()), text)
    if t in ("string", "enum"):
        return text
    if t == "list":
        return [item.strip() for item in text.split(",") if item.strip()]
    if kept_in(ctx, text):
        return deferred(ctx, text, whole=whole, t=t, raw=raw, path=path)
    if t in ("integer", "number", "boolean") and not whole:
        ctx.out.error(
            codes.WRONG_TYPE,
            f"expected {article(t)}, found the string {raw!r}",
            path,
            f'write it without quotes, or as one expression such as "${{VAR:-{_example(t)}}}"',
        )
        return None
    try:
        return _parse_typed(ctx, t, text, path)
    except ConfigError as exc:
        ctx.out.problems.extend(exc.problems)
        return None
    except ValueError:
        shown = f"{text!r} (from {raw!r})" if text != raw else repr(text)
        ctx.out.error(codes.WRONG_TYPE, f"expected {article(t)}, found {shown}", path)
        return None


def _parse_typed(ctx: Context, t: OptionType, text: str, path: KeyPath) -> Any:
    """Substituted text read as a scalar type (ValueError or ConfigError when it is not)."""
    from prodserver.config import units

    if t == "integer":
        return int(text.strip())
    if t == "number":
        return float(text.strip())
    if t == "boolean":
        return boolean(text)
    if t == "duration":
        seconds = units.parse_duration(text, where=ctx.source.location(path))
        return bounded_duration(ctx, seconds, path)
    if t == "size":
        return units.parse_size(text, where=ctx.source.location(path))
    return text


def deferred(
    ctx: Context, text: str, *, whole: bool, t: str, raw: str, path: KeyPath
) -> Deferred | None:
    """A typed value left to the platform: only one whole reference can stand there."""
    if whole:
        return Deferred(text)
    ctx.out.error(
        codes.REFERENCE_NOT_ALONE,
        f"expected {article(t)}, found {raw!r}: only a value that is one ${{VARIABLE}} "
        "reference can be left for the platform to fill in",
        path,
        f'write the reference alone, its value in the unit wanted: "${{VAR:-{_example(t)}}}"',
    )
    return None


def bounded_duration(ctx: Context, seconds: float, path: KeyPath) -> float | None:
    """``seconds`` when it is within the key's bounds (config/limits.py), else None."""
    from prodserver.config.limits import duration_problem

    why = duration_problem(path, seconds)
    if why is None:
        return seconds
    ctx.out.error(codes.DURATION_OUT_OF_BOUNDS, f"{why}, found {seconds:g} seconds", path)
    return None


def free_table(
    ctx: Context, raw: Mapping[str, Any], lookup: Mapping[str, str], path: KeyPath
) -> Any:
    """A table of free-form values: strings substituted, a whole expression a number."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str):
            done = substitute(ctx, value, lookup, (*path, key))
            out[key] = None if done is None else _auto(done[0], done[1])
        elif isinstance(value, dict):
            out[key] = free_table(ctx, value, lookup, (*path, key))
        elif isinstance(value, list):
            out[key] = [
                free_table(ctx, {"_": v}, lookup, (*path, key, str(i)))["_"]
                for i, v in enumerate(value)
            ]
        else:
            out[key] = value
    return out


def words(ctx: Context, raw: Any, lookup: Mapping[str, str], path: KeyPath) -> list[str] | None:
    """A command: a string is split into words first, then each word is substituted."""
    if isinstance(raw, str):
        try:
            items: list[Any] = shlex.split(raw)
        except ValueError as exc:
            ctx.out.error(
                codes.COMMAND_UNSPLITTABLE,
                f"cannot split the command: {exc}",
                path,
                "check the quotes",
            )
            return None
    elif isinstance(raw, list):
        items = raw
    else:
        ctx.out.error(
            codes.WRONG_TYPE,
            f"expected a string or an array of strings, found {kind_of(raw)}",
            path,
        )
        return None
    out: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            ctx.out.error(
                codes.WRONG_TYPE, f"expected a string, found {kind_of(item)}", (*path, str(i))
            )
            return None
        done = substitute(ctx, item, lookup, path)
        if done is None:
            return None
        out.append(done[0])
    return out


def article(t: str) -> str:
    """A type's name with its article, for messages."""
    return {
        "integer": "an integer",
        "number": "a number",
        "boolean": "a boolean",
        "duration": "a duration",
        "size": "a size",
    }.get(t, t)


def _example(t: str) -> str:
    return {"integer": "2", "number": "1.5", "boolean": "true"}.get(t, "value")


def boolean(text: str) -> bool:
    """``true``/``1``/``yes``/``on`` and their opposites (any case); ValueError otherwise."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(text)


def _auto(text: str, whole: bool) -> Any:
    """A whole expression inside a free-form table becomes a number where it looks like one."""
    if whole:
        try:
            return int(text)
        except ValueError:
            return text
    return text
