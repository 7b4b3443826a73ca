"""Pre-start check of ``check --deploy``: Django's own ``manage.py check --deploy`` (``PS304``).

Only for a Django project (``DJANGO_SETTINGS_MODULE`` set) in a production profile: it runs the
project's ``manage.py`` in a child process, which imports the whole application.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from prodserver import codes
from prodserver.checks.report import Report
from prodserver.checks.root import is_production
from prodserver.config.model import ProcessSpec, ResolvedProject
from prodserver.errors import Location, Problem


def find_manage_py(project: ResolvedProject, specs: Iterable[ProcessSpec]) -> Path | None:
    """``manage.py`` in the project root or in a process's working directory."""
    for directory in (project.root, *(spec.cwd for spec in specs)):
        candidate = Path(directory) / "manage.py"
        if candidate.is_file():
            return candidate
    return None


def check_django_deploy(
    project: ResolvedProject, specs: Sequence[ProcessSpec], report: Report
) -> None:
    if "DJANGO_SETTINGS_MODULE" not in project.env:
        return
    if not is_production(project):
        report.notes.append(
            f"Django's check --deploy skipped: profile {project.profile!r} is not a production "
            "profile (name it prod or production, or mark it production)"
        )
        return
    manage = find_manage_py(project, specs)
    if manage is None:
        report.notes.append("Django's check --deploy skipped: no manage.py in the project root")
        return
    env = {k: v for k, v in project.env.items() if k != "NOTIFY_SOCKET"}
    env.setdefault("PATH", os.environ.get("PATH", os.defpath))
    try:
        result = subprocess.run(
            [sys.executable, str(manage), "check", "--deploy"],
            cwd=manage.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        report.problems.append(
            Problem(
                codes.DJANGO_DEPLOY_CHECK_FAILED,
                f"manage.py check --deploy did not run: {exc}",
                Location(file=manage),
            )
        )
        return
    if result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip()).splitlines()
        report.problems.append(
            Problem(
                codes.DJANGO_DEPLOY_CHECK_FAILED,
                "Django's check --deploy failed:\n    " + "\n    ".join(output[-30:]),
                Location(file=manage),
                "fix what Django lists, or silence a check you accept with SILENCED_SYSTEM_CHECKS",
            )
        )
        return
    warnings = [line for line in result.stderr.splitlines() if ": (security." in line]
    report.done.append(
        "Django check --deploy passed" + (f" with {len(warnings)} warnings" if warnings else "")
    )
    for line in warnings:
        report.notes.append(f"Django: {line.strip()}")
