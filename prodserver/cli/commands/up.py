"""``prodserver up``: run the profile's processes (or the named ones) in the foreground."""

from __future__ import annotations

from prodserver.cli.common import add_allow_root
from prodserver.errors import ConfigError, UsageError

# argparse is imported by the functions that parse: a known `up` command line is not parsed
# again (prodserver/cli/parsed.py)
TYPE_CHECKING = False  # not typing's: it costs milliseconds at every start (issue 17)
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from prodserver.checks.installed import Needs
    from prodserver.config.model import ResolvedProject


def parse_seconds(text: str) -> float:
    """A duration as the configuration file writes it (``10``, ``500ms``, ``1m30s``)."""
    import argparse

    from prodserver.config.limits import MAX_DURATION
    from prodserver.config.units import parse_duration

    try:
        value = parse_duration(text)
    except ConfigError as exc:
        if _is_huge_number(text, MAX_DURATION):
            value = float("inf")  # reported with the bound below, not as "not finite"
        else:
            raise argparse.ArgumentTypeError(exc.message) from None
    if value > MAX_DURATION:
        raise argparse.ArgumentTypeError(f"at most {MAX_DURATION:g} seconds, got {text!r}")
    return value


def _is_huge_number(text: str, bound: float) -> bool:
    try:
        return float(text.strip()) > bound
    except ValueError:
        return False


def _size(text: str) -> int:
    """A size as the configuration file writes it (``512``, ``64KiB``, ``10MB``, ``10MiB``)."""
    import argparse

    from prodserver.config.units import parse_size

    try:
        size = parse_size(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None
    if size <= 0:
        raise argparse.ArgumentTypeError("the size must be more than 0")
    return size


#: the most rotated log files kept: each rotation renames every one of them
MAX_LOG_BACKUPS = 1000
#: the garbage collector, paused for the start, is resumed by the runtime once the first
#: processes are spawned, not when this command begins (prodserver.fastpath.pause_collector)
RESUMES_COLLECTOR = True


def _count(text: str) -> int:
    import argparse

    text = text.strip()
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a number of files (0 or more), got {text!r}")
    if len(text) > 4 or int(text) > MAX_LOG_BACKUPS:
        raise argparse.ArgumentTypeError(f"at most {MAX_LOG_BACKUPS} files, got {text[:20]!r}")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    import argparse

    parser.add_argument(
        "names", nargs="*", metavar="NAME", help="processes to run (with what they depend on)"
    )
    parser.add_argument(
        "--scale",
        action="append",
        default=[],
        metavar="NAME=N",
        help="number of instances of a process (repeatable)",
    )
    parser.add_argument("--port", type=int, default=None, help="base port (default: $PORT or 5000)")
    parser.add_argument("--no-color", action="store_true", help="no colours, even on a terminal")
    parser.add_argument(
        "--timestamps",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="prefix lines with the time (default: on a terminal only)",
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="json: one JSON object per line (time, process, instance, stream, line)",
    )
    parser.add_argument(
        "--log-file",
        metavar="PATH",
        default=None,
        help="also append prodserver's own events (started, exited, restarting, health...) "
        "as JSON lines to PATH, whatever --log-format says; a symbolic link is refused",
    )
    parser.add_argument(
        "--log-file-max-size",
        type=_size,
        default=10 * 1024 * 1024,  # 10MiB, not as text: argparse would parse it at every start
        metavar="SIZE",
        help="rotate the log file (PATH -> PATH.1 -> ...) before it passes SIZE, written as "
        "in the configuration file (512, 64KiB, 10MB = 10,000,000 bytes; default 10MiB)",
    )
    parser.add_argument(
        "--log-file-backups",
        type=_count,
        default=5,
        metavar="N",
        help="rotated log files kept (default 5)",
    )
    parser.add_argument(
        "--stop-timeout",
        type=parse_seconds,
        default=None,
        metavar="S",
        help="grace period before SIGKILL, for every process (default: each one's stop_timeout)",
    )
    parser.add_argument(
        "--metrics",
        metavar="HOST:PORT",
        default=None,
        help="serve Prometheus metrics (/metrics) and JSON (/metrics.json) on this address "
        "(a bare port means 127.0.0.1); needs the 'metrics' extra",
    )
    add_allow_root(parser)
    parser.add_argument(
        "--skip-checks",
        action="store_true",
        help="do not run the pre-start checks (ports free, required variables, brokers)",
    )


def run(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from prodserver.cli.common import parse_scale, resolve_here
    from prodserver.runtime.up import UpOptions, run_up

    scale = parse_scale(args.scale)
    for name, count in scale.items():
        if count < 0:
            raise UsageError(f"--scale {name}={count}: the count cannot be negative")
    # resolved like cli.common.load_project, keeping the names the configuration sets: the
    # audit trail's first event carries the configuration's hash, which needs them
    environ = dict(os.environ)  # a reload reads the environment up was started with

    def resolve(cache: bool, facts: dict[str, Any]) -> tuple[ResolvedProject, frozenset[str]]:
        return resolve_here(
            args, scale=scale or None, port=args.port, environ=environ, cache=cache, up_facts=facts
        )

    def reread() -> ResolvedProject:
        # an explicit re-read: always from the files (a cache hit would be the same result)
        again, _configured = resolve(cache=False, facts={})
        _refuse_root(again, args)
        return again

    # a cached result comes with the audit hash and what the backends require (cli.common)
    facts: dict[str, Any] = {}
    project, configured = resolve(cache=True, facts=facts)
    # computed (masking every value) only when not cached
    digest: str | None = facts.get("config_sha256")
    if digest is None:
        from prodserver.config.display import config_hash

        digest = config_hash(project, configured)
    _refuse_root(project, args)
    names = None  # the processes that will run, with what they depend on (None: all)
    if args.names:
        from prodserver.runtime.supervisor import select_processes

        names = tuple(select_processes(project, args.names))
    _require_packages(project, names, facts.get("backend_needs"))
    if not args.skip_checks:
        from prodserver.checks.prestart import fail_on, prestart_problems

        fail_on(
            prestart_problems(project, names=names, deploy=False), "prodserver up --skip-checks"
        )
    options = UpOptions(
        names=tuple(args.names),
        no_color=args.no_color,
        timestamps=args.timestamps,
        log_format=args.log_format,
        stop_timeout=args.stop_timeout,
        metrics=args.metrics,
        log_file=Path(args.log_file) if args.log_file else None,
        log_file_max_size=args.log_file_max_size,
        log_file_backups=args.log_file_backups,
        config_sha256=digest,
        reread=reread,
    )
    return run_up(project, options)


def _require_packages(
    project: ResolvedProject, names: tuple[str, ...] | None, needs: Needs | None
) -> None:
    """A backend whose package is missing cannot start: say so once, with the extra to install."""
    from prodserver.checks.installed import backend_problems

    # on a cache hit, what the backends require comes with the project: none is imported
    problems = backend_problems(project, names=names, needs=needs)
    if not problems:
        return
    from prodserver import codes
    from prodserver.errors import BackendUnavailable

    if len(problems) == 1:
        raise BackendUnavailable(
            problems[0].message, hint=problems[0].hint, code=codes.BACKEND_NOT_INSTALLED
        )
    raise BackendUnavailable(
        "; ".join(p.message for p in problems),
        hint=" and ".join(dict.fromkeys(p.hint for p in problems if p.hint)),
        code=codes.BACKEND_NOT_INSTALLED,
    )


def _refuse_root(project: ResolvedProject, args: argparse.Namespace) -> None:
    """Running a production profile's processes as root is refused unless allowed."""
    from prodserver.checks.root import refuse_root

    names = None
    if args.names:
        from prodserver.runtime.supervisor import select_processes

        names = tuple(select_processes(project, args.names))
    refuse_root(project, flag=args.allow_root, names=names)
