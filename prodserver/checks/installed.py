"""Checks of the installed environment: backend packages and programs that a process needs.

``check`` reports them as warnings (another machine may have them), ``check --deploy`` and ``up``
a missing backend package as an error.
"""

from __future__ import annotations

import os

from prodserver import codes
from prodserver.backends.requirements import not_importable

# `up` runs backend_problems before every start: what builds a problem is imported when there
# is one (issue 17)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from prodserver.config.model import ResolvedProject
    from prodserver.errors import Problem

    #: what :func:`backend_problems` needs of a backend: the import names it requires, and its
    #: install hint
    Needs = dict[str, tuple[tuple[str, ...], str | None]]


def backend_needs(project: ResolvedProject) -> Needs:
    """What a backend of ``project`` requires, for every built-in one whose check is its
    :attr:`~prodserver.backends.base.Backend.requires` alone.

    Kept in the configuration cache beside the project (``cli.common.resolve_here``): on a hit,
    ``up`` checks the packages without importing the backends. It is prodserver's own code,
    which the cache's key covers; a plugin (its code is not covered) or a backend with its own
    ``missing_requirements`` is left out, and looked up as usual.
    """
    from prodserver.backends.base import Backend
    from prodserver.backends.registry import BUILTINS, get_backend

    out: Needs = {}
    for name in sorted({spec.backend for spec in project.processes.values()}):
        if name not in BUILTINS:
            continue
        backend = get_backend(name)
        kind = type(backend)
        if (
            kind.missing_requirements is Backend.missing_requirements
            and kind.install_hint is Backend.install_hint
        ):
            out[name] = (tuple(backend.requires), backend.install_hint())
    return out


def backend_problems(
    project: ResolvedProject,
    *,
    severity: str = "error",
    names: Iterable[str] | None = None,
    needs: Needs | None = None,
) -> list[Problem]:
    """A backend whose package is not installed, once per backend, naming the extra to install.

    ``check`` reports it as a warning (the configuration itself is fine: another machine may
    have the package); ``check --deploy`` and ``up`` as an error. ``names`` limits the check to
    the processes that will run. ``needs`` (from :func:`backend_needs`) answers for the
    backends it names without importing them; the packages are looked for every time.
    """
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
        if needs is not None and spec.backend in needs:
            requires, install_hint = needs[spec.backend]
            missing = not_importable(requires)
        else:
            from prodserver.backends.registry import get_backend

            backend = get_backend(spec.backend)
            missing = backend.missing_requirements()
            install_hint = backend.install_hint() if missing else None
        if missing:
            from prodserver.errors import Location, Problem

            hint = install_hint or f"install the package providing {missing[0]}"
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
