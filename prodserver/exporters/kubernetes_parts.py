"""The container of a Kubernetes workload: its command, environment, probes and limits.

``kubernetes.py`` wraps the container in a Job or a Deployment (and a Service and an
autoscaler); each part of the container is built here by a helper of its own.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from prodserver.config.model import ExportSettings, HealthCheck, ProcessSpec, ResolvedProject
from prodserver.exporters import shell
from prodserver.exporters.base import Lost, container_workdir, seconds, secret_env
from prodserver.hostport import split_host_port
from prodserver.template import Piece, Template


@dataclass(kw_only=True)
class Context:
    """What every workload of one export shares, and what they use of it between them."""

    project: ResolvedProject
    include_secrets: bool
    config: str | None
    secret: str
    runtime: str
    secrets: set[str]
    derived: Mapping[str, Template]
    lost: Lost
    used_secrets: set[str] = field(default_factory=set)
    used_runtime: set[str] = field(default_factory=set)
    secret_values: bool = False
    plain: set[str] = field(default_factory=set)


def k8s_text(pieces: Sequence[Piece]) -> str:
    """Pieces in Kubernetes' ``$(NAME)`` syntax (literal ``$`` doubled)."""
    out = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece.replace("$", "$$"))
        else:
            out.append(f"$({piece.name})")
    return "".join(out)


def container(
    ctx: Context, spec: ProcessSpec, *, fixed: Mapping[str, str], extra: dict[str, Any]
) -> dict[str, Any]:
    """The container of ``spec``; takes its own keys (image, resources) out of ``extra``."""
    project, lost = ctx.project, ctx.lost
    deploy = project.deploy.settings("kubernetes")
    env_list, command = _environment(ctx, spec, fixed)
    out: dict[str, Any] = {
        "name": spec.name.lower().replace("_", "-"),
        "image": extra.pop("image", deploy.image or f"{project.name.lower()}:latest"),
        "command": command,
    }
    env_from = _env_from(ctx)
    if env_from:
        out["envFrom"] = env_from
    if env_list:
        out["env"] = env_list
    if spec.listens and not spec.oneshot:
        out["ports"] = [{"name": "app", "containerPort": int(fixed["PORT"])}]
    if spec.healthcheck is not None and spec.healthcheck.kind == "notify":
        lost.add(spec.name, "healthcheck (notify)", "Kubernetes has no READY=1 readiness protocol")
    elif spec.healthcheck is not None:
        out.update(_probes(spec, spec.healthcheck, fixed, lost))
    resources = _resources(spec, extra)
    if resources:
        out["resources"] = resources
    out["securityContext"] = _security_context(spec, deploy, lost)
    workdir = container_workdir(project, spec, deploy.root, lost)
    if workdir is not None:
        out["workingDir"] = workdir
    return out


def _environment(
    ctx: Context, spec: ProcessSpec, fixed: Mapping[str, str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The container's ``env`` list and its ``command``."""
    words = [arg.with_values(fixed) for arg in spec.argv_words()]
    own, own_secrets = secret_env(
        ctx.project, spec.env_templates(), include_secrets=ctx.include_secrets
    )
    values = {key: value.with_values(fixed) for key, value in {**ctx.derived, **own}.items()}
    shell_env = _shell_env(values)
    env_list: list[dict[str, Any]] = []
    if spec.listens:
        env_list.append({"name": "PORT", "value": fixed["PORT"]})
    env_list.extend(
        _references(
            ctx, spec, words=words, values=values, shell_env=shell_env, own_secrets=own_secrets
        )
    )
    # A variable built from others comes after them: Kubernetes expands only earlier ones.
    for key, value in values.items():
        if key not in shell_env:
            env_list.append({"name": key, "value": k8s_text(value.pieces)})
    return env_list, _command(words, values, shell_env)


def _shell_env(values: Mapping[str, Template]) -> set[str]:
    """The variables the start script sets: only a shell evaluates ``${X:-default}``.

    Such a value, and any value built from one, is set by the container's start script
    instead of Kubernetes.
    """
    shell_env = {k for k, v in values.items() if v.has_modifier()}
    while True:
        more = {k for k, v in values.items() if v.names() & shell_env}
        if more <= shell_env:
            return shell_env
        shell_env |= more


def _references(
    ctx: Context,
    spec: ProcessSpec,
    *,
    words: Sequence[Template],
    values: Mapping[str, Template],
    shell_env: set[str],
    own_secrets: Sequence[str],
) -> list[dict[str, Any]]:
    """``env`` entries for the variables read from the Secret or the runtime ConfigMap."""
    all_refs = [r for w in words for r in w.refs()]
    for value in values.values():
        all_refs.extend(value.refs())
    referenced = {r.name for r in all_refs}
    # A variable only ever used with a default may be missing: its key is optional.
    # A variable the start script sets (with its default) before anything reads it is never
    # missing either.
    required = {r.name for r in all_refs if r.op not in (":-", "-") and r.name not in shell_env}
    # Every secret reaches every container, like the rest of the environment does.
    referenced |= set(own_secrets) | ctx.secrets
    defined = {k for k in values if k not in shell_env} | ctx.plain
    if spec.listens:
        defined.add("PORT")
    entries: list[dict[str, Any]] = []
    for ref in sorted(referenced - defined):
        source: dict[str, Any]
        if ref in ctx.secrets or ref in ctx.project.secret_names:
            ctx.used_secrets.add(ref)
            source = {"secretKeyRef": {"name": ctx.secret, "key": ref}}
        else:
            if ref not in required:
                # used only with a default: read from the ConfigMap above if set there
                continue
            ctx.used_runtime.add(ref)
            source = {"configMapKeyRef": {"name": ctx.runtime, "key": ref}}
        entries.append({"name": ref, "valueFrom": source})
    return entries


def _command(
    words: Sequence[Template], values: Mapping[str, Template], shell_env: set[str]
) -> list[str]:
    """The container's command: the argv itself, or a start script when a shell is needed."""
    if not shell_env and not any(w.has_modifier() for w in words):
        return [k8s_text(w.pieces) for w in words]
    exports = "".join(
        f"export {key}={shell.word(values[key].pieces)}; " for key in values if key in shell_env
    )
    # The script still passes through Kubernetes' own expansion: dollars are doubled.
    script = exports + "exec " + shell.command([w.pieces for w in words])
    return ["/bin/sh", "-c", script.replace("$", "$$")]


def _env_from(ctx: Context) -> list[dict[str, Any]]:
    env_from: list[dict[str, Any]] = []
    if ctx.config:
        env_from.append({"configMapRef": {"name": ctx.config}})
    if ctx.secret_values:
        env_from.append({"secretRef": {"name": ctx.secret}})
    return env_from


def _resources(spec: ProcessSpec, extra: dict[str, Any]) -> dict[str, Any]:
    """``export.kubernetes.resources`` with the process's ``max_memory`` as the memory limit."""
    resources: dict[str, Any] = copy.deepcopy(extra.pop("resources", None)) or {}
    if spec.max_memory and "memory" not in resources.get("limits", {}):
        resources.setdefault("limits", {})["memory"] = str(spec.max_memory)
    return resources


def _security_context(spec: ProcessSpec, deploy: ExportSettings, lost: Lost) -> dict[str, Any]:
    security: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    user = spec.user or deploy.user
    if user:
        if user.isdigit() and int(user) > 0:
            security["runAsUser"] = int(user)
        else:
            who = spec.name if spec.user else None  # [export] user: said once
            lost.add(who, f"user {user}", "Kubernetes needs a numeric non-root uid")
    if deploy.group and deploy.group.isdigit():
        security["runAsGroup"] = int(deploy.group)
    return security


def _probes(
    spec: ProcessSpec, check: HealthCheck, fixed: Mapping[str, str], lost: Lost
) -> dict[str, Any]:
    probe = _probe_action(spec, check, fixed, lost) | {
        "periodSeconds": max(1, seconds(check.interval)),
        "timeoutSeconds": max(1, seconds(check.timeout)),
        "failureThreshold": max(1, check.retries),
    }
    if check.start_period:
        probe["initialDelaySeconds"] = seconds(check.start_period)
    result = {}
    if check.role in ("readiness", "both"):
        result["readinessProbe"] = probe
    if check.role in ("liveness", "both"):
        result["livenessProbe"] = copy.deepcopy(probe)
    return result


def _probe_action(
    spec: ProcessSpec, check: HealthCheck, fixed: Mapping[str, str], lost: Lost
) -> dict[str, Any]:
    """What a probe does: an HTTP GET, a TCP connection or a command."""
    if check.kind == "http":
        url = urlsplit(_literal_target(check, fixed))
        path = url.path or "/"
        if url.query:
            path += "?" + url.query
        if check.status != (200, 399):
            lost.add(spec.name, f"healthcheck status {check.status}", "Kubernetes accepts 200-399")
        if check.expect:
            lost.add(spec.name, "healthcheck expect", "Kubernetes does not read the body")
        return {
            "httpGet": {
                "path": path,
                "port": url.port or (443 if url.scheme == "https" else 80),
                "scheme": "HTTPS" if url.scheme == "https" else "HTTP",
            }
        }
    if check.kind == "tcp":
        _, port = split_host_port(_literal_target(check, fixed))
        return {"tcpSocket": {"port": port}}
    words = [w.with_values(fixed) for w in check.target_words()]
    if any(not w.is_literal for w in words):
        # exec probes are not expanded by Kubernetes: a shell reads the variables.
        script = "exec " + shell.command([w.pieces for w in words])
        return {"exec": {"command": ["/bin/sh", "-c", script]}}
    return {"exec": {"command": [w.literal for w in words]}}


def _literal_target(check: HealthCheck, fixed: Mapping[str, str]) -> str:
    pieces = check.target_words()[0].with_values(fixed).pieces
    return "".join(p if isinstance(p, str) else "0" for p in pieces)
