"""Kubernetes: Deployments, Services, Jobs, a ConfigMap, Secret references and autoscalers.

One Deployment per long-running process type and a Service for each one that listens; a Job
for each oneshot (the release step: apply it and wait for it before rolling out the rest).
Plain values go to the ``<project>-env`` ConfigMap. A secret is never written: the containers
refer to a key of the ``<project>-secrets`` Secret the user creates (``--include-secrets``
writes that Secret too, mode 0600), and a variable the configuration leaves to the environment
refers to the ``<project>-runtime`` ConfigMap the user creates.

Kubernetes expands ``$(NAME)`` in ``command`` and ``env`` values and reads ``$$`` as a literal
``$``, so references are written ``$(NAME)`` and every literal ``$`` is doubled. Inside its own
pod a process always listens on the same port: ``PORT`` is fixed per Deployment.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from prodserver import codes
from prodserver.config.model import HealthCheck, ProcessSpec, ResolvedProject
from prodserver.errors import ConfigError, Location
from prodserver.exporters import shell, yamlout
from prodserver.exporters.base import (
    MODE_PUBLIC,
    MODE_SECRET,
    ExportFile,
    ExportOptions,
    ExportResult,
    Lost,
    default_port,
    export_restart,
    header,
    is_singleton,
    relative_cwd,
    seconds,
    secret_env,
    under_root,
)
from prodserver.hostport import split_host_port
from prodserver.template import Piece, Template

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
MANAGED_BY = {"app.kubernetes.io/managed-by": "prodserver"}
#: seconds a finished release Job is kept (for its logs) before Kubernetes removes it
JOB_TTL = 3600


def k8s_name(project: ResolvedProject, *parts: str) -> str:
    """A DNS-1123 object name from the project and process names (``shop-web``)."""
    name = "-".join(part.lower().replace("_", "-") for part in (project.name, *parts))
    if len(name) > 63 or not _DNS_LABEL.fullmatch(name):
        raise ConfigError(
            f"{name!r} is not a valid Kubernetes object name",
            location=Location(file=project.source, key_path="project.name"),
            hint="use at most 63 lower-case letters, digits and '-' for project and process names",
            code=codes.KUBERNETES_NAME,
        )
    return name


def render(project: ResolvedProject, options: ExportOptions) -> ExportResult:
    """The manifests of ``project``: one multi-document YAML, or a kustomize tree."""
    if options.kustomize:
        from prodserver.exporters.kustomize import render as render_tree  # only with --kustomize

        return render_tree(project, options)
    lost = Lost("kubernetes")
    objects, holds_secret, advice = build(project, options, lost)
    content = header("kubernetes", project) + yamlout.dump(objects)
    return ExportResult(
        files=(
            ExportFile(
                PurePosixPath(f"{project.name}.yaml"),
                content,
                MODE_SECRET if holds_secret else MODE_PUBLIC,
            ),
        ),
        warnings=tuple(lost.items),
        advice=tuple(advice),
    )


def build(
    project: ResolvedProject, options: ExportOptions, lost: Lost
) -> tuple[list[dict[str, Any]], bool, list[str]]:
    """The Kubernetes objects (as data), whether they hold a secret value, and advice."""
    names: dict[str, str] = {}
    for process in project.processes:
        name = k8s_name(project, process)
        if name in names.values():
            raise ConfigError(
                f"processes {process!r} and another one both become {name!r} in Kubernetes",
                location=Location(file=project.source, key_path=f"processes.{process}"),
                code=codes.KUBERNETES_NAME,
            )
        names[process] = name
    env, secrets = secret_env(
        project, project.env_templates(), include_secrets=options.include_secrets
    )
    secret_name = k8s_name(project, "secrets")
    runtime_name = k8s_name(project, "runtime")
    config_name = k8s_name(project, "env")
    plain = {k: v.literal for k, v in env.items() if v.is_literal}
    derived = {k: v for k, v in env.items() if not v.is_literal}
    secret_values = {k: v for k, v in plain.items() if k in project.secret_names}
    for key in secret_values:
        del plain[key]
    bad = [k for k in plain if not _ENV_NAME.fullmatch(k)]
    if bad:
        raise ConfigError(f"{bad[0]!r} is not a valid ConfigMap key", code=codes.CONFIGMAP_KEY)

    objects: list[dict[str, Any]] = []
    # Always there: every container reads it whole (envFrom), so a variable the
    # configuration gives a default can be set by adding it here, and nothing refers to a
    # ConfigMap that no file creates.
    objects.append(_meta("v1", "ConfigMap", config_name, project) | {"data": plain})
    if secret_values:
        objects.append(
            _meta("v1", "Secret", secret_name, project)
            | {"type": "Opaque", "stringData": secret_values}
        )
    ctx = _Context(
        project=project,
        options=options,
        config=config_name,
        secret=secret_name,
        runtime=runtime_name,
        secrets=set(secrets) | {n for n in project.runtime_refs if n in project.secret_names},
        derived=derived,
        lost=lost,
    )
    ctx.secret_values = bool(secret_values)
    ctx.plain = set(plain)
    for name in project.start_order():
        spec = project.processes[name]
        objects.extend(_workload(ctx, spec, names[name]))
    advice: list[str] = []
    needed_secrets = sorted(ctx.used_secrets)
    if needed_secrets and not secret_values:
        literals = " ".join(f"--from-literal={n}=..." for n in needed_secrets)
        advice.append(
            f"create the Secret first: kubectl create secret generic {secret_name} {literals}"
        )
    if ctx.used_runtime:
        literals = " ".join(f"--from-literal={n}=..." for n in sorted(ctx.used_runtime))
        advice.append(
            f"create the ConfigMap first: kubectl create configmap {runtime_name} {literals}"
        )
    jobs = [o["metadata"]["name"] for o in objects if o["kind"] == "Job"]
    if jobs:
        # objects without a component label (the ConfigMap, a Secret) match "notin" too
        long_running = ",".join(
            n.lower().replace("_", "-") for n, s in project.processes.items() if not s.oneshot
        )
        selector = f"app.kubernetes.io/component notin ({long_running})"
        waits = " ".join(f"job/{j}" for j in jobs)
        advice.append(
            "apply the release Job(s) first and wait for them, then the rest: "
            f"kubectl apply -f FILE -l '{selector}' && "
            f"kubectl wait --for=condition=complete --timeout=15m {waits} && "
            "kubectl apply -f FILE"
        )
    return objects, bool(secret_values), advice


class _Context:
    def __init__(
        self,
        *,
        project: ResolvedProject,
        options: ExportOptions,
        config: str | None,
        secret: str,
        runtime: str,
        secrets: set[str],
        derived: Mapping[str, Template],
        lost: Lost,
    ) -> None:
        self.project = project
        self.options = options
        self.config = config
        self.secret = secret
        self.runtime = runtime
        self.secrets = secrets
        self.derived = derived
        self.lost = lost
        self.used_secrets: set[str] = set()
        self.used_runtime: set[str] = set()
        self.secret_values = False
        self.plain: set[str] = set()


def _labels(project: ResolvedProject, component: str | None = None) -> dict[str, str]:
    labels = {"app.kubernetes.io/name": project.name.lower()}
    if component is not None:
        labels["app.kubernetes.io/component"] = component.lower().replace("_", "-")
    return labels


def _meta(
    api: str, kind: str, name: str, project: ResolvedProject, component: str | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "labels": _labels(project, component) | MANAGED_BY},
    }


def _k8s_text(pieces: Sequence[Piece]) -> str:
    """Pieces in Kubernetes' ``$(NAME)`` syntax (literal ``$`` doubled)."""
    out = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece.replace("$", "$$"))
        else:
            out.append(f"$({piece.name})")
    return "".join(out)


def _workload(ctx: _Context, spec: ProcessSpec, name: str) -> list[dict[str, Any]]:
    project, lost = ctx.project, ctx.lost
    fixed = {"PORT": str(default_port(spec))} if spec.listens else {}
    extra = dict(spec.export.get("kubernetes", {}))
    deploy = project.deploy.settings("kubernetes")
    words = [arg.with_values(fixed) for arg in spec.argv_words()]
    own, own_secrets = secret_env(
        project, spec.env_templates(), include_secrets=ctx.options.include_secrets
    )
    env_list: list[dict[str, Any]] = []
    if spec.listens:
        env_list.append({"name": "PORT", "value": fixed["PORT"]})
    values = {key: value.with_values(fixed) for key, value in {**ctx.derived, **own}.items()}
    # Only a shell evaluates ${X:-default}: such a value (and any value built from one) is set
    # by the container's start script instead of Kubernetes.
    shell_env = {k for k, v in values.items() if v.has_modifier()}
    while True:
        more = {k for k, v in values.items() if v.names() & shell_env}
        if more <= shell_env:
            break
        shell_env |= more
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
    for ref in sorted(referenced - defined):
        source: dict[str, Any]
        if ref in ctx.secrets or ref in project.secret_names:
            ctx.used_secrets.add(ref)
            source = {"secretKeyRef": {"name": ctx.secret, "key": ref}}
        else:
            if ref not in required:
                # used only with a default: read from the ConfigMap above if set there
                continue
            ctx.used_runtime.add(ref)
            source = {"configMapKeyRef": {"name": ctx.runtime, "key": ref}}
        env_list.append({"name": ref, "valueFrom": source})
    # A variable built from others comes after them: Kubernetes expands only earlier ones.
    for key, value in values.items():
        if key not in shell_env:
            env_list.append({"name": key, "value": _k8s_text(value.pieces)})
    if shell_env or any(w.has_modifier() for w in words):
        exports = "".join(
            f"export {key}={shell.word(values[key].pieces)}; " for key in values if key in shell_env
        )
        # The script still passes through Kubernetes' own expansion: dollars are doubled.
        script = exports + "exec " + shell.command([w.pieces for w in words])
        command = ["/bin/sh", "-c", script.replace("$", "$$")]
    else:
        command = [_k8s_text(w.pieces) for w in words]

    container: dict[str, Any] = {
        "name": spec.name.lower().replace("_", "-"),
        "image": extra.pop("image", deploy.image or f"{project.name.lower()}:latest"),
        "command": command,
    }
    env_from: list[dict[str, Any]] = []
    if ctx.config:
        env_from.append({"configMapRef": {"name": ctx.config}})
    if ctx.secret_values:
        env_from.append({"secretRef": {"name": ctx.secret}})
    if env_from:
        container["envFrom"] = env_from
    if env_list:
        container["env"] = env_list
    if spec.listens and not spec.oneshot:
        container["ports"] = [{"name": "app", "containerPort": int(fixed["PORT"])}]
    if spec.healthcheck is not None and spec.healthcheck.kind == "notify":
        lost.add(spec.name, "healthcheck (notify)", "Kubernetes has no READY=1 readiness protocol")
    elif spec.healthcheck is not None:
        container.update(_probes(spec, spec.healthcheck, fixed, lost))
    resources = copy.deepcopy(extra.pop("resources", None)) or {}
    if spec.max_memory and "memory" not in resources.get("limits", {}):
        resources.setdefault("limits", {})["memory"] = str(spec.max_memory)
    if resources:
        container["resources"] = resources
    container_security: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
    }
    user = spec.user or deploy.user
    if user:
        if user.isdigit() and int(user) > 0:
            container_security["runAsUser"] = int(user)
        else:
            who = spec.name if spec.user else None  # [export] user: said once
            lost.add(who, f"user {user}", "Kubernetes needs a numeric non-root uid")
    if deploy.group and deploy.group.isdigit():
        container_security["runAsGroup"] = int(deploy.group)
    container["securityContext"] = container_security
    if deploy.root is not None:
        container["workingDir"] = under_root(deploy.root, relative_cwd(project, spec))
    elif spec.cwd != project.root:
        lost.add(
            spec.name,
            f"cwd {spec.cwd.relative_to(project.root).as_posix()}",
            "the container runs in the image's WORKDIR; set [export] root to where the project "
            "is in the image",
        )
    if spec.stop_signal.name != "SIGTERM":
        lost.add(
            spec.name,
            f"stop_signal {spec.stop_signal.name}",
            f"Kubernetes sends the image's STOPSIGNAL: set STOPSIGNAL {spec.stop_signal.name}"
            " in the Dockerfile",
        )
    for dep in spec.depends_on:
        if _is_oneshot(project, dep.name):
            continue  # a release Job: the notes give the order (apply it, wait, the rest)
        lost.add(
            spec.name,
            f"depends_on {dep.name} ({dep.condition})",
            "Kubernetes starts workloads independently",
        )
    pod_spec: dict[str, Any] = {
        "securityContext": {"runAsNonRoot": True},
        "terminationGracePeriodSeconds": seconds(spec.stop_timeout),
        "containers": [container],
    }
    labels = _labels(project, spec.name)
    pod_labels = labels | dict(spec.labels)
    objects: list[dict[str, Any]] = []
    if spec.oneshot:
        on_failure = spec.restart.mode != "no"
        pod_spec["restartPolicy"] = "OnFailure" if on_failure else "Never"
        job = _meta("batch/v1", "Job", name, project, spec.name)
        job["spec"] = {
            "backoffLimit": spec.restart.max_restarts if on_failure else 0,
            # a finished Job is removed after an hour: the next release is a new Job anyway
            "ttlSecondsAfterFinished": JOB_TTL,
            "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
        }
        _merge(job["spec"], extra.pop("job", {}))
        # A Job's template cannot change: each new release (another image, command or
        # environment) is a new Job, named by a short hash of what it runs.
        digest = hashlib.sha256(json.dumps(job["spec"], sort_keys=True).encode()).hexdigest()
        job["metadata"]["name"] = f"{name[: 63 - 9]}-{digest[:8]}"
        objects.append(job)
    else:
        if export_restart(project, spec, "kubernetes").mode == "no":
            lost.add(spec.name, "restart no", "a Deployment always restarts its pods")
        deployment = _meta("apps/v1", "Deployment", name, project, spec.name)
        replicas = spec.scale
        if spec.autoscale:
            replicas = max(replicas, int(spec.autoscale.get("min", 1)))
        deployment["spec"] = {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
        }
        if is_singleton(project, spec, "kubernetes"):
            # a rolling update runs the new pod beside the old one: never two schedulers
            deployment["spec"]["strategy"] = {"type": "Recreate"}
        _merge(deployment["spec"], extra.pop("deployment", {}))
        objects.append(deployment)
        if spec.listens:
            service = _meta("v1", "Service", name, project, spec.name)
            service["spec"] = {
                "selector": labels,
                "ports": [{"name": "app", "port": int(fixed["PORT"]), "targetPort": "app"}],
            }
            _merge(service["spec"], extra.pop("service", {}))
            objects.append(service)
        if spec.autoscale:
            objects.append(_hpa(project, spec, name))
    if extra:
        pod_extra = extra.pop("pod", {})
        _merge(pod_spec, pod_extra)
    for key in extra:
        lost.add(
            spec.name,
            f"export.kubernetes.{key}",
            "not a known key (image, resources, pod, deployment, service, job)",
        )
    return objects


def _hpa(project: ResolvedProject, spec: ProcessSpec, name: str) -> dict[str, Any]:
    scale = spec.autoscale or {}
    hpa = _meta("autoscaling/v2", "HorizontalPodAutoscaler", name, project, spec.name)
    hpa["spec"] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "minReplicas": int(scale.get("min", 1)),
        "maxReplicas": int(scale.get("max", max(int(scale.get("min", 1)), 1))),
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {
                        "type": "Utilization",
                        "averageUtilization": int(scale.get("cpu", 80)),
                    },
                },
            }
        ],
    }
    return hpa


def _probes(
    spec: ProcessSpec, check: HealthCheck, fixed: Mapping[str, str], lost: Lost
) -> dict[str, Any]:
    probe: dict[str, Any]
    if check.kind == "http":
        url = urlsplit(_literal_target(check, fixed))
        path = url.path or "/"
        if url.query:
            path += "?" + url.query
        probe = {
            "httpGet": {
                "path": path,
                "port": url.port or (443 if url.scheme == "https" else 80),
                "scheme": "HTTPS" if url.scheme == "https" else "HTTP",
            }
        }
        if check.status != (200, 399):
            lost.add(spec.name, f"healthcheck status {check.status}", "Kubernetes accepts 200-399")
        if check.expect:
            lost.add(spec.name, "healthcheck expect", "Kubernetes does not read the body")
    elif check.kind == "tcp":
        _, port = split_host_port(_literal_target(check, fixed))
        probe = {"tcpSocket": {"port": port}}
    else:
        words = [w.with_values(fixed) for w in check.target_words()]
        if any(not w.is_literal for w in words):
            # exec probes are not expanded by Kubernetes: a shell reads the variables.
            script = "exec " + shell.command([w.pieces for w in words])
            probe = {"exec": {"command": ["/bin/sh", "-c", script]}}
        else:
            probe = {"exec": {"command": [w.literal for w in words]}}
    probe |= {
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


def _literal_target(check: HealthCheck, fixed: Mapping[str, str]) -> str:
    pieces = check.target_words()[0].with_values(fixed).pieces
    return "".join(p if isinstance(p, str) else "0" for p in pieces)


def _merge(into: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _is_oneshot(project: ResolvedProject, name: str) -> bool:
    spec = project.processes.get(name)
    return spec is not None and spec.oneshot
