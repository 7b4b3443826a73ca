"""``prodserver check``: validate the configuration of one profile or of every profile.

With ``--deploy``, also the pre-start checks of :mod:`prodserver.checks.prestart`: ports
free, required variables set, brokers and databases reachable, and Django's own
``check --deploy`` in a production profile.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from prodserver import codes

if TYPE_CHECKING:
    from prodserver.config.model import ResolvedProject
    from prodserver.errors import Problem


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--all-profiles", action="store_true", help="check every profile (and the root)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    parser.add_argument(
        "--deploy",
        action="store_true",
        help="also the pre-start checks: ports free, required variables set, brokers and "
        "databases reachable, Django's check --deploy (production profiles)",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from prodserver.config.merge import ROOT, profile_names
    from prodserver.config.resolve import load_source, resolve_with_provenance
    from prodserver.errors import BackendUnavailable, ConfigError, UsageError

    if args.all_profiles and args.profile:
        raise UsageError("use either --profile or --all-profiles, not both")
    source = load_source(Path(args.file) if args.file else None)
    profiles: list[str | None] = [args.profile]
    if args.all_profiles:
        profiles = [ROOT, *profile_names(source)]
    failed_config: list[ConfigError] = []
    unavailable = []
    failed_checks = 0
    for profile in profiles:
        try:
            project, _ = resolve_with_provenance(
                profile=profile,
                env_files=[Path(p) for p in args.env_file],
                source=source,
            )
        except ConfigError as exc:
            if len(profiles) == 1:
                raise
            label = profile or "(default)"
            sys.stderr.write(f"profile {label}: {exc.render()}\n")
            failed_config.append(exc)
            continue
        missing, errors = _check_project(project, args)
        unavailable.extend(missing)
        failed_checks += errors
    if failed_config:
        raise ConfigError(
            f"{len(failed_config)} of {len(profiles)} profiles failed to resolve (see above)",
            code=failed_config[0].code,
        )
    if unavailable:
        raise BackendUnavailable(
            f"{len(unavailable)} backend package(s) missing (see above)",
            code=codes.BACKEND_NOT_INSTALLED,
        )
    if failed_checks:
        from prodserver.checks.prestart import PrestartFailed

        plural = "s" if failed_checks != 1 else ""
        raise PrestartFailed(f"{failed_checks} pre-start check{plural} failed (see above)")
    return 0


def _check_project(project: ResolvedProject, args: argparse.Namespace) -> tuple[list[Problem], int]:
    """Report one resolved profile; return its missing backends (with --deploy) and the
    number of failed pre-start checks."""
    from prodserver.checks.installed import backend_problems, executable_problems

    failed_checks = 0
    for warning in project.warnings:
        sys.stderr.write(f"profile {project.profile}: {warning}\n")
    for problem in executable_problems(project):
        sys.stderr.write(f"profile {project.profile}: {problem.render()}\n")
    # a missing package is the machine's, not the configuration's: a warning here, an
    # error where the processes are to run (--deploy, and `up`)
    missing = backend_problems(project, severity="error" if args.deploy else "warning")
    for problem in missing:
        sys.stderr.write(f"profile {project.profile}: {problem.render()}\n")
    if args.deploy:
        from prodserver.checks.prestart import prestart_problems

        report = prestart_problems(project, deploy=True)
        for problem in report.problems:
            sys.stderr.write(f"profile {project.profile}: {problem.render()}\n")
        failed_checks = len(report.errors)
        if not args.quiet:
            for note in report.notes:
                sys.stdout.write(f"note: profile {project.profile}: {note}\n")
            if not report.errors and report.done:
                sys.stdout.write(
                    f"ok: profile {project.profile}: deploy checks: {', '.join(report.done)}\n"
                )
    if not args.quiet and not (missing and args.deploy):
        names = ", ".join(
            f"{n}" + (f" x{s.scale}" if s.scale != 1 else "") for n, s in project.processes.items()
        )
        sys.stdout.write(
            f"ok: profile {project.profile}: {len(project.processes)} processes ({names})\n"
        )
    return (missing if args.deploy else []), failed_checks
