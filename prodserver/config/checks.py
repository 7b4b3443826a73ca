"""Checks of a resolved project that go beyond the schema: installed backends, executables."""

from __future__ import annotations

import os
import shutil

from prodserver.config.model import ResolvedProject
from prodserver.errors import Location, Problem


def backend_problems(project: ResolvedProject) -> list[Problem]:
    """A backend whose package is not installed is an error naming the extra to install."""
    from prodserver.backends.registry import get_backend

    problems: list[Problem] = []
    seen: set[str] = set()
    for spec in project.processes.values():
        if spec.backend in seen:
            continue
        seen.add(spec.backend)
        backend = get_backend(spec.backend)
        missing = backend.missing_requirements()
        if missing:
            hint = backend.install_hint() or f"install the package providing {missing[0]}"
            users = [s.name for s in project.processes.values() if s.backend == spec.backend]
            problems.append(
                Problem(
                    "PS145",
                    f"backend {spec.backend!r} (used by {', '.join(users)}) needs "
                    f"{', '.join(missing)}, which is not installed",
                    Location(file=project.source),
                    hint,
                )
            )
    return problems


def executable_problems(project: ResolvedProject) -> list[Problem]:
    """Warn about a program that is not on the process's PATH (it would fail at start)."""
    problems: list[Problem] = []
    for spec in project.processes.values():
        if not spec.instances or spec.shell:
            continue
        inst = spec.instances[0]
        program = inst.argv[0]
        if os.sep in program:
            found = os.access(program, os.X_OK)
        else:
            found = shutil.which(program, path=inst.env.get("PATH", os.defpath)) is not None
        if not found:
            problems.append(
                Problem(
                    "PS146",
                    f"{spec.name}: program {program!r} was not found on its PATH",
                    Location(file=project.source, key_path=f"processes.{spec.name}"),
                    "install it, or use an absolute path",
                    severity="warning",
                )
            )
    return problems
