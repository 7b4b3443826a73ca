"""Pre-start checks: what would make ``prodserver up`` fail in its first seconds, found first.

``prodserver check --deploy`` runs all of them; ``prodserver up`` runs the fast ones before it
starts anything (skip with ``--skip-checks``):

============================  =============================  ===================================
check                         ``up``                         ``check --deploy``
============================  =============================  ===================================
ports free (1)                yes                            yes
required variables present    production profiles            yes
brokers/databases reachable   production profiles, 1 s       yes, 3 s timeout
``manage.py check --deploy``  no (it imports the whole app)  Django project, production profile
============================  =============================  ===================================

(1) the ports of server backends on the host they bind, and of commands that put their
``$PORT`` on their command line (every command gets a ``PORT``, as with foreman, but most
never listen on it).

A *production profile* is one named ``prod`` or ``production``, or marked ``production``
(:attr:`ResolvedProject.production`). A *required variable* is one the configuration uses
without a default while it is unset (the resolver's ``PS202`` warning: it became an empty
string); ``${VAR:?message}`` already stops resolution. Brokers and databases are found in the
environment as URLs: ``redis://`` and ``rediss://`` (a Redis ``PING`` over a raw socket, with
``AUTH`` when the URL has a password; TLS ones are only connected to), and ``postgres://``,
``mysql://``, ``amqp://``, ``mongodb://``, ``memcache://`` (a TCP connect).

Every problem says what failed and how to fix it; none is fatal here: the caller decides.
"""

from __future__ import annotations

import sys

from prodserver import codes
from prodserver.checks.ports import check_ports
from prodserver.checks.report import PrestartFailed, Report
from prodserver.checks.root import is_production

# `up` runs these checks before every start: the services and Django checks (sockets, URL
# parsing, subprocess) are imported only when a profile needs them (issue 17)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from prodserver.config.model import ResolvedProject

__all__ = ["PrestartFailed", "Report", "fail_on", "prestart_problems"]

#: the resolver's warning that a variable was substituted as empty, as rendered
_UNSET = rf"{codes.VARIABLE_UNSET}: .*?variable (\S+) is not set"


def prestart_problems(
    project: ResolvedProject,
    *,
    names: Sequence[str] | None = None,
    deploy: bool = False,
    timeout: float | None = None,
) -> Report:
    """Run the checks for the processes ``names`` (default: all) of ``project``."""
    specs = [s for n, s in project.processes.items() if names is None or n in names]
    report = Report()
    check_ports(project, specs, report)
    if deploy or is_production(project):
        # a development profile often names services it does not use (a REDIS_URL for the
        # production workers): there they are the developer's business, not a reason to stop
        from prodserver.checks.services import check_services

        _required(project, report)
        wait = timeout if timeout is not None else (3.0 if deploy else 1.0)
        check_services(project, specs, report, wait)
    if deploy:
        from prodserver.checks.deploy import check_django_deploy

        check_django_deploy(project, specs, report)
    if not (report.problems or report.notes or report.done):
        return report  # nothing to mask
    # Every message goes through the masker of `prodserver config`: a password may reach one
    # through a URL (in any form, even one urllib cannot parse), a port, a host name, or
    # Django's own output.
    import dataclasses

    from prodserver.config.display import masker_for

    text = masker_for(project).text
    report.problems = [
        dataclasses.replace(p, message=text(p.message), hint=text(p.hint) if p.hint else p.hint)
        for p in report.problems
    ]
    report.notes = [text(note) for note in report.notes]
    report.done = [text(done) for done in report.done]
    return report


def fail_on(report: Report, skip: str) -> None:
    """Print warnings and raise :class:`PrestartFailed` when there are errors."""
    for problem in report.problems:
        if problem.severity != "error":
            sys.stderr.write(problem.render() + "\n")
    errors = report.errors
    if errors:
        text = "\n".join(p.render() for p in errors)
        count = f"{len(errors)} pre-start check{'s' if len(errors) != 1 else ''} failed"
        raise PrestartFailed(f"{count}:\n{text}", hint=f"fix them, or skip the checks with {skip}")


def _required(project: ResolvedProject, report: Report) -> None:
    import re

    from prodserver.errors import Location, Problem

    unset = re.compile(_UNSET)
    missing: dict[str, str] = {}
    for warning in project.warnings:
        match = unset.search(warning)
        if match:
            missing.setdefault(match.group(1), warning)
    for name in missing:
        report.problems.append(
            Problem(
                codes.REQUIRED_VARIABLE_UNSET,
                f"variable {name} is used by the configuration but not set "
                f"(profile {project.profile})",
                Location(file=project.source),
                f"set {name} in the environment or an env file, or give it a default "
                f"(${{{name}:-value}}) if empty is really fine",
            )
        )
    report.done.append("required variables set" if not missing else "required variables")
