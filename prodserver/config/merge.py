"""Step 2 of resolution: the profile chain and how its layers merge.

The merge rules, in one place (each has a test in ``tests/config/test_merge.py``):

==========================  =============================================================
what                        rule
==========================  =============================================================
table (``env``, process)    merged key by key, recursively; the higher layer wins per key
array (``queues``, ``args``) replaced as a whole by the higher layer
scalar                      replaced by the higher layer
``backend`` changed         the process keeps only backend-independent keys from below
                            (not ``args``, ``stop_signal``, ``kill_mode``: they are about
                            the old backend's program)
``enabled = false``         the process is dropped after merging (a higher layer may
                            set ``enabled = true`` again)
``healthcheck`` kind        naming a probe kind (``http``/``tcp``/``cmd``) drops the other
                            kinds from below; the other probe keys still merge
``env_files``               concatenated along the chain: project, then each profile
``extends``                 never inherited: it only describes the chain
==========================  =============================================================

Merging never changes its inputs: the parent layers stay as they were read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prodserver import codes
from prodserver.config.limits import MAX_EXTENDS_DEPTH
from prodserver.declarations.keys import COMMON_NAMES
from prodserver.errors import ConfigError
from prodserver.rawsource import KeyPath, RawSource

#: common keys that still describe the old backend's program, dropped when it changes
BACKEND_BOUND = frozenset({"args", "stop_signal", "kill_mode"})
PROBE_KINDS = frozenset({"http", "tcp", "cmd"})

#: the pseudo-profile name of the root layer (top-level [env] and [processes])
ROOT = "(root)"


@dataclass(frozen=True)
class Layer:
    """One layer of the chain: its name and the key path of its data in the file."""

    name: str
    path: KeyPath
    data: Mapping[str, Any]


def profile_names(source: RawSource) -> list[str]:
    profiles = source.data.get("profiles", {})
    return list(profiles) if isinstance(profiles, dict) else []


def _extends(source: RawSource, name: str) -> list[str]:
    table = source.data["profiles"][name]
    raw = table.get("extends") if isinstance(table, dict) else None
    if raw is None:
        return []
    return [raw] if isinstance(raw, str) else [str(x) for x in raw]


def unknown_profile(name: str, known: Sequence[str], *, what: str = "profile") -> str:
    from prodserver.suggest import did_you_mean

    guess = did_you_mean(name, known)
    text = f"known profiles: {', '.join(known)}" if known else "the file defines no profiles"
    return f"{guess} ({text})" if guess else text


def chain(source: RawSource, profile: str | None) -> list[str]:
    """The profiles to merge, lowest first, ending with ``profile`` (root not included).

    ``extends = ["a", "b"]`` merges ``a`` then ``b``: each parent's own chain comes before it,
    and a profile reached twice is merged once, at its first place.
    """
    if profile is None:
        return []
    known = profile_names(source)
    order: list[str] = []
    stack: list[str] = []

    def visit(name: str, referrer: str | None) -> None:
        if name in stack:
            cycle = [*stack[stack.index(name) :], name]
            raise ConfigError(
                f"profile inheritance cycle: {' -> '.join(cycle)}",
                hint="remove one of these `extends`",
                location=source.location(("profiles", stack[-1], "extends")),
                code=codes.EXTENDS_CYCLE,
            )
        if name not in known:
            if referrer is None:
                raise ConfigError(
                    f"unknown profile {name!r}",
                    hint=unknown_profile(name, known),
                    location=source.location(()),
                    code=codes.UNKNOWN_PROFILE,
                )
            raise ConfigError(
                f"profile {referrer!r} extends unknown profile {name!r}",
                hint=unknown_profile(name, known),
                location=source.location(("profiles", referrer, "extends")),
                code=codes.UNKNOWN_PROFILE,
            )
        if name in order:
            return
        if len(stack) >= MAX_EXTENDS_DEPTH:
            raise ConfigError(
                f"profile {profile!r} extends a chain of more than {MAX_EXTENDS_DEPTH} profiles",
                hint="a chain of a few profiles is enough: extend a common profile "
                "rather than each other",
                location=source.location(("profiles", stack[-1], "extends")),
                code=codes.EXTENDS_TOO_DEEP,
            )
        stack.append(name)
        for parent in _extends(source, name):
            visit(parent, name)
        stack.pop()
        order.append(name)

    visit(profile, None)
    return order


def layers(source: RawSource, profile: str | None) -> list[Layer]:
    """The root layer, then each profile of the chain."""
    data = source.data
    out = [
        Layer(
            ROOT,
            (),
            {"env": data.get("env", {}), "processes": data.get("processes", {})},
        )
    ]
    for name in chain(source, profile):
        out.append(Layer(name, ("profiles", name), data["profiles"][name]))
    return out


@dataclass
class Merged:
    """Processes after merging, with the file key path that set each merged key path."""

    processes: dict[str, dict[str, Any]]
    #: (process, key, ...) -> the key path in the file that set it
    origins: dict[KeyPath, KeyPath]
    #: process name -> key path of the table that defined it first
    defined_at: dict[str, KeyPath]


def _merge_into(
    target: dict[str, Any],
    over: Mapping[str, Any],
    origins: dict[KeyPath, KeyPath],
    at: KeyPath,
    src: KeyPath,
) -> None:
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            child = dict(target[key])
            _merge_into(child, value, origins, (*at, key), (*src, key))
            target[key] = child
        else:
            _forget(target.get(key), origins, (*at, key))
            target[key] = _copy(value)
            _record(value, origins, (*at, key), (*src, key))


def _forget(old: Any, origins: dict[KeyPath, KeyPath], at: KeyPath) -> None:
    """Drop the origins recorded for a value being replaced: its own and, for a table, those of
    every key inside it (the only paths below ``at`` that :func:`_record` ever writes).

    Walking the old value instead of scanning every recorded origin keeps a merge linear in
    the size of the file: the scan made ``check`` quadratic in the number of processes.
    """
    origins.pop(at, None)
    if isinstance(old, dict):
        for k, v in old.items():
            _forget(v, origins, (*at, k))


def _record(value: Any, origins: dict[KeyPath, KeyPath], at: KeyPath, src: KeyPath) -> None:
    origins[at] = src
    if isinstance(value, dict):
        for k, v in value.items():
            _record(v, origins, (*at, k), (*src, k))


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def merge_processes(chain_layers: Sequence[Layer]) -> Merged:
    """Merge the ``processes`` of every layer by the rules above."""
    processes: dict[str, dict[str, Any]] = {}
    origins: dict[KeyPath, KeyPath] = {}
    defined_at: dict[str, KeyPath] = {}
    for layer in chain_layers:
        tables = layer.data.get("processes", {})
        if not isinstance(tables, dict):
            continue
        for name, table in tables.items():
            if not isinstance(table, dict):
                continue
            src = (*layer.path, "processes", name)
            current = processes.get(name)
            if current is None:
                current = {}
                defined_at[name] = src
            else:
                current = dict(current)
                new_backend = table.get("backend")
                if new_backend is not None and new_backend != current.get("backend", "command"):
                    # A different backend inherits only keys that mean the same for every
                    # backend (cwd, env, depends_on, ...), never the old backend's options.
                    bound = [k for k in current if k not in COMMON_NAMES or k in BACKEND_BOUND]
                    for key in bound:
                        del current[key]
                        for stale in [p for p in origins if p[:2] == (name, key)]:
                            del origins[stale]
            probe, below = table.get("healthcheck"), current.get("healthcheck")
            if isinstance(probe, dict) and isinstance(below, dict):
                named = PROBE_KINDS & probe.keys()
                if named:
                    current["healthcheck"] = {
                        k: v for k, v in below.items() if k not in PROBE_KINDS - named
                    }
                    for kind in PROBE_KINDS - named:
                        origins.pop((name, "healthcheck", kind), None)
            origins.setdefault((name,), src)
            _merge_into(current, table, origins, (name,), src)
            processes[name] = current
    return Merged(processes, origins, defined_at)
