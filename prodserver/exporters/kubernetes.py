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
from typing import Any

from prodserver import codes
from prodserver.config.model import ProcessSpec, ResolvedProject
from prodserver.errors import ConfigError, Location
from prodserver.exporters import base, yamlout
from prodserver.exporters.kubernetes_parts import Context, container
from prodserver.template import Template

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


def render(project: ResolvedProject, options: base.ExportOptions) -> base.ExportResult:
    """The manifests of ``project``: one multi-document YAML, or a kustomize tree."""
    if options.kustomize:
        from prodserver.exporters.kustomize import render as render_tree  # only with --kustomize

        return render_tree(project, options)
    lost = base.Lost("kubernetes")
    objects, holds_secret, advice = build(project, options, lost)
    content = base.header("kubernetes", project) + yamlout.dump(objects)
    return base.ExportResult.one_file(
        f"{project.name}.yaml", content, holds_secret=holds_secret, lost=lost, advice=advice
    )


def build(
    project: ResolvedProject, options: base.ExportOptions, lost: base.Lost
) -> tuple[list[dict[str, Any]], bool, list[str]]:
    """The Kubernetes objects (as data), whether they hold a secret value, and advice."""
    names = _object_names(project)
    env, secrets = base.secret_env(
        project, project.env_templates(), include_secrets=options.include_secrets
    )
    secret_name = k8s_name(project, "secrets")
    config_name = k8s_name(project, "env")
    plain, derived, secret_values = _split_env(project, env)
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
    ctx = Context(
        project=project,
        include_secrets=options.include_secrets,
        config=config_name,
        secret=secret_name,
        runtime=k8s_name(project, "runtime"),
        secrets=set(secrets) | {n for n in project.runtime_refs if n in project.secret_names},
        derived=derived,
        lost=lost,
    )
    ctx.secret_values = bool(secret_values)
    ctx.plain = set(plain)
    for name in project.start_order():
        objects.extend(_workload(ctx, project.processes[name], names[name]))
    return objects, bool(secret_values), _advice(ctx, objects)


def _object_names(project: ResolvedProject) -> dict[str, str]:
    """The object name of each process; two processes may not end up with the same one."""
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
    return names


def _split_env(
    project: ResolvedProject, env: Mapping[str, Template]
) -> tuple[dict[str, str], dict[str, Template], dict[str, str]]:
    """The shared environment as ConfigMap data, values built from others, and secret values."""
    plain = {k: v.literal for k, v in env.items() if v.is_literal}
    derived = {k: v for k, v in env.items() if not v.is_literal}
    secret_values = {k: v for k, v in plain.items() if k in project.secret_names}
    for key in secret_values:
        del plain[key]
    bad = [k for k in plain if not _ENV_NAME.fullmatch(k)]
    if bad:
        raise ConfigError(f"{bad[0]!r} is not a valid ConfigMap key", code=codes.CONFIGMAP_KEY)
    return plain, derived, secret_values


def _advice(ctx: Context, objects: Sequence[Mapping[str, Any]]) -> list[str]:
    """What to create and in which order to apply, said after the export."""
    advice: list[str] = []
    needed_secrets = sorted(ctx.used_secrets)
    if needed_secrets and not ctx.secret_values:
        literals = " ".join(f"--from-literal={n}=..." for n in needed_secrets)
        advice.append(
            f"create the Secret first: kubectl create secret generic {ctx.secret} {literals}"
        )
    if ctx.used_runtime:
        literals = " ".join(f"--from-literal={n}=..." for n in sorted(ctx.used_runtime))
        advice.append(
            f"create the ConfigMap first: kubectl create configmap {ctx.runtime} {literals}"
        )
    jobs = [o["metadata"]["name"] for o in objects if o["kind"] == "Job"]
    if jobs:
        # objects without a component label (the ConfigMap, a Secret) match "notin" too
        long_running = ",".join(
            n.lower().replace("_", "-") for n, s in ctx.project.processes.items() if not s.oneshot
        )
        selector = f"app.kubernetes.io/component notin ({long_running})"
        waits = " ".join(f"job/{j}" for j in jobs)
        advice.append(
            "apply the release Job(s) first and wait for them, then the rest: "
            f"kubectl apply -f FILE -l '{selector}' && "
            f"kubectl wait --for=condition=complete --timeout=15m {waits} && "
            "kubectl apply -f FILE"
        )
    return advice


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


def _workload(ctx: Context, spec: ProcessSpec, name: str) -> list[dict[str, Any]]:
    """The objects of one process: a Job, or a Deployment with its Service and autoscaler."""
    fixed = {"PORT": str(base.default_port(spec))} if spec.listens else {}
    extra = dict(spec.export.get("kubernetes", {}))
    pod_spec: dict[str, Any] = {
        "securityContext": {"runAsNonRoot": True},
        "terminationGracePeriodSeconds": base.seconds(spec.stop_timeout),
        "containers": [container(ctx, spec, fixed=fixed, extra=extra)],
    }
    _report_unsupported(ctx, spec)
    labels = _labels(ctx.project, spec.name)
    template = {"metadata": {"labels": labels | dict(spec.labels)}, "spec": pod_spec}
    if spec.oneshot:
        job = _meta("batch/v1", "Job", name, ctx.project, spec.name)
        objects = [_job(spec, job, template, extra.pop("job", {}))]
    else:
        objects = _long_running(
            ctx, spec, name, template=template, labels=labels, fixed=fixed, extra=extra
        )
    # merged last: a Job's name hashes its spec without the pod's extra keys
    if extra:
        pod_extra = extra.pop("pod", {})
        _merge(pod_spec, pod_extra)
    for key in extra:
        ctx.lost.add(
            spec.name,
            f"export.kubernetes.{key}",
            "not a known key (image, resources, pod, deployment, service, job)",
        )
    return objects


def _report_unsupported(ctx: Context, spec: ProcessSpec) -> None:
    """Say what Kubernetes cannot do of ``spec``: its stop signal and start order."""
    if spec.stop_signal.name != "SIGTERM":
        ctx.lost.add(
            spec.name,
            f"stop_signal {spec.stop_signal.name}",
            f"Kubernetes sends the image's STOPSIGNAL: set STOPSIGNAL {spec.stop_signal.name}"
            " in the Dockerfile",
        )
    for dep in spec.depends_on:
        if _is_oneshot(ctx.project, dep.name):
            continue  # a release Job: the notes give the order (apply it, wait, the rest)
        ctx.lost.add(
            spec.name,
            f"depends_on {dep.name} ({dep.condition})",
            "Kubernetes starts workloads independently",
        )


def _job(
    spec: ProcessSpec, job: dict[str, Any], template: dict[str, Any], overrides: Mapping[str, Any]
) -> dict[str, Any]:
    """``job`` (its metadata) completed as the Job of a oneshot, named by a hash of its spec."""
    on_failure = spec.restart.mode != "no"
    template["spec"]["restartPolicy"] = "OnFailure" if on_failure else "Never"
    job["spec"] = {
        "backoffLimit": spec.restart.max_restarts if on_failure else 0,
        # a finished Job is removed after an hour: the next release is a new Job anyway
        "ttlSecondsAfterFinished": JOB_TTL,
        "template": template,
    }
    _merge(job["spec"], overrides)
    # A Job's template cannot change: each new release (another image, command or
    # environment) is a new Job, named by a short hash of what it runs.
    digest = hashlib.sha256(json.dumps(job["spec"], sort_keys=True).encode()).hexdigest()
    name = job["metadata"]["name"]
    job["metadata"]["name"] = f"{name[: 63 - 9]}-{digest[:8]}"
    return job


def _long_running(
    ctx: Context,
    spec: ProcessSpec,
    name: str,
    *,
    template: dict[str, Any],
    labels: dict[str, str],
    fixed: Mapping[str, str],
    extra: dict[str, Any],
) -> list[dict[str, Any]]:
    """The Deployment of a long-running process, its Service if it listens, its autoscaler."""
    project = ctx.project
    if base.export_restart(project, spec, "kubernetes").mode == "no":
        ctx.lost.add(spec.name, "restart no", "a Deployment always restarts its pods")
    deployment = _meta("apps/v1", "Deployment", name, project, spec.name)
    replicas = spec.scale
    if spec.autoscale:
        replicas = max(replicas, int(spec.autoscale.get("min", 1)))
    deployment["spec"] = {
        "replicas": replicas,
        "selector": {"matchLabels": labels},
        "template": template,
    }
    if base.is_singleton(project, spec, "kubernetes"):
        # a rolling update runs the new pod beside the old one: never two schedulers
        deployment["spec"]["strategy"] = {"type": "Recreate"}
    _merge(deployment["spec"], extra.pop("deployment", {}))
    objects = [deployment]
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


def _merge(into: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def _is_oneshot(project: ResolvedProject, name: str) -> bool:
    spec = project.processes.get(name)
    return spec is not None and spec.oneshot
