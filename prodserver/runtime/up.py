"""``prodserver up``: run the selected processes in the foreground until the run ends."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from prodserver.config.model import ResolvedProject
from prodserver.errors import ProdserverError, silence_stdout
from prodserver.exitcodes import ExitCode
from prodserver.records import NamedTuple
from prodserver.runtime.audit import DEFAULT_BACKUPS, DEFAULT_MAX_SIZE, AuditLog, Event, FieldValue
from prodserver.runtime.streams import Style
from prodserver.suggest import did_you_mean

TYPE_CHECKING = False
if TYPE_CHECKING:
    from prodserver.runtime.assemble import Assembly
    from prodserver.runtime.streams import LogFormat


class UpOptions(NamedTuple):
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
    #: reads the configuration again as it was read for this ``up`` (same file, profile,
    #: env files, scale, port and starting environment), for SIGHUP and ``prodserver
    #: reload``; raises ``ConfigError`` for a configuration that does not resolve
    reread: Callable[[], ResolvedProject] | None = None


def use_color(tty: bool, no_color: bool, environ: Mapping[str, str]) -> bool:
    """Colour decision: ``--no-color`` > ``NO_COLOR`` > ``FORCE_COLOR`` > is it a terminal."""
    if no_color or environ.get("NO_COLOR"):
        return False
    force = environ.get("FORCE_COLOR")
    if force is not None and force not in ("", "0", "false"):
        return True
    return tty


class UnknownProcess(ProdserverError):
    """``up NAME`` names a process the profile does not have (a mistake of the caller's)."""

    exit_code = ExitCode.USAGE


def _check_names(project: ResolvedProject, names: tuple[str, ...]) -> None:
    known = list(project.processes)
    for name in names:
        if name not in project.processes:
            hint = did_you_mean(name, known) or f"known: {', '.join(known)}"
            message = f"no process named {name!r} in profile {project.profile!r}"
            raise UnknownProcess(message, hint=hint)


def run_up(project: ResolvedProject, options: UpOptions) -> int:
    """Run the processes of ``project``; returns the exit code of ``prodserver up``."""
    from prodserver.runtime.run import select_processes

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
        from prodserver.runtime.assemble import assemble

        parts = assemble(project, options, selected, fd, style, audit=audit)
        return _run(parts, project, options)
    finally:
        if audit is not None:
            audit.close()


def _run(parts: Assembly, project: ResolvedProject, options: UpOptions) -> int:
    """Run the assembled ``parts`` to their end; the exit code of ``up``."""
    from prodserver.runtime.loop import DRAIN_IDLE

    mux, loop, supervisor = parts.mux, parts.loop, parts.supervisor
    mux.open()  # non-blocking until the end: a stalled reader never stops supervision
    _announce(parts, project, options, len(supervisor.run.selected))
    try:
        code = loop.run(supervisor)
    except BaseException:
        # the loop stopped every child it knew of; the guardian, not dismissed, kills
        # anything that carries this run's token and was still missed
        parts.close(failed=True)
        mux.drain(DRAIN_IDLE)
        mux.close()
        raise
    parts.close(failed=False)
    loop.say(None, Event("stopped", f"stopped (exit code {code})", {"code": code}, quiet=True))
    mux.drain(DRAIN_IDLE)
    mux.close()
    if mux.writer.broken and options.output_fd is None:
        silence_stdout()
    return code


def _announce(parts: Assembly, project: ResolvedProject, options: UpOptions, count: int) -> None:
    """The first records of the run, and the sockets that may fail to open."""
    loop = parts.loop
    digest = options.config_sha256
    loaded = f"configuration {project.source} (profile {project.profile}"
    loaded += f", sha256 {digest})" if digest else ")"
    # the first record of every run: which configuration, exactly, this run is about
    fields: dict[str, FieldValue] = {
        "source": str(project.source),
        "profile": project.profile,
        "config_sha256": digest,
        "processes": count,
    }
    loop.say(None, Event("config_loaded", loaded, fields, quiet=True))
    for warning in (*project.warnings, *parts.warnings):
        # a rendered problem already starts with "warning PSxxx:"
        text = warning if warning.startswith("warning") else f"warning: {warning}"
        loop.say(None, Event("warning", text))
    if parts.control is not None:
        try:
            busy = parts.control.open()
        except OSError as exc:
            busy = f"no control socket at {parts.control.path} ({exc}): prodserver status is off"
            parts.control = None
        if busy:
            loop.say(None, Event("warning", f"warning: {busy}"))
    server = parts.metrics
    if server is not None:
        server.publish(parts.supervisor.report()["processes"])
        server.start()
        host, port = str(server.address[0]), int(server.address[1])
        url = f"http://{host}:{port}/metrics"
        text = f"metrics on {url} and /metrics.json"
        loop.say(None, Event("info", text, {"metrics": url}))
