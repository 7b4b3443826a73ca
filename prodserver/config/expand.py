"""Substitution step: ``${...}`` in a value replaced against a lookup, or kept as a reference.

One grammar parses every value (:mod:`prodserver.config.substitute`); which names stay
references is :meth:`Context.keeps <prodserver.config.context.Context.keeps>`. A kept
reference travels through text (lookups, backends building argv) as a placeholder character
(:class:`~prodserver.template.Placeholders`); the functions below turn such text back into
what each reader of the model needs: a :class:`~prodserver.template.Template`, the text it
materialises to, or the ``${NAME}`` text shown in options and messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prodserver import codes
from prodserver.config.context import Context
from prodserver.config.model import HealthCheck
from prodserver.config.sources import KeyPath
from prodserver.errors import ConfigError, Location, Problem
from prodserver.template import Placeholders, Ref, Template


def kind_of(value: Any) -> str:
    """A TOML value's kind, for messages: ``a string``, ``an array`` ..."""
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def placeholder_in(ctx: Context, text: str, where: Location | KeyPath) -> bool:
    """Refuse text holding the private-use characters that stand for references.

    ``where``: a location, or a key path located only when the text is refused.
    """
    found = Placeholders.check(text)
    if found is None:
        return False
    ctx.out.problems.append(
        Problem(
            codes.PRIVATE_USE_CHARACTER,
            f"the character U+{ord(found):05X} (private use) cannot be used in a value",
            where if isinstance(where, Location) else ctx.source.location(where),
            "remove it: prodserver uses these characters internally",
        )
    )
    return True


def substitute(
    ctx: Context, text: str, lookup: Mapping[str, str], path: KeyPath
) -> tuple[str, bool] | None:
    """(result, was-one-whole-expression) or None after recording the problem.

    The result is text, each kept reference a placeholder (see Deferred for typed keys).
    """
    from prodserver.config.substitute import substitute as expand

    # the placeholders are outside ASCII: most values need no search for them
    if not text.isascii() and placeholder_in(ctx, text, path):
        return None
    if "$" not in text:
        return text, False
    keep = ctx.keep_rule()
    try:
        result = expand(text, lookup, keep=keep)
    except ConfigError:
        # again, located: the key's place in the file is only looked up for a problem
        try:
            expand(text, lookup, keep=keep, where=ctx.source.location(path))
        except ConfigError as exc:
            ctx.out.problems.extend(exc.problems)
        return None
    if not within_total(ctx, len(result.text), path):
        return None
    for name in result.unset:
        ctx.out.warn(
            codes.VARIABLE_UNSET,
            f"variable {name} is not set; substituted an empty string",
            path,
            f"set {name} in the environment or an env file, or give a default: ${{{name}:-value}}",
        )
    if keep is None:
        return result.text, result.whole  # no reference kept: the text is the value
    return ctx.placeholders.encode(result.template), result.whole


def within_total(ctx: Context, produced: int, path: KeyPath) -> bool:
    """Count substitution's output against one limit for the whole resolution.

    Each string has its own limit (substitute.py); this one stops many strings, or one
    string for each of many instances, from adding up to gigabytes.
    """
    from prodserver.config.limits import MAX_SUBSTITUTED_TOTAL

    ctx.substituted += produced
    if ctx.substituted <= MAX_SUBSTITUTED_TOTAL:
        return True
    if not ctx.over_total:
        ctx.over_total = True
        ctx.out.error(
            codes.SUBSTITUTION_TOO_LONG,
            f"substitution produces more than {MAX_SUBSTITUTED_TOTAL} characters in all",
            path,
            "variables are repeated too often or hold huge values; check the expressions "
            "that use them (and `scale`, which repeats them per instance)",
        )
    return False


def substitute_scalar(
    ctx: Context, raw: Any, lookup: Mapping[str, str], path: KeyPath
) -> str | None:
    """An environment value: a string substituted, a number or boolean as TOML writes it."""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, (int, float)):
        return str(raw)
    if not isinstance(raw, str):
        ctx.out.error(codes.NOT_TEXT, f"expected a string, found {kind_of(raw)}", path)
        return None
    done = substitute(ctx, raw, lookup, path)
    return None if done is None else done[0]


def runtime_value(ctx: Context, name: str, local: str) -> str:
    """``local``, or a reference to ``name`` where the target keeps it as one."""
    if ctx.keeps(name):
        return ctx.placeholders.encode(Template((Ref(name),)))
    return local


def kept_in(ctx: Context, text: str) -> bool:
    """Whether ``text`` holds a kept reference (as its placeholder)."""
    return ctx.placeholders.holds(text) and not ctx.placeholders.decode(text).is_literal


def text(ctx: Context, value: str, port: int | None = None) -> str:
    """Placeholder text materialised: what a kept reference gives without the platform.

    A resolution for ``up`` keeps no reference, so this is its text unchanged.
    """
    if not ctx.placeholders.holds(value):
        return value
    template = ctx.placeholders.decode(value)
    if template.is_literal:
        return value
    env = {} if port is None else {"PORT": str(port)}
    return template.materialise(env)


def texts(
    ctx: Context, env: dict[str, str], port: int | None, literal: Mapping[str, str]
) -> dict[str, str]:
    """Every value of ``env`` materialised by :func:`text`, in place.

    ``literal``: variables known to hold no reference (the shared environment's): a value
    equal to one of them is taken as it is, so an instance's environment costs its own
    variables, not every variable of the shared environment again.
    """
    if not ctx.placeholders.handed_out:
        return env  # no reference kept: every value is its text
    for key, value in env.items() - literal.items():
        if ctx.placeholders.holds(value):
            env[key] = text(ctx, value, port)
    return env


def shown(ctx: Context, value: Any) -> Any:
    """An option value for the model: a kept reference in it shown as ``${NAME}``.

    Options are read as values (``prodserver config``, pre-start checks); argv, env and
    probes carry the references as templates.
    """
    if isinstance(value, list):
        return [shown(ctx, v) for v in value]
    if not ctx.placeholders.handed_out:
        return value  # no reference kept: every value is shown as it is
    if isinstance(value, str) and kept_in(ctx, value):
        return str(ctx.placeholders.decode(value).compose_text())
    return value


def passed_through(ctx: Context, value: Any) -> Any:
    """A table exporters write as given (labels, ``export.<format>``), references and all.

    Where references are kept, such a table is written in interpolation syntax (a kept
    reference as ``${NAME}``, a literal ``$`` as ``$$``), as the user wrote it for the
    export; here every value is literal.
    """
    if isinstance(value, dict):
        return {k: passed_through(ctx, v) for k, v in value.items()}
    if isinstance(value, list):
        return [passed_through(ctx, v) for v in value]
    if isinstance(value, str) and ctx.target.keeps_references:
        return str(ctx.placeholders.decode(value).compose_text())
    return value


def probe(ctx: Context, check: HealthCheck | None, port: int | None) -> HealthCheck | None:
    """A probe whose target may hold kept references: as templates, and materialised."""
    if check is None:
        return None
    words = check.target if isinstance(check.target, tuple) else (check.target,)
    templates = tuple(ctx.placeholders.decode(w) for w in words)
    if all(t.is_literal for t in templates):
        return check
    texts = tuple(text(ctx, w, port) for w in words)
    target = texts if isinstance(check.target, tuple) else texts[0]
    return check._replace(target=target, template=templates)
