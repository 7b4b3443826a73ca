"""The root rule: no process of a production profile runs as root unless asked for.

One rule for ``up``, ``exec`` and ``run`` (error ``PS114``), and the one definition of a
production profile that the pre-start checks share.
"""

from __future__ import annotations

import os

from prodserver import codes
from prodserver.config.model import PRODUCTION_NAMES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from prodserver.config.model import ResolvedProject
    from prodserver.errors import Problem

#: the environment's way to say --allow-root (a container image that must run as root)
ALLOW_ROOT_ENV = "PRODSERVER_ALLOW_ROOT"


def is_production(project: ResolvedProject) -> bool:
    """Whether the chosen profile is a production one.

    The resolver decides it along the ``extends`` chain (:attr:`ResolvedProject.production`):
    a profile named ``prod`` or ``production`` or marked ``production = true`` is production,
    and so is every profile that extends one, unless a profile later in the chain says
    ``production = false``. The chosen profile's own name counts too.
    """
    marked = bool(getattr(project, "production", False))
    return marked or project.profile.lower() in PRODUCTION_NAMES


def root_allowed(flag: bool, environ: Mapping[str, str] | None = None) -> bool:
    """The command line's and the environment's opt-outs: ``--allow-root`` or
    ``PRODSERVER_ALLOW_ROOT=1`` (``[project] allow_root`` is read by :func:`root_problems`)."""
    env = os.environ if environ is None else environ
    return flag or env.get(ALLOW_ROOT_ENV) == "1"


def runs_as_root(user: str | None, euid: int) -> bool:
    """Whether a process with ``user =`` set to ``user`` runs with uid 0.

    No ``user``: it runs as prodserver does. ``"root"``, ``"0"`` or any account whose uid is 0
    (``toor``) is root: naming root is not dropping privileges. An unknown account is
    reported by the resolver (PS403), not here.
    """
    if not user:
        return euid == 0
    if user.isascii() and user.isdigit():
        return user.strip("0") == ""  # "0", "00": uid 0, without int() on a huge string
    try:
        import pwd
    except ImportError:  # Windows: no root to speak of
        return False
    try:
        return pwd.getpwnam(user).pw_uid == 0
    except KeyError:
        return False


def root_problems(
    project: ResolvedProject,
    euid: int,
    *,
    allow_root: bool = False,
    names: tuple[str, ...] | None = None,
    command: str | None = None,
    probes: bool = True,
) -> list[Problem]:
    """Refuse to run processes as root in a production profile, with guidance.

    One rule for ``up``, ``exec`` and ``run``. Root is fine when every selected process drops
    its privileges with ``user =`` to an account that is not root (and has no ``cmd`` health
    probe: probes run as prodserver itself), in a development profile,
    or when allowed explicitly by ``allow_root`` (``--allow-root`` or
    ``PRODSERVER_ALLOW_ROOT=1``, see :func:`root_allowed`) or ``[project] allow_root = true``.
    ``euid`` is passed in (``os.geteuid()`` at the call site) so tests can fake it; ``names``
    restricts the check to the processes asked for; ``command`` is ``run``'s one-off
    command, which always runs as prodserver does; ``probes`` is false for ``exec``, which
    runs no health probe.
    """
    if allow_root or bool(getattr(project, "allow_root", False)):
        return []
    if not is_production(project):
        return []
    if command is not None:
        as_root, key = ([command] if euid == 0 else []), None
    else:
        as_root, key = _as_root(project, euid, names=names, probes=probes)
    if not as_root:
        return []
    from prodserver.errors import Location, Problem

    return [
        Problem(
            codes.ROOT_IN_PRODUCTION,
            f"refusing to run {', '.join(as_root)} as root in the production profile "
            f"{project.profile!r}",
            Location(file=project.source, key_path=key),
            'run prodserver as an unprivileged user, set `user = "..."` (not root) on each '
            "process to drop privileges, or, if you really mean it, pass --allow-root, set "
            f"{ALLOW_ROOT_ENV}=1, or set `allow_root = true` in [project]",
        )
    ]


def _as_root(
    project: ResolvedProject, euid: int, *, names: tuple[str, ...] | None, probes: bool
) -> tuple[list[str], str | None]:
    """What of the processes ``names`` would run as root, and the key path of the first."""
    as_root: list[str] = []
    key: str | None = None
    for name in project.processes if names is None else names:
        spec = project.processes.get(name)
        if spec is None:
            continue
        if runs_as_root(spec.user, euid):
            as_root.append(name)
        elif (
            probes
            and euid == 0
            and any(
                inst.healthcheck is not None and inst.healthcheck.kind == "cmd"
                for inst in spec.instances
            )
        ):
            # a `cmd` probe runs as prodserver does, not as the process's `user =`
            as_root.append(f"{name}'s healthcheck cmd")
        else:
            continue
        key = key or f"processes.{name}"
    return as_root, key


def refuse_root(
    project: ResolvedProject,
    *,
    flag: bool,
    names: tuple[str, ...] | None = None,
    command: str | None = None,
    probes: bool = True,
) -> None:
    """Raise the root refusal of :func:`root_problems` for this process's effective uid."""
    from prodserver.errors import ConfigError

    geteuid = getattr(os, "geteuid", None)
    if geteuid is None:  # Windows: no root to speak of
        return
    problems = root_problems(
        project,
        geteuid(),
        allow_root=root_allowed(flag),
        names=names,
        command=command,
        probes=probes,
    )
    if problems:
        raise ConfigError(problems[0].message, problems=problems, code=problems[0].code)
