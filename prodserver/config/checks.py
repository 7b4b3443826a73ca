"""Checks of a resolved project that go beyond the schema: installed backends, executables."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable

from prodserver.config.model import ResolvedProject
from prodserver.errors import Location, Problem


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

    selected = [
        spec for spec in project.processes.values() if names is None or spec.name in set(names)
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
            hint = backend.install_hint() or f"install the package providing {missing[0]}"
            users = [s.name for s in selected if s.backend == spec.backend]
            problems.append(
                Problem(
                    "PS145",
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


def executable_problems(project: ResolvedProject) -> list[Problem]:
    """Warn about a program that is not on the process's PATH (it would fail at start)."""
    from prodserver.config.display import masker_for

    masker = masker_for(project)
    problems: list[Problem] = []
    for spec in project.processes.values():
        if not spec.instances or spec.shell or _package_missing(spec.backend):
            continue  # a missing backend package is reported once, by backend_problems
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
                    f"{spec.name}: program {masker.text(repr(program))} was not found on its PATH",
                    Location(file=project.source, key_path=f"processes.{spec.name}"),
                    "install it, or use an absolute path",
                    severity="warning",
                )
            )
    return problems


#: profile names that count as production even when the profile does not say so itself
PRODUCTION_NAMES = frozenset({"prod", "production"})


def is_production(project: ResolvedProject) -> bool:
    """Whether the chosen profile is a production one (marked, or named prod/production)."""
    marked = bool(getattr(project, "production", False))
    return marked or project.profile.lower() in PRODUCTION_NAMES


def root_problems(
    project: ResolvedProject,
    euid: int,
    *,
    allow_root: bool = False,
    names: tuple[str, ...] | None = None,
) -> list[Problem]:
    """Refuse to run processes as root in a production profile, with guidance.

    Root is fine when every selected process drops its privileges with ``user =`` (prodserver
    needs root to switch users), in a development profile, or when allowed explicitly by
    ``allow_root`` (the ``--allow-root`` flag) or ``[project] allow_root = true``. ``euid`` is
    passed in (``os.geteuid()`` at the call site) so tests can fake it; ``names`` restricts
    the check to the processes ``up`` was asked to run.
    """
    if euid != 0 or allow_root or bool(getattr(project, "allow_root", False)):
        return []
    if not is_production(project):
        return []
    selected = project.processes if names is None else names
    as_root = [
        name for name in selected if name in project.processes and not project.processes[name].user
    ]
    if not as_root:
        return []
    return [
        Problem(
            "PS114",
            f"refusing to run {', '.join(as_root)} as root in the production profile "
            f"{project.profile!r}",
            Location(file=project.source, key_path=f"processes.{as_root[0]}"),
            'run prodserver as an unprivileged user, set `user = "..."` on each process to '
            "drop privileges, or, if you really mean it, pass --allow-root, set "
            "PRODSERVER_ALLOW_ROOT=1, or set `allow_root = true` in [project]",
        )
    ]
