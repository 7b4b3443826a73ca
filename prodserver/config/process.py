"""Process step: one merged process table built into a :class:`ProcessSpec` and its copies.

Input: the process's name, merged table, where its keys are in the file, its position (its
place in the file: scaling or disabling one process never moves the others' ports) and the
shared environment. Output: the spec, or None when the process does not run (disabled,
scale 0) or a problem was recorded. In order: backend and keys, ``enabled`` and ``scale``,
the port, the process's env layer, then per copy its option values, argv, environment and
probe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any

from prodserver import codes
from prodserver.backends.base import Backend
from prodserver.config import expand
from prodserver.config.coerce import COMMON_BY_NAME, coerce
from prodserver.config.commands import backend_context, build_argv, cwd_for, numbered_argv
from prodserver.config.context import Context, ProcessEntry, Where
from prodserver.config.environment import runtime_env, without_shell
from prodserver.config.model import EMPTY, Instance, ProcessSpec, frozen_map
from prodserver.config.policies import (
    dependencies,
    reload_signal,
    restart_policy,
    stop_signal,
    user_for,
)
from prodserver.config.ports import port_for, port_from_env, references_port
from prodserver.config.probes import healthcheck
from prodserver.config.provenance import EnvOrigin, KeyLocations
from prodserver.config.secrecy import note_secret_value
from prodserver.config.sources import KeyPath
from prodserver.config.target import INSTANCE
from prodserver.config.values import left_to_platform, option_values
from prodserver.declarations.defaults import DEFAULT_STOP_TIMEOUT, MAX_SCALE
from prodserver.errors import Location
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


def key_paths(name: str, origins: Mapping[KeyPath, KeyPath], defined_at: KeyPath) -> Where:
    """Where each key of a merged process is in the file: the layer that set it."""

    found: dict[KeyPath, KeyPath] = {}  # each copy asks again for the same keys

    def where(*key: str) -> KeyPath:
        path = found.get(key)
        if path is None:
            path = found[key] = locate(key)
        return path

    def locate(key: KeyPath) -> KeyPath:
        full = (name, *key)
        while full:
            if full in origins:
                return (*origins[full], *key[len(full) - 1 :])
            full = full[:-1]
        return (*defined_at, *key)

    return where


def resolve_process(
    ctx: Context,
    name: str,
    table: Mapping[str, Any],
    where: Where,
    *,
    position: int,
    shared: Shared,
) -> ProcessSpec | None:
    """The process's spec, or None (not running, or a problem was recorded)."""
    ctx.prov.keys[name] = KeyLocations(ctx.source, where, tuple(table))
    backend = _backend(ctx, table, where)
    if backend is None:
        return None
    proc = ProcessEntry(name, table, backend, where)
    _unknown_keys(ctx, proc)
    plan = _plan(ctx, proc, position, shared)
    if plan is None:
        return None
    return _spec(ctx, plan)


def _backend(ctx: Context, table: Mapping[str, Any], where: Where) -> Backend | None:
    from prodserver.backends.registry import get_backend
    from prodserver.errors import ConfigError

    backend_name = table.get("backend", "command")
    if not isinstance(backend_name, str):
        ctx.out.error(codes.NOT_TEXT, "backend must be a string", where("backend"))
        return None
    try:
        return get_backend(backend_name)
    except ConfigError as exc:
        ctx.out.error(codes.UNKNOWN_BACKEND, exc.message, where("backend"), exc.hint)
        return None


def _unknown_keys(ctx: Context, proc: ProcessEntry) -> None:
    from prodserver.suggest import did_you_mean

    known = proc.keys.known
    for key in proc.table:
        if key not in known:
            backend_name = proc.backend.name
            ctx.out.error(
                codes.UNKNOWN_KEY,
                f"unknown key {key!r} for a {backend_name} process",
                proc.where(key),
                did_you_mean(key, sorted(known))
                or f"`prodserver backends {backend_name}` lists its options",
            )


def copies(ctx: Context, proc: ProcessEntry, lookup: Mapping[str, str]) -> int | None:
    """How many copies run (``enabled``, ``scale``, ``--scale``); None or 0 for none."""
    name, table, where = proc.name, proc.table, proc.where
    # a value can be left to the platform only once a reference was kept (asked after the
    # coercion: the value itself may hold the first one)
    enabled = coerce(
        ctx, COMMON_BY_NAME["enabled"], table.get("enabled", True), lookup, where("enabled")
    )
    if enabled is False or (
        ctx.placeholders.handed_out and left_to_platform(ctx, "enabled", enabled, where)
    ):
        return None
    raw = ctx.scale.get(name, table.get("scale", 1))
    scale = coerce(ctx, COMMON_BY_NAME["scale"], raw, lookup, where("scale"))
    if ctx.placeholders.handed_out and left_to_platform(ctx, "scale", scale, where):
        return None
    if isinstance(scale, int) and not 0 <= scale <= MAX_SCALE:
        # checked here, not only by the schema: --scale and a ${VAR} reach this point
        # without it, and the instances are built before it would run
        given = f"--scale {name}={scale}" if name in ctx.scale else f"scale {scale}"
        ctx.out.error(
            codes.OUT_OF_RANGE,
            f"{given} is out of range: a process runs 0 to {MAX_SCALE} instances",
            where("scale"),
        )
        return None
    return scale if isinstance(scale, int) else None


def _plan(ctx: Context, proc: ProcessEntry, position: int, shared: Shared) -> Plan | None:
    """Copies, port and the process's env layer; the provenance of its env recorded."""
    name, table = proc.name, proc.table
    scale = copies(ctx, proc, shared.env)
    if not scale:
        return None  # scale 0 runs nothing; a bad scale was reported
    listens = proc.backend.listens or "port" in table or references_port(table)
    choice = port_for(ctx, proc, position, shared.env)
    base_port = choice.port
    env, origins = _env_layer(ctx, proc, shared.env, base_port if listens else None)
    ctx.process_envs.update(env)
    if "PORT" in env:
        listens, base_port = port_from_env(ctx, env["PORT"], scale, proc.where)
        if base_port is None and not expand.kept_in(ctx, env["PORT"]):
            return None
    elif listens and base_port is not None:
        if "port" in table:
            origins["PORT"] = EnvOrigin("process port", ctx.source.location(proc.where("port")))
        else:
            why = f"assigned: {choice.origin} + 100 x position {position}"
            origins["PORT"] = EnvOrigin(why, Location())
    ctx.prov.process_env[name] = origins
    return Plan(proc, position, scale, listens, base_port, shared, env)


def _env_layer(
    ctx: Context, proc: ProcessEntry, lookup: Mapping[str, str], port: int | None
) -> tuple[dict[str, str], dict[str, EnvOrigin]]:
    """The process's ``env`` table substituted (``${PORT}`` its first port) and its origins."""
    env: dict[str, str] = {}
    origins: dict[str, EnvOrigin] = {}
    table = proc.table.get("env", {})
    if not isinstance(table, dict):
        return env, origins
    for key, raw in table.items():
        path = proc.where("env", key)
        # a kept PORT is never looked up: the platform assigns it
        below = {**lookup, **({"PORT": str(port)} if port else {})}
        value = expand.substitute_scalar(ctx, raw, below, path)
        if value is None:
            continue
        if expand.kept_in(ctx, value):
            ctx.ref_names.add(key)
        note_secret_value(ctx, key, value)
        env[key] = value
        ctx.config_names.add(key)
        origins[key] = EnvOrigin("process env", ctx.source.location(path))
    return env, origins


@dataclass(frozen=True)
class _Built:
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
) -> tuple[_Built, dict[str, str]] | None:
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
    return _Built(instance, values, tuple(argv), substituted), lookup


def _copies(ctx: Context, plan: Plan) -> tuple[list[_Built], tuple[str, ...]] | None:
    """Every copy, and an export's argv for numbered copies (empty: the first copy's)."""
    built: list[_Built] = []
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


def _labels(ctx: Context, labels: Mapping[str, Any] | None) -> Mapping[str, str]:
    if not labels:
        return EMPTY  # most processes have none: one shared empty table
    return frozen_map({k: expand.passed_through(ctx, str(v)) for k, v in labels.items()})


def _export_tables(
    ctx: Context, tables: Mapping[str, Any] | None
) -> Mapping[str, Mapping[str, Any]]:
    if not tables:
        return EMPTY
    return frozen_map({k: frozen_map(expand.passed_through(ctx, v)) for k, v in tables.items()})


def _spec(ctx: Context, plan: Plan) -> ProcessSpec | None:
    done = _copies(ctx, plan)
    if done is None:
        return None
    built, numbered = done
    values, first_argv = built[0].values, built[0].argv
    proc, where, backend = plan.proc, plan.proc.where, plan.proc.backend
    shell = bool(values.get("shell", False))
    decode = ctx.placeholders.decode
    own = proc.options
    return ProcessSpec(
        name=proc.name,
        backend=backend.name,
        position=plan.position,
        options=frozen_map({k: expand.shown(ctx, v) for k, v in values.items() if k in own}),
        argv=tuple(expand.text(ctx, w) for w in first_argv),
        words=tuple(decode(w) for w in first_argv),
        numbered_words=tuple(decode(w) for w in numbered),
        shell=shell,
        cwd=cwd_for(ctx, values),
        env=frozen_map({k: expand.text(ctx, v) for k, v in plan.env.items()}),
        env_values=frozen_map({k: decode(v) for k, v in plan.env.items()}),
        scale=plan.scale,
        instances=tuple(b.instance for b in built),
        listens=plan.listens,
        depends_on=dependencies(values.get("depends_on")),
        healthcheck=built[0].instance.healthcheck,
        restart=restart_policy(ctx, values, where),
        oneshot=bool(values.get("oneshot", False)),
        stop_signal=stop_signal(ctx, values.get("stop_signal"), backend, where("stop_signal")),
        reload_signal=reload_signal(
            ctx, values.get("reload_signal"), backend, where("reload_signal")
        ),
        kill_mode=values.get("kill_mode") or ("group" if shell else backend.kill_mode),
        stop_timeout=float(values.get("stop_timeout", DEFAULT_STOP_TIMEOUT)),
        user=user_for(ctx, proc.name, values.get("user"), where),
        labels=_labels(ctx, values.get("labels")),
        export=_export_tables(ctx, values.get("export")),
        max_memory=values.get("max_memory"),
        autoscale=frozen_map(values["autoscale"]) if values.get("autoscale") else None,
    )
