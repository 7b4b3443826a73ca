"""The resolved configuration as plain data for ``prodserver config`` (secrets masked)."""

from __future__ import annotations

from prodserver.config.secrets import MASK, Masker

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    from prodserver.config.model import ProcessSpec, ResolvedProject

__all__ = ["MASK", "Masker", "config_hash", "masker_for", "project_data"]


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
    import json

    from prodserver.fastpath import sha256

    # a cached `up` reads the hash from its cache entry: this runs when the files are read
    data = project_data(project, configured=configured)
    data.pop("warnings", None)
    data["secret_names"] = sorted(project.secret_names)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return str(sha256(text.encode("ascii")).hexdigest())
