"""``prodserver up``: run the selected processes in the foreground until the run ends."""

from __future__ import annotations

import difflib
import os
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from prodserver.config.model import ResolvedProject
from prodserver.errors import ProdserverError, UsageError
from prodserver.runtime.audit import DEFAULT_BACKUPS, DEFAULT_MAX_SIZE, AuditLog, Event
from prodserver.runtime.output import LogFormat, OutputMux, Style


@dataclass(frozen=True)
class UpOptions:
    """What ``prodserver up`` was asked for on the command line."""

    #: processes to run (plus what they depend on); empty for all
    names: tuple[str, ...] = ()
    no_color: bool = False
    #: None: timestamps on a terminal, none otherwise
    timestamps: bool | None = None
    log_format: LogFormat = "text"
    #: overrides every process's ``stop_timeout`` (seconds)
    stop_timeout: float | None = None
    #: file descriptor to write to; None for standard output
    output_fd: int | None = None
    #: ``HOST:PORT`` to serve Prometheus metrics on (``--metrics``), or None
    metrics: str | None = None
    #: seconds between metrics samples (None: every 5 s when metrics or a memory guard
    #: need them, otherwise only when ``prodserver status`` asks)
    sample_interval: float | None = None
    #: serve ``prodserver status`` on the project's control socket
    control: bool = True
    #: also append prodserver's own events as JSON lines to this file (``--log-file``)
    log_file: Path | None = None
    #: rotate the log file before it would grow past this many bytes
    log_file_max_size: int = DEFAULT_MAX_SIZE
    #: how many rotated files (``PATH.1`` ... ``PATH.N``) are kept
    log_file_backups: int = DEFAULT_BACKUPS
    #: SHA-256 of the resolved configuration, for the ``config_loaded`` event
    config_sha256: str | None = None


def use_color(tty: bool, no_color: bool, environ: Mapping[str, str]) -> bool:
    """Colour decision: ``--no-color`` > ``NO_COLOR`` > ``FORCE_COLOR`` > is it a terminal."""
    if no_color or environ.get("NO_COLOR"):
        return False
    force = environ.get("FORCE_COLOR")
    if force is not None and force not in ("", "0", "false"):
        return True
    return tty


def _check_names(project: ResolvedProject, names: tuple[str, ...]) -> None:
    known = list(project.processes)
    for name in names:
        if name not in project.processes:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
            raise UsageError(f"no process named {name!r} in profile {project.profile!r}", hint=hint)


def run_up(project: ResolvedProject, options: UpOptions) -> int:
    """Run the processes of ``project``; returns the exit code of ``prodserver up``."""
    from prodserver.runtime.supervisor import select_processes

    _check_names(project, options.names)
    selected = select_processes(project, options.names)
    if not selected:
        raise ProdserverError(
            f"profile {project.profile!r} has no processes to run",
            hint="add a [processes.NAME] table to the configuration",
        )
    if options.output_fd is None:
        sys.stdout.flush()
        fd = sys.stdout.fileno()
    else:
        fd = options.output_fd
    tty = os.isatty(fd)
    labels = [inst.label for name in selected for inst in project.processes[name].instances]
    style = Style(
        color=use_color(tty, options.no_color, os.environ),
        timestamps=tty if options.timestamps is None else options.timestamps,
        fmt=options.log_format,
        sanitize=not tty,
        width=max(len(label) for label in labels),
    )
    audit = None
    if options.log_file is not None:
        # opened before anything starts: a refused path is an error, not a surprise later
        audit = AuditLog(
            options.log_file,
            max_size=options.log_file_max_size,
            backups=options.log_file_backups,
        )
    try:
        return _run(project, options, selected, fd, style, audit)
    finally:
        if audit is not None:
            audit.close()


def _run(
    project: ResolvedProject,
    options: UpOptions,
    selected: list[str],
    fd: int,
    style: Style,
    audit: AuditLog | None,
) -> int:
    from prodserver.runtime.clock import SystemClock
    from prodserver.runtime.control import ControlServer, ensure_private_dir, runtime_dir
    from prodserver.runtime.guardian import start_guardian
    from prodserver.runtime.health import ThreadProber
    from prodserver.runtime.loop import DRAIN_IDLE, EventLoop
    from prodserver.runtime.metrics import (
        DEFAULT_INTERVAL,
        MetricsServer,
        PsutilSampler,
        parse_address,
    )
    from prodserver.runtime.notify import NotifyHub, notify_upstream
    from prodserver.runtime.spawner import default_spawner
    from prodserver.runtime.supervisor import Supervisor

    metrics_server = None
    if options.metrics is not None:
        # bound before anything starts: a taken port is an error, not a surprise later
        metrics_server = MetricsServer(*parse_address(options.metrics))
    rundir: Path | None
    try:
        rundir = ensure_private_dir(runtime_dir(project.root))
        rundir_problem = None
    except (OSError, ProdserverError) as exc:
        # status and notify need the directory; running the processes does not
        rundir = None
        rundir_problem = f"no runtime directory ({exc}): prodserver status and notify are off"
    if hasattr(signal, "pthread_sigmask"):
        # A parent that blocked signals (SIGCHLD, SIGTERM) would make the loop deaf to them:
        # exits would never be noticed and a stop never asked for. Signals are ours now.
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
    # The guardian forks first, before the loop opens its pipes and epoll set.
    guardian = start_guardian()
    mux = OutputMux(fd, style)
    mux.audit = audit
    mux.open()  # non-blocking until the end: a stalled reader never stops supervision
    loop = EventLoop(mux)
    spawner = default_spawner(die_with_parent=guardian is None)
    prober = ThreadProber(loop.post)
    interval = options.sample_interval
    if interval is None and metrics_server is not None:
        interval = DEFAULT_INTERVAL
    supervisor = Supervisor(
        project,
        spawner=spawner,
        clock=SystemClock(),
        hooks=loop,
        names=selected,
        stop_timeout=options.stop_timeout,
        extra_env=guardian.env if guardian else None,
        prober=prober,
        sampler=PsutilSampler(),
        sample_interval=interval,
    )
    hub = None
    if rundir is not None and hasattr(socket, "SO_PASSCRED"):  # Linux: pids are checked
        hub = NotifyHub(
            rundir / f"notify-{os.getpid()}", supervisor.handle_notify, loop.watch, loop.unwatch
        )
        supervisor.notifier = hub
    control = None
    if options.control and rundir is not None:
        control = ControlServer(
            rundir, lambda request: supervisor.status(), loop.watch, loop.unwatch
        )
    if guardian is not None:
        supervisor.helpers.add(guardian.pid)
        loop.on_attach = guardian.watch
        loop.on_release = guardian.forget

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

    supervisor.on_all_ready = all_ready

    def stopping() -> None:
        notify_upstream("STOPPING=1")

    supervisor.on_stopping = stopping
    digest = options.config_sha256
    loaded = f"configuration {project.source} (profile {project.profile}"
    loaded += f", sha256 {digest})" if digest else ")"
    # the first record of every run: which configuration, exactly, this run is about
    loop.say(
        None,
        Event(
            "config_loaded",
            loaded,
            {
                "source": str(project.source),
                "profile": project.profile,
                "config_sha256": digest,
                "processes": len(selected),
            },
            quiet=True,
        ),
    )
    for warning in project.warnings:
        loop.say(None, Event("warning", f"warning: {warning}"))
    if rundir_problem:
        loop.say(None, Event("warning", f"warning: {rundir_problem}"))
    if control is not None:
        try:
            busy = control.open()
        except OSError as exc:
            busy = f"no control socket at {control.path} ({exc}): prodserver status is off"
            control = None
        if busy:
            loop.say(None, Event("warning", f"warning: {busy}"))
    if metrics_server is not None:
        server = metrics_server
        supervisor.on_sample = lambda: server.publish(supervisor.report()["processes"])
        server.publish(supervisor.report()["processes"])
        server.start()
        host, port = str(server.address[0]), int(server.address[1])
        loop.say(
            None,
            Event(
                "info",
                f"metrics on http://{host}:{port}/metrics and /metrics.json",
                {"metrics": f"http://{host}:{port}/metrics"},
            ),
        )
    try:
        code = loop.run(supervisor)
    except BaseException:
        # the loop stopped every child it knew of; the guardian, not dismissed, kills
        # anything that carries this run's token and was still missed
        if guardian is not None:
            guardian.abandon()
            guardian = None
        mux.drain(DRAIN_IDLE)
        mux.close()
        raise
    finally:
        prober.close()
        if hub is not None:
            hub.close()
        if control is not None:
            control.close()
        if metrics_server is not None:
            metrics_server.close()
        if guardian is not None:
            guardian.close()
    loop.say(None, Event("stopped", f"stopped (exit code {code})", {"code": code}, quiet=True))
    mux.drain(DRAIN_IDLE)
    mux.close()
    if mux.broken and options.output_fd is None:
        _silence_stdout()
    return code


def _silence_stdout() -> None:
    # The reader of our output went away: point stdout at /dev/null so that the
    # interpreter's final flush does not print an error.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
