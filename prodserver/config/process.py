"""Process step: one merged process table built into a :class:`ProcessSpec` and its copies.

Input: the process's name, merged table, where its keys are in the file, its position (its
place in the file: scaling or disabling one process never moves the others' ports) and the
shared environment. Output: the spec, or None when the process does not run (disabled,
scale 0) or a problem was recorded. In order: backend and keys, ``enabled`` and ``scale``,
the port, the process's env layer, then its copies (:mod:`prodserver.config.instances`: per
copy its option values, argv, environment and probe) and the spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prodserver import codes
from prodserver.backends.base import Backend
from prodserver.config import expand
from prodserver.config.coerce import COMMON_BY_NAME, coerce
from prodserver.config.commands import cwd_for
from prodserver.config.context import Context, ProcessEntry, Where
from prodserver.config.instances import Plan, Shared, build_copies
from prodserver.config.model import EMPTY, ProcessSpec, frozen_map
from prodserver.config.policies import (
    dependencies,
    reload_signal,
    restart_policy,
    stop_signal,
    user_for,
)
from prodserver.config.ports import port_for, port_from_env, references_port
from prodserver.config.provenance import EnvOrigin, KeyLocations
from prodserver.config.secrecy import note_secret_value
from prodserver.config.sources import KeyPath
from prodserver.config.values import left_to_platform
from prodserver.declarations.defaults import DEFAULT_STOP_TIMEOUT, MAX_SCALE
from prodserver.errors import Location


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
    done = build_copies(ctx, plan)
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
