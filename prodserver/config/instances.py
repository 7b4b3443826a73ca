"""Copies step: each copy of one process built (its option values, argv, environment, probe).

Input: the process's :class:`Plan` (how many copies, its port, its own env layer, and the
:class:`Shared` environment every process starts from). Output: each copy's model
:class:`~prodserver.config.model.Instance`, with the option values and argv it was built from,
and for an export of numbered copies the argv that names the copy's number; None when a problem
was recorded. Copies whose values cannot differ (nothing in them names ``PORT`` or the copy's
number) reuse the first copy's option values instead of substituting them again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any

from prodserver.config import expand
from prodserver.config.commands import backend_context, build_argv, numbered_argv
from prodserver.config.context import Context, ProcessEntry
from prodserver.config.environment import runtime_env, without_shell
from prodserver.config.model import Instance
from prodserver.config.probes import healthcheck
from prodserver.config.target import INSTANCE
from prodserver.config.values import option_values
from prodserver.template import Placeholders


@dataclass(frozen=True)
class Shared:
    """What every process starts from: the shared environment and ``inherit_env``."""

    env: Mapping[str, str]
    inherit_env: bool = True

    @cached_property
    def literal(self) -> Mapping[str, str]:
        """The shared variables whose value holds no reference: each instance's environment
        takes them as they are, instead of rendering every one of them again."""
        return {k: v for k, v in self.env.items() if not Placeholders.check(v)}


@dataclass(frozen=True)
class Plan:
    """One process decided: how many copies, whether and where it listens, its own env."""

    proc: ProcessEntry
    position: int
    scale: int
    listens: bool
    base_port: int | None
    shared: Shared
    #: the process's own env layer (placeholder text)
    env: Mapping[str, str]

    def port(self, number: int) -> int | None:
        """Copy ``number``'s port (copy N gets the first port + N - 1)."""
        if self.listens and self.base_port is not None:
            return self.base_port + number - 1
        return None


@dataclass(frozen=True)
class Built:
    """One copy built: the model's instance, and its values and argv as placeholder text."""

    instance: Instance
    values: dict[str, Any]
    argv: tuple[str, ...]
    #: the characters substitution produced for ``values``
    substituted: int = 0


def _instance_lookup(ctx: Context, plan: Plan, number: int) -> dict[str, str]:
    """What copy ``number``'s values are substituted against."""
    lookup = dict(plan.shared.env)
    port = plan.port(number)
    if port is not None and "PORT" not in plan.env:
        # in an export the platform assigns PORT: a backend's default bind must say
        # ${PORT}, not the port this machine would have used
        lookup["PORT"] = expand.runtime_value(ctx, "PORT", str(port))
    lookup.update(plan.env)
    if plan.scale > 1 and ctx.target.local_environment:
        # each copy's identity is known when its argv is built (celery node names);
        # an export writes one argv for every copy
        lookup[INSTANCE] = str(number)
    return lookup


def _child_env(
    ctx: Context, plan: Plan, values: Mapping[str, Any], lookup: Mapping[str, str], number: int
) -> dict[str, str]:
    env = dict(lookup)
    if not values.get("inherit_env", plan.shared.inherit_env):
        env = without_shell(ctx, env, plan.env)
    if ctx.target.local_environment:
        env = runtime_env(env)
    env["PRODSERVER_PROCESS"] = plan.proc.name
    env["PRODSERVER_INSTANCE"] = str(number)
    return expand.texts(ctx, env, plan.port(number), plan.shared.literal)


@dataclass(frozen=True)
class _FirstValues:
    """The first copy's option values, for copies whose values cannot differ from them."""

    values: dict[str, Any]
    #: the characters substitution produced for them (counted again for each copy)
    substituted: int


def _same_for_every_copy(table: Mapping[str, Any]) -> bool:
    """Whether every copy gets the same option values: only ``PORT`` and the copy's number
    differ between the copies' lookups, and no value (but ``env``, substituted once per
    process) refers to either."""
    from prodserver.config.substitute import references
    from prodserver.errors import ConfigError

    def walk(value: Any) -> bool:
        if isinstance(value, str):
            if "$" not in value or ("PORT" not in value and INSTANCE not in value):
                return True  # a reference to either has its name in the text
            try:
                return not {"PORT", INSTANCE}.intersection(references(value))
            except ConfigError:
                return False  # malformed: each copy reports it as before
        if isinstance(value, dict):
            return all(walk(v) for v in value.values())
        if isinstance(value, list):
            return all(walk(v) for v in value)
        return True

    return all(walk(v) for k, v in table.items() if k != "env")


def _copy_values(
    ctx: Context, plan: Plan, number: int, lookup: Mapping[str, str], first: _FirstValues | None
) -> dict[str, Any] | None:
    """Copy ``number``'s option values: the first copy's again where they cannot differ.

    Reusing them records nothing new: their warnings would repeat the first copy's (dropped
    as repeats at the end) and their substitution is counted against the total as if done
    again (done again where it would pass the limit, so that the error is the same).
    """
    if first is not None:
        from prodserver.config.limits import MAX_SUBSTITUTED_TOTAL

        if ctx.substituted + first.substituted <= MAX_SUBSTITUTED_TOTAL:
            ctx.substituted += first.substituted
            return dict(first.values)
    return option_values(ctx, plan.proc, lookup, report=number == 1)


def _texts(ctx: Context, words: list[str], port: int | None) -> tuple[str, ...]:
    """Each word materialised (:func:`expand.text`)."""
    if not ctx.placeholders.handed_out:
        return tuple(words)  # no reference kept: each word is its text
    return tuple(expand.text(ctx, w, port) for w in words)


def _build_copy(
    ctx: Context, plan: Plan, number: int, first: _FirstValues | None = None
) -> tuple[Built, dict[str, str]] | None:
    """Copy ``number`` built, with the lookup it was built from; None after a problem."""
    lookup = _instance_lookup(ctx, plan, number)
    before = ctx.substituted
    values = _copy_values(ctx, plan, number, lookup, first)
    if values is None:
        return None
    substituted = ctx.substituted - before
    # what the backend knows of this copy: built once for its argv and its default probe
    facts = None if values.get("shell") else backend_context(ctx, plan.proc, values, lookup)
    argv = build_argv(ctx, plan.proc, values, lookup, facts)
    if argv is None:
        return None
    env = _child_env(ctx, plan, values, lookup, number)
    health = healthcheck(ctx, plan.proc, values, lookup, facts)
    port = plan.port(number)
    instance = Instance(
        process=plan.proc.name,
        number=number,
        argv=_texts(ctx, argv, port),
        env=MappingProxyType(env),  # a new dict of this copy's own: read-only, not copied
        port=port,
        healthcheck=expand.probe(ctx, health, port),
    )
    return Built(instance, values, tuple(argv), substituted), lookup


def build_copies(ctx: Context, plan: Plan) -> tuple[list[Built], tuple[str, ...]] | None:
    """Every copy, and an export's argv for numbered copies (empty: the first copy's)."""
    built: list[Built] = []
    numbered: tuple[str, ...] = ()
    first: _FirstValues | None = None
    for number in range(1, plan.scale + 1):
        done = _build_copy(ctx, plan, number, first)
        if done is None:
            return None
        copy, lookup = done
        built.append(copy)
        if number == 1 and plan.scale > 1 and _same_for_every_copy(plan.proc.table):
            first = _FirstValues(copy.values, copy.substituted)
        if number == 1 and plan.scale > 1 and not ctx.target.local_environment:
            argv = numbered_argv(ctx, plan.proc, lookup)
            if argv is not None and argv != copy.argv:
                numbered = argv
    return built, numbered
