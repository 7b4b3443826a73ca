"""Checks of the installed environment: backend packages and programs that a process needs.

``check`` reports them as warnings (another machine may have them), ``check --deploy`` and ``up``
a missing backend package as an error.
"""

from __future__ import annotations

import os

from prodserver import codes

# `up` runs backend_problems before every start: what builds a problem is imported when there
# is one (issue 17)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from prodserver.config.model import ResolvedProject
    from prodserver.errors import Problem


def backend_problems(
    project: ResolvedProject,
    *,
    severity: str = "error",
    names: Iterable[str] | None = None,
) -> list[Problem]:
    """A backend whose package is not installed, once per backend, naming the extra to install.

    ``check`` reports it as a warning (the configuration itself is fine: another machine may
    have the package); ``check --deploy`` and ``up`` as an error. ``names`` limits the check to
    the processes that will run.
    """
    from prodserver.backends.registry import get_backend

    wanted = None if names is None else set(names)
    selected = [
        spec for spec in project.processes.values() if wanted is None or spec.name in wanted
    ]
    problems: list[Problem] = []
    seen: set[str] = set()
    for spec in selected:
        if spec.backend in seen:
            continue
        seen.add(spec.backend)
        backend = get_backend(spec.backend)
        missing = backend.missing_requirements()
        if missing:
            from prodserver.errors import Location, Problem

            hint = backend.install_hint() or f"install the package providing {missing[0]}"
            users = [s.name for s in selected if s.backend == spec.backend]
            problems.append(
                Problem(
                    codes.BACKEND_NOT_INSTALLED,
                    f"backend {spec.backend!r} (used by {', '.join(users)}) needs "
                    f"{', '.join(missing)}, which is not installed",
                    Location(file=project.source),
                    hint,
                    severity=severity,
                )
            )
    return problems


def _package_missing(backend_name: str) -> bool:
    from prodserver.backends.registry import get_backend

    return bool(get_backend(backend_name).missing_requirements())


def _program_found(program: str, path: str) -> bool:
    if os.sep in program:
        return os.access(program, os.X_OK)
    import shutil

    return shutil.which(program, path=path) is not None


def executable_problems(project: ResolvedProject) -> list[Problem]:
    """Warn about a program that is not on the process's PATH (it would fail at start)."""
    from prodserver.config.display import masker_for
    from prodserver.errors import Location, Problem

    masker = masker_for(project)
    problems: list[Problem] = []
    missing: dict[str, bool] = {}  # per backend: thousands of processes share a few
    found_at: dict[tuple[str, str], bool] = {}  # per program and PATH, for the same reason
    for spec in project.processes.values():
        if spec.backend not in missing:
            missing[spec.backend] = _package_missing(spec.backend)
        if not spec.instances or spec.shell or missing[spec.backend]:
            continue  # a missing backend package is reported once, by backend_problems
        inst = spec.instances[0]
        program = inst.argv[0]
        key = (program, inst.env.get("PATH", os.defpath))
        if key not in found_at:
            found_at[key] = _program_found(*key)
        if not found_at[key]:
            problems.append(
                Problem(
                    codes.PROGRAM_NOT_FOUND,
                    f"{spec.name}: program {masker.text(repr(program))} was not found on its PATH",
                    Location(file=project.source, key_path=f"processes.{spec.name}"),
                    "install it, or use an absolute path",
                    severity="warning",
                )
            )
    return problems
