"""Builds one run of ``up`` from its parts, once: nothing is wired after construction.

The parts that point at each other (the notify socket delivers to the supervisor, which
gives each child that socket's address; the control socket and the metrics server read the
supervisor's status) are connected through closures created here, before the supervisor
exists, so every object is complete when it is constructed. The OS plumbing (guardian,
spawner, event loop) is chosen here too: the seam a portable runtime plugs into.
"""

from __future__ import annotations

import _socket
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from prodserver.config.model import ResolvedProject
from prodserver.errors import ProdserverError
from prodserver.runtime.audit import AuditLog, Event
from prodserver.runtime.output import OutputMux
from prodserver.runtime.process import Unit
from prodserver.runtime.streams import Style

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from prodserver.runtime.control import ControlServer
    from prodserver.runtime.guardian import Guardian
    from prodserver.runtime.health import ThreadProber
    from prodserver.runtime.loop import EventLoop
    from prodserver.runtime.metrics import MetricsServer, PsutilSampler, UnitSample
    from prodserver.runtime.notify import NotifyHub
    from prodserver.runtime.supervisor import Supervisor
    from prodserver.runtime.up import UpOptions


class Assembly:
    """Everything one run of ``up`` is made of, and how to take it apart."""

    def __init__(  # noqa: PLR0917 - the parts of one run, in the order assemble() builds them
        self,
        mux: OutputMux,
        loop: EventLoop,
        supervisor: Supervisor,
        prober: ThreadProber,
        guardian: Guardian | None,
        hub: NotifyHub | None,
        control: ControlServer | None,
        metrics: MetricsServer | None,
        warnings: list[str],
    ) -> None:
        self.mux = mux
        self.loop = loop
        self.supervisor = supervisor
        self.prober = prober
        self.guardian = guardian
        self.hub = hub
        self.control = control
        self.metrics = metrics
        #: said at the start of the run (no runtime directory, a second ``up``)
        self.warnings = warnings

    def close(self, *, failed: bool) -> None:
        """Close every socket and thread; ``failed``: the guardian is not dismissed, so it
        kills anything of this run that is still there."""
        self.prober.close()
        for part in (self.hub, self.control, self.metrics):
            if part is not None:
                part.close()
        if self.guardian is not None:
            if failed:
                self.guardian.abandon()
            else:
                self.guardian.close()


class _Late:
    """The supervisor for the sockets built before it: they only call once the run is on."""

    def __init__(self) -> None:
        self.sup: Supervisor | None = None

    def deliver(self, unit: Unit, pid: int, fields: Mapping[str, str]) -> None:
        assert self.sup is not None
        self.sup.handle_notify(unit, pid, fields)

    def answer(self, request: Mapping[str, Any]) -> Mapping[str, Any]:
        """A control-socket request: ``reload``, or ``status`` (the default)."""
        assert self.sup is not None
        if request.get("command") == "reload":
            return self.sup.reload("prodserver reload")
        return self.sup.status()


def assemble(
    project: ResolvedProject,
    options: UpOptions,
    selected: list[str],
    fd: int,
    style: Style,
    *,
    audit: AuditLog | None,
) -> Assembly:
    """Build the run: bind what can fail first, then fork the guardian, then the rest."""
    from prodserver.runtime.clock import SystemClock
    from prodserver.runtime.health import ThreadProber
    from prodserver.runtime.loop import EventLoop
    from prodserver.runtime.plumbing import choose
    from prodserver.runtime.supervisor import Supervisor

    plumbing = choose()  # PRODSERVER_RUNTIME: an unknown value fails before anything binds
    metrics = _metrics_server(options)
    rundir, warnings = _rundir(project)
    _unblock_signals()
    # The guardian starts first, before the loop opens its pipes and poller.
    guardian = plumbing.guardian()
    mux = OutputMux(fd, style)
    mux.audit = audit
    loop = EventLoop(
        mux,
        on_attach=guardian.watch if guardian else None,
        on_release=guardian.forget if guardian else None,
        poller=plumbing.poller(),
    )
    prober = ThreadProber(loop.post)
    late = _Late()  # the sockets reach the supervisor through it, once it is built
    hub, control = _sockets(rundir, loop, late.deliver, late.answer, control=options.control)
    sup = Supervisor(
        project,
        spawner=plumbing.spawner(token=guardian.token if guardian else None),
        clock=SystemClock(),
        hooks=loop,
        names=options.names,  # re-selected on reload: a process added to the file runs
        stop_timeout=options.stop_timeout,
        extra_env=guardian.env if guardian else None,
        prober=prober,
        notifier=hub,
        sampler=_FirstUseSampler(),
        sample_interval=_interval(options, metrics),
        helpers=(guardian.pid,) if guardian else (),
        on_all_ready=_all_ready(loop, project, selected),
        on_stopping=_stopping,
        on_sample=_publisher(metrics, lambda: late.sup),
        reread=options.reread,
    )
    late.sup = sup
    return Assembly(mux, loop, sup, prober, guardian, hub, control, metrics, warnings)


class _FirstUseSampler:
    """psutil's sampler, made with the metrics module at the first sample: most runs never
    measure anything (no memory guard, no ``--metrics``, no ``status``), and importing them
    is milliseconds of every start."""

    def __init__(self) -> None:
        self._sampler: PsutilSampler | None = None

    def sample(self, units: Sequence[Unit]) -> Mapping[str, UnitSample]:
        if self._sampler is None:
            from prodserver.runtime.metrics import PsutilSampler

            self._sampler = PsutilSampler()
        return self._sampler.sample(units)


def _interval(options: UpOptions, metrics: MetricsServer | None) -> float | None:
    if options.sample_interval is None and metrics is not None:
        from prodserver.runtime.metrics import DEFAULT_INTERVAL

        return DEFAULT_INTERVAL  # --metrics samples even without a memory guard
    return options.sample_interval


def _unblock_signals() -> None:
    if hasattr(signal, "pthread_sigmask"):
        # A parent that blocked signals (SIGCHLD, SIGTERM) would make the loop deaf to them:
        # exits would never be noticed and a stop never asked for. Signals are ours now.
        signal.pthread_sigmask(signal.SIG_SETMASK, set())


def _sockets(
    rundir: Path | None,
    loop: EventLoop,
    deliver: Callable[[Unit, int, Mapping[str, str]], None],
    status: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    *,
    control: bool,
) -> tuple[NotifyHub | None, ControlServer | None]:
    """The notify socket (children's READY=1) and the control endpoint (``status``)."""
    from prodserver.runtime.control import ControlServer
    from prodserver.runtime.notify import NotifyHub

    if rundir is None:
        return None, None
    hub = None
    if hasattr(_socket, "SO_PASSCRED"):  # Linux: pids are checked
        hub = NotifyHub(rundir / f"notify-{os.getpid()}", deliver, loop.watch, loop.unwatch)
    # a unix socket, or where there is none (Windows) a token-guarded loopback socket
    server = ControlServer(rundir, status, loop.watch, loop.unwatch) if control else None
    return hub, server


def _metrics_server(options: UpOptions) -> MetricsServer | None:
    if options.metrics is None:
        return None
    from prodserver.runtime.metrics import MetricsServer, parse_address

    # bound before anything starts: a taken port is an error, not a surprise later
    return MetricsServer(*parse_address(options.metrics))


def _rundir(project: ResolvedProject) -> tuple[Path | None, list[str]]:
    from prodserver.runtime.rundir import ensure_private_dir, runtime_dir

    try:
        return ensure_private_dir(runtime_dir(project.root)), []
    except (OSError, ProdserverError) as exc:
        # status and notify need the directory; running the processes does not
        return None, [f"no runtime directory ({exc}): prodserver status and notify are off"]


def _all_ready(
    loop: EventLoop, project: ResolvedProject, selected: list[str]
) -> Callable[[], None]:
    from prodserver.runtime.notify import notify_upstream

    checked = any(
        inst.healthcheck is not None and inst.healthcheck.role != "liveness"
        for name in selected
        for inst in project.processes[name].instances
    )

    def all_ready() -> None:
        # only worth a line when something was actually waited for
        if checked:
            loop.say(None, Event("health_changed", "every process is ready", {"to": "ready"}))
        notify_upstream("READY=1")

    return all_ready


def _stopping() -> None:
    from prodserver.runtime.notify import notify_upstream

    notify_upstream("STOPPING=1")


def _publisher(
    metrics: MetricsServer | None, sup: Callable[[], Supervisor | None]
) -> Callable[[], None] | None:
    if metrics is None:
        return None

    def publish() -> None:
        supervisor = sup()
        if supervisor is not None and metrics is not None:
            metrics.publish(supervisor.report()["processes"])

    return publish
