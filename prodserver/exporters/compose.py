"""Docker Compose: one service per process, sharing one image, environment and init.

Everything common to the services sits under ``x-prodserver`` (an extension field Compose
ignores) with a YAML anchor that every service merges. Compose interpolates ``$`` in the
whole file when it loads it, so each value's template is written in Compose's own syntax:
``$$`` for a literal dollar and ``${NAME}`` for a variable the user provides where Compose
runs (a secret is passed through from that environment by name, its value never written).
``PORT`` is the one variable fixed here: inside its own container a process always listens on
the same port, so the container's ``PORT`` is set and the command says it literally.
"""

from __future__ import annotations

import copy
import re
import signal
from typing import Any

from prodserver.config.model import HealthCheck, ProcessSpec, ResolvedProject
from prodserver.exporters import base, yamlout
from prodserver.template import Template

CONDITIONS = {
    "started": "service_started",
    "healthy": "service_healthy",
    "completed": "service_completed_successfully",
}
RESTART = {"no": "no", "always": "always", "on-failure": "on-failure"}

#: a broker or database URL that points at the machine itself: inside a container that is the
#: container, so such a URL gets a service of its own (scheme, optional user info, host, port)
_LOCAL_URL = re.compile(
    r"(?P<scheme>rediss?|postgres(?:ql)?)://(?P<auth>[^@/\s]*@)?"
    r"(?P<host>127\.0\.0\.1|localhost|\[::1\])(?::(?P<port>\d+))?(?P<rest>/[^\s\"'}]*)?"
)
#: the generated backing services: their image, port and healthcheck
BACKING: dict[str, dict[str, Any]] = {
    "redis": {
        "image": "redis:7-alpine",
        "port": 6379,
        "healthcheck": {
            "test": ["CMD", "redis-cli", "ping"],
            "interval": "5s",
            "timeout": "3s",
            "retries": 10,
        },
    },
    "postgres": {
        "image": "postgres:16-alpine",
        "port": 5432,
        "healthcheck": {
            "test": ["CMD-SHELL", 'pg_isready -U "$${POSTGRES_USER}" -d "$${POSTGRES_DB}"'],
            "interval": "5s",
            "timeout": "3s",
            "retries": 10,
        },
    },
}

# The probes run inside the application's image, where Python is certain and curl is not.
_HTTP_PROBE = (
    "import sys, urllib.request\n"
    "lo, hi, expect = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]\n"
    "try:\n"
    "    r = urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[5]))\n"
    "    code, body = r.status, r.read(65536)\n"
    "except urllib.error.HTTPError as e:\n"
    "    code, body = e.code, b''\n"
    "sys.exit(0 if lo <= code <= hi and expect.encode() in body else 1)\n"
)
_TCP_PROBE = (
    "import socket, sys\n"
    "host, _, port = sys.argv[1].rpartition(':')\n"
    "socket.create_connection((host.strip('[]') or '127.0.0.1', int(port)), float(sys.argv[2]))"
    ".close()\n"
)


def render(project: ResolvedProject, options: base.ExportOptions) -> base.ExportResult:
    """The ``compose.yaml`` of ``project``."""
    lost = base.Lost("compose")
    deploy = project.deploy.settings("compose")
    backing = _Backing(enabled=deploy.backing_services)
    common = _common(project, include_secrets=options.include_secrets, backing=backing, lost=lost)
    anchor = yamlout.Anchored("prodserver", common)

    services: dict[str, Any] = {}
    for name, spec in project.processes.items():
        services[name] = _service(
            project, spec, anchor=anchor, options=options, lost=lost, backing=backing
        )
    _add_backing_services(services, backing, lost)
    advice = [
        f"{', '.join(sorted(where))}: pointed at this machine, which inside a container is the "
        f"container itself; the export adds a '{kind}' service (with a healthcheck) and names "
        f"it instead (set [export.compose] backing_services = false to keep the URL)"
        for kind, where in backing.found.items()
    ]

    document: dict[str, Any] = {
        "name": project.name.lower(),
        "x-prodserver": anchor,
        "services": services,
    }
    has_secret_values = options.include_secrets and any(
        n in project.secret_names for n in project.env
    )
    content = base.header("compose", project) + yamlout.dump([document])
    return base.ExportResult.one_file(
        "compose.yaml", content, holds_secret=has_secret_values, lost=lost, advice=advice
    )


def _common(
    project: ResolvedProject, *, include_secrets: bool, backing: _Backing, lost: base.Lost
) -> dict[str, Any]:
    """What every service shares (under ``x-prodserver``): image, init, the environment."""
    env, secrets = base.secret_env(
        project, project.env_templates(), include_secrets=include_secrets
    )
    environment: dict[str, str | None] = {
        k: _text(v, {}, _definitions(env, exclude=k)) for k, v in env.items()
    }
    for name in secrets:
        # A name without a value: Compose passes the variable through from where it runs.
        environment[name] = None
    deploy = project.deploy.settings("compose")
    environment = {
        k: backing.rewrite(v, k) if v is not None else None for k, v in environment.items()
    }
    common: dict[str, Any] = {"image": deploy.image or f"{project.name.lower()}:latest"}
    if deploy.image is None:
        common["build"] = {"context": "."}
    common["init"] = True
    env_files = base.target_env_files(project, lost)
    if env_files:
        # Referenced, not copied: Compose reads them where it runs, next to compose.yaml, and
        # a missing one is fine there as it is here.
        common["env_file"] = [{"path": p.as_posix(), "required": False} for p in env_files]
    if environment:
        common["environment"] = environment
    return common


def _add_backing_services(services: dict[str, Any], backing: _Backing, lost: base.Lost) -> None:
    """A service for each broker or database found on localhost; every process waits for it."""
    for kind, where in backing.found.items():
        if kind in services:
            lost.add(
                None, f"a {kind} service for {', '.join(sorted(where))}", "a process is named so"
            )
            continue
        services[kind] = backing.service(kind)
        for service in services.values():
            if service is not services[kind] and yamlout.MERGE in service:
                service.setdefault("depends_on", {})[kind] = {"condition": "service_healthy"}


class _Backing:
    """Finds broker and database URLs on localhost, rewrites them to a generated service."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        #: service kind -> the variables (or "command") whose URL names it
        self.found: dict[str, set[str]] = {}
        self.postgres: dict[str, str] = {}
        self._where = "command"

    def rewrite(self, text: str, where: str | None = None) -> str:
        if not self.enabled:
            return text
        self._where = where or self._where

        def one(match: re.Match[str]) -> str:
            kind = "redis" if match["scheme"].startswith("redis") else "postgres"
            self.found.setdefault(kind, set()).add(self._where)
            if kind == "postgres" and not self.postgres:
                auth = (match["auth"] or "").removesuffix("@")
                user, _, password = auth.partition(":")
                rest = (match["rest"] or "/").lstrip("/").split("?")[0]
                self.postgres = {
                    "POSTGRES_USER": user or "postgres",
                    "POSTGRES_DB": rest or user or "postgres",
                }
                if password:
                    self.postgres["POSTGRES_PASSWORD"] = password
                else:
                    # reachable only on the Compose network: it publishes no port
                    self.postgres["POSTGRES_HOST_AUTH_METHOD"] = "trust"
            port = BACKING[kind]["port"]
            return f"{match['scheme']}://{match['auth'] or ''}{kind}:{port}{match['rest'] or ''}"

        return _LOCAL_URL.sub(one, text)

    def service(self, kind: str) -> dict[str, Any]:
        spec = BACKING[kind]
        out: dict[str, Any] = {"image": spec["image"], "restart": "unless-stopped"}
        if kind == "postgres":
            out["environment"] = dict(self.postgres)
        out["healthcheck"] = copy.deepcopy(spec["healthcheck"])
        return out


def _port_text(spec: ProcessSpec) -> dict[str, str]:
    return {"PORT": str(base.default_port(spec))} if spec.listens else {}


def _text(value: Template, fixed: dict[str, str], definitions: dict[str, Template]) -> str:
    """Interpolation text with ``fixed`` variables and ``definitions`` put in, for Compose.

    Compose resolves every ``${NAME}`` from the environment ``docker compose`` runs in, so a
    variable the configuration defines is written as its definition.
    """
    return value.inline(definitions).with_values(fixed).compose_text()


def _definitions(env: dict[str, Template], exclude: str | None = None) -> dict[str, Template]:
    return {k: v for k, v in env.items() if k != exclude}


def _service(
    project: ResolvedProject,
    spec: ProcessSpec,
    *,
    anchor: yamlout.Anchored,
    options: base.ExportOptions,
    lost: base.Lost,
    backing: _Backing,
) -> dict[str, Any]:
    fixed = _port_text(spec)
    deploy = project.deploy.settings("compose")
    service: dict[str, Any] = {yamlout.MERGE: anchor}
    env, secrets = base.secret_env(
        project, spec.env_templates(), include_secrets=options.include_secrets
    )
    shared, _ = base.secret_env(
        project, project.env_templates(), include_secrets=options.include_secrets
    )
    definitions = _definitions({**shared, **env})
    service["command"] = [
        backing.rewrite(_text(arg, fixed, definitions), "command") for arg in spec.argv_words()
    ]
    environment: dict[str, str | None] = {
        k: backing.rewrite(_text(v, fixed, _definitions({**shared, **env}, exclude=k)), k)
        for k, v in env.items()
    }
    environment.update(dict.fromkeys(secrets))
    if spec.listens:
        environment["PORT"] = fixed["PORT"]
        service.update(_ports(spec, fixed["PORT"], publish=deploy.publish_ports))
    if environment:
        # Compose replaces, not merges, a mapping given again: repeat the common variables.
        service["environment"] = {**anchor.get("environment", {}), **environment}
    workdir = base.container_workdir(project, spec, deploy.root, lost)
    if workdir is not None:
        service["working_dir"] = workdir
    if spec.depends_on:
        service["depends_on"] = {
            dep.name: {"condition": CONDITIONS[dep.condition]} for dep in spec.depends_on
        }
    if spec.healthcheck is not None and spec.healthcheck.kind == "notify":
        lost.add(spec.name, "healthcheck (notify)", "Docker has no READY=1 readiness protocol")
    elif spec.healthcheck is not None:
        service["healthcheck"] = _healthcheck(spec.healthcheck, fixed, definitions)
    if spec.stop_signal != signal.SIGTERM:
        service["stop_signal"] = spec.stop_signal.name
    service["stop_grace_period"] = base.duration(spec.stop_timeout)
    service["restart"] = _restart(project, spec, lost)
    service.update(_scaling(spec))
    if spec.user or deploy.user:
        service["user"] = spec.user or deploy.user
        if deploy.group and not spec.user:
            service["user"] += f":{deploy.group}"
    if spec.labels:
        service["labels"] = dict(spec.labels)
    _report_unsupported(spec, lost)
    extra = spec.export.get("compose")
    if extra:
        _deep_merge(service, copy.deepcopy(dict(extra)))
    return service


def _ports(spec: ProcessSpec, port: str, *, publish: bool) -> dict[str, Any]:
    """``expose`` (and ``ports`` when published) of a long-running process that listens."""
    if spec.oneshot:
        return {}
    out: dict[str, Any] = {"expose": [port]}
    if publish:
        # one copy: the same port on the host; several: a free host port each
        out["ports"] = [f"{port}:{port}" if spec.scale == 1 else port]
    return out


def _restart(project: ResolvedProject, spec: ProcessSpec, lost: base.Lost) -> str:
    """The ``restart`` policy; what Docker cannot tune of the process's policy is lost."""
    if spec.oneshot:
        return "no"
    policy = base.export_restart(project, spec, "compose")
    mode = policy.mode
    restart = RESTART[mode]
    if mode == "on-failure" and policy.max_restarts:
        restart = f"on-failure:{policy.max_restarts}"
    if mode != "no" and base.restart_tuned(policy):
        lost.add(
            spec.name,
            f"restart backoff {policy.backoff:g}s..{policy.backoff_max:g}s"
            f" within {policy.window:g}s",
            "Docker doubles the delay from 100ms by itself",
        )
    for key in ("success_exit_codes", "prevent_exit_codes"):
        if getattr(policy, key):
            lost.add(spec.name, f"restart.{key}", "Docker restarts on any non-zero exit")
    return restart


def _scaling(spec: ProcessSpec) -> dict[str, Any]:
    """``deploy`` (replicas, memory limit) and the ``manual`` profile of a process scaled to 0."""
    out: dict[str, Any] = {}
    if spec.scale > 1 and not spec.oneshot:
        out["deploy"] = {"replicas": spec.scale}
    if spec.scale == 0:
        # Not started by default; `docker compose --profile manual up` brings it up.
        out["profiles"] = ["manual"]
    if spec.max_memory:
        out.setdefault("deploy", {})["resources"] = {"limits": {"memory": str(spec.max_memory)}}
    return out


def _report_unsupported(spec: ProcessSpec, lost: base.Lost) -> None:
    """Say what Compose cannot do of ``spec``: autoscaling, signalling the whole group."""
    if spec.autoscale:
        lost.add(spec.name, "autoscale", "Compose has no autoscaler")
    if spec.kill_mode == "group":
        # init: true runs tini, which forwards the stop signal to the main process only; the
        # rest of the container's processes get SIGKILL when it stops.
        lost.add(spec.name, "kill_mode group", "Docker signals the container's main process")


def _healthcheck(
    check: HealthCheck, fixed: dict[str, str], definitions: dict[str, Template]
) -> dict[str, Any]:
    target = check.target_words()
    if check.kind == "cmd":
        test = ["CMD", *(_text(word, fixed, definitions) for word in target)]
    elif check.kind == "http":
        test = [
            "CMD",
            "python",
            "-c",
            _HTTP_PROBE,
            _text(target[0], fixed, definitions),
            str(check.status[0]),
            str(check.status[1]),
            (check.expect or "").replace("$", "$$"),
            f"{check.timeout:g}",
        ]
    else:
        test = ["CMD", "python", "-c", _TCP_PROBE, _text(target[0], fixed, definitions)]
        test.append(f"{check.timeout:g}")
    result: dict[str, Any] = {
        "test": test,
        "interval": base.duration(check.interval),
        "timeout": base.duration(check.timeout),
        "retries": check.retries,
    }
    if check.start_period:
        result["start_period"] = base.duration(check.start_period)
    return result


def _deep_merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = value
