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
from dataclasses import fields, replace
from pathlib import PurePosixPath
from typing import Any

from prodserver import codes
from prodserver.config.model import DeploySettings, ExportSettings
from prodserver.errors import Problem
from prodserver.options import Option

#: the export formats a ``[export.<format>]`` table may name
FORMATS = ("procfile", "compose", "systemd", "supervisord", "kubernetes")
#: a user or group name every engine accepts (POSIX portable names, or a numeric id)
ACCOUNT_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?$"
_RESTART = ("no", "on-failure", "always")
_PROCESS_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"

#: the keys of ``[export]`` and of every ``[export.<format>]`` table
EXPORT_KEYS: tuple[Option, ...] = (
    Option(
        "root",
        "string",
        "The application root on the target: the absolute directory that holds "
        "`prodserver.toml` there (each process's `cwd` is relative to it). Default: systemd "
        "`/srv/<project>`; supervisord the directory of the generated file (`%(here)s`); "
        "Compose and Kubernetes the image's WORKDIR; a Procfile runs where the platform puts it.",
        examples=('"/srv/shop"',),
        schema={"type": "string", "pattern": r"^/[^\x00-\x1f:%$\\]*$"},
    ),
    Option(
        "venv",
        "string",
        "The virtualenv whose `bin` leads PATH on the target, relative to `root` or absolute; "
        '`""` for none. Used by systemd and supervisord (a container image or a platform sets '
        "its own PATH).",
        default=".venv",
        schema={"type": "string", "pattern": r"^[^\n\r:]*$"},
    ),
    Option(
        "path",
        "list",
        "More absolute directories put on PATH after the virtualenv's (before the engine's "
        "own PATH).",
        schema={"type": "array", "items": {"type": "string", "pattern": r"^/[^\x00-\x1f:%$\\]*$"}},
    ),
    Option(
        "user",
        "string",
        "The user the processes run as (systemd `User=`, supervisord `user=`, Compose `user:`; "
        "Kubernetes takes a numeric uid). A process's own `user` wins. A production profile "
        "needs one for systemd and supervisord, or an explicit `--allow-root`.",
        examples=('"shop"',),
        schema={"type": "string", "pattern": ACCOUNT_PATTERN},
    ),
    Option(
        "group",
        "string",
        "The group the processes run as (systemd `Group=`; Kubernetes `runAsGroup` if numeric).",
        schema={"type": "string", "pattern": ACCOUNT_PATTERN},
    ),
    Option(
        "image",
        "string",
        "The container image of Compose services and Kubernetes containers. Default: "
        "`<project>:latest` (Compose also builds it from `.`).",
        examples=('"registry.example.com/shop:1.4.2"',),
        schema={"type": "string", "pattern": r"^[^\s]+$"},
    ),
    Option(
        "restart",
        "string",
        "The restart policy of a long-running process that sets no `restart` itself. "
        "`prodserver up` stops everything when such a process exits (as foreman does); a "
        "service manager keeps it up instead.",
        default="on-failure",
        schema={"enum": list(_RESTART)},
    ),
    Option(
        "singletons",
        "list",
        "Processes that must never run as more than one copy, besides `celery-beat` and "
        "`rq-scheduler` processes (always singletons): one replica, no autoscaling, and in "
        "Kubernetes `strategy: Recreate` so that a rollout never runs two.",
        examples=('["scheduler"]',),
        schema={"type": "array", "items": {"type": "string", "pattern": _PROCESS_NAME}},
    ),
)
#: keys only ``[export.compose]`` (and ``[export]``, for Compose) takes
COMPOSE_KEYS: tuple[Option, ...] = (
    Option(
        "publish_ports",
        "boolean",
        "Publish each listening process's port on the host (`ports:`). A process's own "
        "`export.compose.ports` replaces it.",
        default=True,
        schema={"type": "boolean"},
    ),
    Option(
        "backing_services",
        "boolean",
        "A broker or database URL that points at this machine (`redis://127.0.0.1...`, "
        "`postgres://localhost...`) gets a generated `redis` or `postgres` service with a "
        "healthcheck, the processes wait for it to be healthy, and the URL names it.",
        default=True,
        schema={"type": "boolean"},
    ),
)
_BY_NAME = {o.name: o for o in (*EXPORT_KEYS, *COMPOSE_KEYS)}


def export_schema_defs() -> dict[str, Any]:
    """The JSON schema ``$defs`` of an ``[export]`` table: ``#/$defs/export`` is the table (in
    the file's root or a profile), the others its per-format tables."""
    from prodserver.schema.build import options_properties

    common = options_properties(EXPORT_KEYS, strict=True)
    compose = options_properties(COMPOSE_KEYS, strict=True)

    def table(description: str, props: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "description": description,
            "properties": props,
            "additionalProperties": False,
        }

    formats = {fmt: {"$ref": f"#/$defs/export.{fmt}"} for fmt in FORMATS}
    defs = {
        "export": table(
            "Deployment settings: what differs between this machine and the target.",
            {**common, **compose, **formats},
        )
    }
    for fmt in FORMATS:
        props = {**common, **(compose if fmt == "compose" else {})}
        defs[f"export.{fmt}"] = table(f"`[export]` settings for {fmt} only.", props)
    return defs


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
    known = {f.name for f in fields(ExportSettings)}
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
    return replace(base, **changes)


_BAD = object()


def _check(key: str, value: Any) -> Any:
    """The value of ``key`` in the model's type, or :data:`_BAD` (a value the schema let by:
    a file read without it, or a pyproject table)."""
    if key in ("publish_ports", "backing_services"):
        return value if isinstance(value, bool) else _BAD
    if key == "restart":
        return value if value in _RESTART else _BAD
    if key in ("path", "singletons"):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            return _BAD
        if key == "path" and not all(_absolute_dir(i) for i in items):
            return _BAD
        if key == "singletons" and not all(re.fullmatch(_PROCESS_NAME, i) for i in items):
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
