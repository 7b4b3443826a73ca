"""The resolved configuration as plain data for ``prodserver config`` (secrets masked)."""

from __future__ import annotations

from prodserver.config.secrets import MASK, Masker

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    from prodserver.config.model import ProcessSpec, ResolvedProject

__all__ = ["MASK", "Masker", "canonical_json", "config_hash", "masker_for", "project_data"]


def masker_for(project: ResolvedProject, *, show: bool = False) -> Masker:
    env: dict[str, str] = dict(project.env)
    for spec in project.processes.values():
        for inst in spec.instances:
            env.update(inst.env)
    return Masker(project.secret_names, env, show=show)


def _process(spec: ProcessSpec, masker: Masker, shared: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"backend": spec.backend}
    out["command"] = masker.any(list(spec.argv))
    if spec.shell:
        out["shell"] = True
    out["cwd"] = str(spec.cwd)
    if spec.scale != 1:
        out["scale"] = spec.scale
    ports = [i.port for i in spec.instances if i.port is not None]
    if ports:
        out["port"] = ports[0] if len(ports) == 1 else ports
    if spec.options:
        out["options"] = masker.any({k: v for k, v in spec.options.items() if v is not None})
    if spec.depends_on:
        out["depends_on"] = {d.name: d.condition for d in spec.depends_on}
    if spec.oneshot:
        out["oneshot"] = True
    if spec.healthcheck is not None:
        hc = spec.healthcheck
        target = list(hc.target) if isinstance(hc.target, tuple) else hc.target
        out["healthcheck"] = {
            hc.kind: masker.any(target),
            "interval": hc.interval,
            "timeout": hc.timeout,
            "retries": hc.retries,
            "start_period": hc.start_period,
        }
    out["restart"] = {
        "policy": spec.restart.mode,
        "max_restarts": spec.restart.max_restarts,
        "backoff": spec.restart.backoff,
    }
    out["stop"] = {
        "signal": spec.stop_signal.name,
        "kill_mode": spec.kill_mode,
        "timeout": spec.stop_timeout,
    }
    if spec.user:
        out["user"] = spec.user
    if spec.max_memory:
        out["max_memory"] = spec.max_memory
    if spec.labels:
        out["labels"] = dict(spec.labels)
    if spec.env:
        out["env"] = masker.env(spec.env)
    # A secret may reach any value through substitution (a `user`, a `cwd`, a label): the
    # whole table is scanned, not only the keys expected to hold one.
    masked: dict[str, Any] = masker.any(out)
    return masked


def project_data(
    project: ResolvedProject,
    *,
    show_secrets: bool = False,
    configured: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Everything ``config`` shows, as JSON/TOML-ready data.

    ``configured`` names the variables the configuration's own layers set; the rest of the
    shell environment is not repeated.
    """
    masker = masker_for(project, show=show_secrets)
    keep = set(project.env) if configured is None else set(configured)
    data: dict[str, Any] = {
        "project": {
            "name": project.name,
            "profile": project.profile,
            "root": str(project.root),
            "source": str(project.source),
            "env_files": [str(p) for p in project.env_files],
        },
        "env": masker.env({k: v for k, v in project.env.items() if k in keep}),
        "processes": {
            name: _process(spec, masker, project.env) for name, spec in project.processes.items()
        },
    }
    data["project"] = masker.any(data["project"])
    if project.warnings:
        data["warnings"] = [masker.text(w) for w in project.warnings]
    return data


def config_hash(project: ResolvedProject, configured: Iterable[str] | None = None) -> str:
    """A stable SHA-256 of the resolved configuration, for the audit trail ("config loaded").

    Taken over what ``prodserver config --format json`` shows (secrets masked), serialised
    canonically: the same configuration always gives the same hash, any change an operator
    could see changes it, and the hash reveals nothing about secret values (a hash of a
    low-entropy secret could be brute-forced). The secret *names* are part of it.
    ``configured`` is ``Provenance.configured`` from
    :func:`prodserver.config.resolve.resolve_with_provenance`: without it the whole shared
    environment counts, so an unrelated shell variable (``OLDPWD``) changes the hash.
    """
    from prodserver.fastpath import sha256

    data = project_data(project, configured=configured)
    data.pop("warnings", None)
    data["secret_names"] = sorted(project.secret_names)
    try:
        text = canonical_json(data)
    except TypeError:  # a value of another type: json's own encoder, with default=str
        import json

        text = json.dumps(
            data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str
        )
    return str(sha256(text.encode("ascii")).hexdigest())


#: the characters json's ensure_ascii encoder escapes
_ESCAPED = r'[\\"]|[^\ -~]'
_SHORT = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: Any) -> str:
    char: str = match.group(0)
    short = _SHORT.get(char)
    if short is not None:
        return short
    n = ord(char)
    if n < 0x10000:
        return f"\\u{n:04x}"
    n -= 0x10000  # a UTF-16 surrogate pair, as json writes it
    return f"\\u{0xD800 | (n >> 10) & 0x3FF:04x}\\u{0xDC00 | n & 0x3FF:04x}"


#: json's spelling of the floats that are not finite
_NOT_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _scalar(item: Any, escape: Any) -> str | None:
    """json's text of a string, None, bool, int or float; None for anything else."""
    if isinstance(item, str):
        return f'"{escape(_escape, item)}"'
    if item is None:
        return "null"
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return int.__repr__(item)  # an IntEnum as its number, as json writes it
    if isinstance(item, float):
        text = float.__repr__(item)
        return _NOT_FINITE.get(text, text)
    return None


def canonical_json(value: Any) -> str:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)``, the same
    text, for the plain data :func:`project_data` returns (str keys; str, int, float, bool,
    None, list, tuple, dict values): every ``up`` hashes its configuration, and ``json`` is
    not imported for it (issue 17). Any other type raises ``TypeError``."""
    import re

    escape = re.compile(_ESCAPED).sub
    out: list[str] = []

    def put(item: Any) -> None:
        text = _scalar(item, escape)
        if text is not None:
            out.append(text)
        elif isinstance(item, (list, tuple)):
            out.append("[")
            for i, element in enumerate(item):
                if i:
                    out.append(",")
                put(element)
            out.append("]")
        elif isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                raise TypeError("a key that is not a string")
            out.append("{")
            for i, (key, element) in enumerate(sorted(item.items())):
                if i:
                    out.append(",")
                out.append(f"{_scalar(key, escape)}:")
                put(element)
            out.append("}")
        else:
            raise TypeError(f"{type(item).__name__} is not plain data")

    put(value)
    return "".join(out)
