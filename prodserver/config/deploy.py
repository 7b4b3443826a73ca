"""The ``[export]`` table: what differs between this machine and the target of an export.

Declared once here (:data:`EXPORT_KEYS`; the schema and the reference docs come from it) and
resolved by :func:`resolve_deploy` into :class:`~prodserver.config.model.DeploySettings`:
``[export]`` of the root, then of each profile of the chain, merged key by key, and
``[export.<format>]`` tables over the merged common table for that format.

Values are the user's, written into the exports as given: nothing here is substituted from
this machine's environment or ``.env``, so an export is the same on every laptop.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from prodserver import codes
from prodserver.config.model import DeploySettings, ExportSettings
from prodserver.declarations.export import (
    ACCOUNT_PATTERN,
    COMPOSE_KEYS,
    EXPORT_KEYS,
    FORMATS,
)
from prodserver.declarations.keys import NAME_PATTERN, RESTART_MODES
from prodserver.errors import Problem

_BY_NAME = {o.name: o for o in (*EXPORT_KEYS, *COMPOSE_KEYS)}


def resolve_deploy(
    source: Any,
    chain_layers: Sequence[Any],
    processes: Mapping[str, Mapping[str, Any]],
    problems: list[Problem],
) -> DeploySettings:
    """``[export]`` of the root and each layer of ``chain_layers``, merged, for every format.

    ``source`` is the :class:`~prodserver.config.sources.RawSource` (for locations),
    ``processes`` the merged process tables (a process's own ``restart`` key tells whether
    the user chose its policy); problems are appended to ``problems``.
    """
    merged: dict[str, Any] = {}
    paths: dict[str, tuple[str, ...]] = {}
    for layer in chain_layers:
        at: tuple[str, ...] = tuple(layer.path)
        table = source.data.get("export") if not at else layer.data.get("export")
        if not isinstance(table, Mapping):
            continue
        for key, value in table.items():
            if key in FORMATS and isinstance(value, Mapping):
                sub = merged.setdefault(key, {})
                for k, v in value.items():
                    sub[k] = v
                    paths[f"{key}.{k}"] = (*at, "export", key, k)
            else:
                merged[key] = value
                paths[key] = (*at, "export", key)
    common = _settings(
        ExportSettings(),
        merged,
        paths=paths,
        prefix="",
        source=source,
        processes=processes,
        problems=problems,
    )
    formats = {
        fmt: _settings(
            common,
            merged[fmt],
            paths=paths,
            prefix=f"{fmt}.",
            source=source,
            processes=processes,
            problems=problems,
        )
        for fmt in FORMATS
        if isinstance(merged.get(fmt), Mapping)
    }
    explicit = frozenset(
        n for n, t in processes.items() if isinstance(t, Mapping) and "restart" in t
    )
    return DeploySettings(common=common, formats=formats, explicit_restart=explicit)


def _settings(
    base: ExportSettings,
    table: Mapping[str, Any],
    *,
    paths: Mapping[str, tuple[str, ...]],
    prefix: str,
    source: Any,
    processes: Mapping[str, Any],
    problems: list[Problem],
) -> ExportSettings:
    known = set(ExportSettings._fields)
    changes: dict[str, Any] = {}
    for key, value in table.items():
        if key in FORMATS or key not in known or key not in _BY_NAME:
            continue  # the schema reported an unknown key
        where = source.location(paths.get(f"{prefix}{key}", ("export", key)))
        checked = _check(key, value)
        if checked is _BAD:
            problems.append(
                Problem(
                    codes.EXPORT_BAD_VALUE,
                    f"export.{prefix}{key}: {value!r} is not valid here",
                    where,
                    _BY_NAME[key].doc,
                )
            )
            continue
        if key == "singletons":
            for name in checked:
                if name not in processes:
                    problems.append(
                        Problem(
                            codes.EXPORT_UNKNOWN_SINGLETON,
                            f"export.{prefix}singletons names {name!r}, which is not a process "
                            "of this profile",
                            where,
                            _guess(name, processes) or "processes: " + ", ".join(processes),
                        )
                    )
        changes[key] = checked
    return base._replace(**changes)


_BAD = object()


def _check(key: str, value: Any) -> Any:
    """The value of ``key`` in the model's type, or :data:`_BAD` (a value the schema let by:
    a file read without it, or a pyproject table)."""
    if key in ("publish_ports", "backing_services"):
        return value if isinstance(value, bool) else _BAD
    if key == "restart":
        return value if value in RESTART_MODES else _BAD
    if key in ("path", "singletons"):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            return _BAD
        if key == "path" and not all(_absolute_dir(i) for i in items):
            return _BAD
        if key == "singletons" and not all(re.fullmatch(NAME_PATTERN, i) for i in items):
            return _BAD
        return tuple(items)
    if not isinstance(value, str):
        return _BAD
    if key == "root":
        return (value.rstrip("/") or "/") if _absolute_dir(value) else _BAD
    if key == "venv":
        ok = not re.search(r"[\x00-\x1f\x7f:]", value) and ".." not in PurePosixPath(value).parts
        return value.rstrip("/") if ok else _BAD
    if key in ("user", "group"):
        return value if re.fullmatch(ACCOUNT_PATTERN, value) else _BAD
    if key == "image":
        return value if value and not re.search(r"[\s\x00-\x1f\x7f]", value) else _BAD
    return _BAD  # pragma: no cover - every key is handled above


def _absolute_dir(text: str) -> bool:
    return (
        text.startswith("/")
        and not re.search(r"[\x00-\x1f\x7f:%$\\]", text)
        and ".." not in PurePosixPath(text).parts
    )


def _guess(name: str, candidates: Iterable[str]) -> str | None:
    from prodserver.suggest import did_you_mean

    return did_you_mean(name, candidates)
