"""The resolved configuration: one frozen model that the runtime and every exporter consume.

Nothing here reads files or the environment. The resolver (:mod:`prodserver.config.resolve`)
builds these objects; everything downstream only reads them. Mappings are wrapped in
:class:`types.MappingProxyType` so that a consumer cannot change what another one sees.

The classes are records (:mod:`prodserver.records`: namedtuples declared like
``typing.NamedTuple`` classes, that stay frozen dataclasses to :mod:`dataclasses`), since every
``up`` defines them before its first child runs; ``typing`` is imported by the type checker only.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from prodserver.declarations.defaults import DEFAULT_STOP_TIMEOUT
from prodserver.records import NamedTuple, dataclass_view
from prodserver.template import Template

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Literal

    from prodserver.options import KillMode

    DependencyCondition = Literal["started", "healthy", "completed"]
    RestartMode = Literal["no", "on-failure", "always"]
    #: ``notify``: no probe; the instance is healthy once its main process sends ``READY=1``
    #: on its ``NOTIFY_SOCKET`` (the systemd protocol)
    ProbeKind = Literal["http", "tcp", "cmd", "notify"]

EMPTY: Mapping[str, Any] = MappingProxyType({})

#: foreman's step between the port ranges of consecutive processes
PORT_STEP = 100
#: profile names that count as production even when the profile does not say so itself
PRODUCTION_NAMES = frozenset({"prod", "production"})


def assigned_port(base: int, position: int, number: int = 1) -> int:
    """The port rule, as foreman's: base + 100 x the process's position + instance - 1."""
    return base + PORT_STEP * position + number - 1


def frozen_map(data: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only copy of ``data`` (insertion order kept)."""
    return MappingProxyType(dict(data or {}))


@dataclass_view
class HealthCheck(NamedTuple):
    """A probe of one process instance.

    ``target`` is a URL for ``http``, ``host:port`` for ``tcp``, an argv for ``cmd`` and
    empty for ``notify``. Times are seconds.
    """

    kind: ProbeKind
    target: str | tuple[str, ...]
    interval: float = 5.0
    timeout: float = 3.0
    retries: int = 3
    start_period: float = 0.0
    #: inclusive range of HTTP status codes that count as healthy
    status: tuple[int, int] = (200, 399)
    #: text the HTTP body must contain, if given
    expect: str | None = None
    #: ``readiness`` only gates dependants; ``liveness`` failures restart the process
    role: Literal["readiness", "liveness", "both"] = "both"
    #: ``notify`` only: seconds within which each ``WATCHDOG=1`` must follow the last one
    #: (``WATCHDOG_USEC``); a missed deadline is a liveness failure
    watchdog: float | None = None
    #: ``target`` as templates (one per argv word of a ``cmd``, else one): where a reference
    #: was kept (an export's ``${PORT}``), ``target`` is its materialisation
    template: tuple[Template, ...] = ()

    def target_words(self) -> tuple[Template, ...]:
        """The target as templates (literal when the resolution kept no reference)."""
        if self.template:
            return self.template
        words = self.target if isinstance(self.target, tuple) else (self.target,)
        return tuple(Template.of(w) for w in words)


@dataclass_view
class RestartPolicy(NamedTuple):
    """When and how fast a process that exited is started again.

    A run shorter than ``window`` seconds counts towards a streak; a longer run resets it.
    The delay before restart ``n`` of a streak (1-based) is
    ``min(backoff * 2**(n-1), backoff_max)``, and a process whose streak reaches
    ``max_restarts`` is given up on (``0`` means never). See :mod:`prodserver.runtime.restart`
    for why short runs are counted rather than restarts inside a sliding window.
    """

    mode: RestartMode = "no"
    max_restarts: int = 5
    backoff: float = 1.0
    backoff_max: float = 30.0
    window: float = 60.0
    #: exit codes that count as success besides 0 (systemd's ``SuccessExitStatus=``)
    success_exit_codes: tuple[int, ...] = ()
    #: exit codes never restarted, whatever ``mode`` (systemd's ``RestartPreventExitStatus=``)
    prevent_exit_codes: tuple[int, ...] = ()


@dataclass_view
class Dependency(NamedTuple):
    """``depends_on`` entry: start this process only once ``name`` reached ``condition``."""

    name: str
    condition: DependencyCondition = "started"


@dataclass_view
class Instance(NamedTuple):
    """One running copy of a process (``name.number``), fully resolved."""

    process: str
    #: 1-based, as foreman and honcho number instances (``web.1``)
    number: int
    #: the final argv (never run through a shell unless the process has ``shell = true``,
    #: in which case it is ``("/bin/sh", "-c", script)``)
    argv: tuple[str, ...]
    #: the complete environment of the child, ``PORT``, ``PRODSERVER_PROCESS`` and
    #: ``PRODSERVER_INSTANCE`` included
    env: Mapping[str, str]
    port: int | None = None
    healthcheck: HealthCheck | None = None

    @property
    def label(self) -> str:
        """The log prefix name: ``web.1``."""
        return f"{self.process}.{self.number}"


@dataclass_view
class ProcessSpec(NamedTuple):
    """One process type of the chosen profile, after merge, substitution and validation."""

    name: str
    backend: str
    #: 0-based position among the profile's processes (file order); used for PORT assignment
    position: int
    #: the backend's typed options after validation and defaults (``app``, ``workers``, ...)
    options: Mapping[str, Any]
    #: the argv of instance 1 (each instance may differ only where it uses ``${PORT}``)
    argv: tuple[str, ...]
    shell: bool
    cwd: Path
    #: the environment specific to this process (process-level ``env`` layer, without the
    #: inherited project/profile/shell layers); see :attr:`Instance.env` for the full one
    env: Mapping[str, str]
    scale: int
    instances: tuple[Instance, ...]
    listens: bool
    depends_on: tuple[Dependency, ...] = ()
    healthcheck: HealthCheck | None = None
    restart: RestartPolicy = RestartPolicy()
    oneshot: bool = False
    stop_signal: signal.Signals = signal.SIGTERM
    #: sent to the main process on ``prodserver reload`` when the process itself did not
    #: change (gunicorn reloads its application on SIGHUP); None: left alone
    reload_signal: signal.Signals | None = None
    kill_mode: KillMode = "group"
    stop_timeout: float = DEFAULT_STOP_TIMEOUT
    user: str | None = None
    labels: Mapping[str, str] = EMPTY
    #: ``export.<format>`` tables, passed through to that exporter untouched
    export: Mapping[str, Mapping[str, Any]] = EMPTY
    #: ``max_memory`` in bytes (whole process tree), or None
    max_memory: int | None = None
    #: ``autoscale = { min, max, cpu }`` for exporters that support it
    autoscale: Mapping[str, Any] | None = None
    #: :attr:`argv` as templates: a reference the resolution kept (an export's ``${PORT}``, a
    #: secret) is a :class:`~prodserver.template.Ref`; ``argv`` is the materialised text
    words: tuple[Template, ...] = ()
    #: in an export of several copies whose argv uses the copy's number (Celery's node name):
    #: the argv with that number a ``PRODSERVER_INSTANCE`` reference, for engines that number
    #: their copies; empty otherwise (:attr:`words` is then every copy's argv)
    numbered_words: tuple[Template, ...] = ()
    #: :attr:`env` as templates, in the same way
    env_values: Mapping[str, Template] = EMPTY

    def argv_words(self) -> tuple[Template, ...]:
        """The argv as templates (literal when the resolution kept no reference)."""
        return self.words or tuple(Template.of(w) for w in self.argv)

    def numbered_argv_words(self) -> tuple[Template, ...]:
        """The argv for an engine that numbers the copies (see :attr:`numbered_words`)."""
        return self.numbered_words or self.argv_words()

    def env_templates(self) -> dict[str, Template]:
        """The process's own environment as templates."""
        return {k: self.env_values.get(k) or Template.of(v) for k, v in self.env.items()}

    @property
    def numbered_copies(self) -> bool:
        """Whether an engine runs numbered copies of it (systemd instances, ``numprocs``):
        then, as in ``up``, each copy's ``PRODSERVER_INSTANCE`` is known."""
        return self.scale > 1 and not self.oneshot

    def names_copy(self) -> bool:
        """Whether its argv or environment uses the copy's number (``PRODSERVER_INSTANCE``)."""
        from prodserver.config.target import INSTANCE

        templates = (*self.numbered_argv_words(), *self.env_templates().values())
        return bool(self.numbered_words) or any(INSTANCE in t.names() for t in templates)


#: what an export restarts when the process sets no ``restart``: a service manager keeps a
#: long-running process up (``up`` instead stops everything, as foreman does)
DEFAULT_EXPORT_RESTART: RestartMode = "on-failure"


@dataclass_view
class ExportSettings(NamedTuple):
    """The ``[export]`` table for one format: what differs between here and the target.

    Every value is the user's, written as given (never substituted from this machine's
    environment); None means "the format's own default" (see ``docs/deploy/index.md``).
    """

    #: the application root on the target (the directory of ``prodserver.toml`` there)
    root: str | None = None
    #: the virtualenv, relative to ``root`` or absolute; its ``bin`` leads PATH ("" for none)
    venv: str = ".venv"
    #: more directories put on PATH after the virtualenv's
    path: tuple[str, ...] = ()
    user: str | None = None
    group: str | None = None
    #: the container image (Compose, Kubernetes)
    image: str | None = None
    #: the policy of a long-running process that sets no ``restart`` of its own
    restart: RestartMode = DEFAULT_EXPORT_RESTART
    #: processes that must never run as more than one copy (besides celery-beat and
    #: rq-scheduler, which always are)
    singletons: tuple[str, ...] = ()
    #: Compose: publish each listening process's port on the host
    publish_ports: bool = True
    #: Compose: a Redis or PostgreSQL service for a broker or database URL on localhost
    backing_services: bool = True


@dataclass_view
class DeploySettings(NamedTuple):
    """``[export]`` and ``[export.<format>]`` after the profile merge."""

    common: ExportSettings = ExportSettings()
    formats: Mapping[str, ExportSettings] = EMPTY
    #: processes whose ``restart`` the configuration sets (the others get ``restart`` above)
    explicit_restart: frozenset[str] = frozenset()

    def settings(self, fmt: str) -> ExportSettings:
        """The settings of format ``fmt``: its own table over the common one."""
        return self.formats.get(fmt, self.common)


@dataclass_view
class ResolvedProject(NamedTuple):
    """Everything prodserver knows about the chosen profile. Frozen."""

    name: str
    #: the project root: the directory of the configuration file
    root: Path
    #: the file the configuration came from (``prodserver.toml``, ``pyproject.toml``,
    #: ``Procfile``, or a Django settings module path)
    source: Path
    profile: str
    #: every profile the file defines, in file order (for ``--all-profiles`` and messages)
    profiles: tuple[str, ...]
    #: processes in file order (enabled ones only)
    processes: Mapping[str, ProcessSpec]
    #: the merged environment shared by every process of the profile
    #: (``env_files`` < shell < ``[env]`` < profile ``env``); used by ``prodserver run``
    env: Mapping[str, str]
    #: names of environment variables whose values are secret (masked when shown)
    secret_names: frozenset[str] = frozenset()
    #: the ``env_files`` that were actually read, in order
    env_files: tuple[Path, ...] = ()
    #: non-fatal problems found while resolving (rendered strings)
    warnings: tuple[str, ...] = ()
    #: names of variables that exist only at run time and were kept as references
    #: (``$PORT`` in exports); empty for a runtime resolution
    runtime_refs: frozenset[str] = frozenset()
    #: the profile is marked as a production profile (pre-start checks run Django's
    #: ``check --deploy``); profiles named ``prod`` or ``production`` count as marked anyway
    production: bool = False
    #: ``[project] allow_root``: `up` may run a production profile's processes as root
    allow_root: bool = False
    #: :attr:`env` as templates (see :attr:`ProcessSpec.words`)
    env_values: Mapping[str, Template] = EMPTY
    #: the ``[export]`` settings (exports only read them)
    deploy: DeploySettings = DeploySettings()

    def env_templates(self) -> dict[str, Template]:
        """The shared environment as templates."""
        return {k: self.env_values.get(k) or Template.of(v) for k, v in self.env.items()}

    def copy_numbers_from_engine(self) -> bool:
        """Whether every process that uses ``PRODSERVER_INSTANCE`` runs as numbered copies, so
        that an engine that numbers copies provides it (nothing for the user to set)."""
        return all(s.numbered_copies for s in self.processes.values() if s.names_copy())

    def process(self, name: str) -> ProcessSpec:
        return self.processes[name]

    def start_order(self) -> tuple[str, ...]:
        """Process names in dependency order (dependencies first), file order as tie-break."""
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            for dep in self.processes[name].depends_on:
                if dep.name in self.processes:
                    visit(dep.name)
            order.append(name)

        for name in self.processes:
            visit(name)
        return tuple(order)
