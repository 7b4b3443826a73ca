"""Where the resolved processes will run: the resolver's explicit inputs for that choice.

``up`` (and ``run``, ``exec``, ``check``) resolve for this machine: the shell's environment is
a layer of values, every reference is replaced by its local value, the interpreter and the
accounts are this machine's. An export resolves for another machine: only the configuration's
own layers are values, and what is known only there (the platform's ``PORT``, secrets unless
asked for, any variable the configuration does not set) stays a reference that each exporter
writes in its own syntax. The resolver never asks "is this an export?": it reads these facts.
"""

from __future__ import annotations

from dataclasses import dataclass

#: variables whose value exists only where the processes run (the platform assigns PORT)
RUNTIME_VARIABLES = frozenset({"PORT"})
#: each copy's number (1, 2, ...): set by ``up``; in an export of several copies, a reference
#: that engines numbering their copies fill in (systemd's ``%i``, supervisord's ``process_num``)
INSTANCE = "PRODSERVER_INSTANCE"


@dataclass(frozen=True)
class Target:
    """The facts about where the processes will run that change what resolution produces."""

    #: the shell's environment is a layer of values (and its PORT the base port)
    shell_values: bool = True
    #: variables are kept as references where they are only known there (see module doc)
    keeps_references: bool = False
    #: with ``keeps_references``: secret values are written too (``--include-secrets``)
    include_secrets: bool = False
    #: the interpreter a backend names in argv (``python -m ...``)
    python: str | None = None
    #: ``user =`` must name an account of this machine
    checks_users: bool = True
    #: each child's environment is this machine's (virtualenv on PATH, ``inherit_env``)
    local_environment: bool = True
    #: the ``env_files`` of this machine are values; elsewhere the target has its own copies
    #: (named by the export), and a variable they set stays a reference, unless the export
    #: was asked to write this machine's secret values
    env_file_values: bool = True

    @classmethod
    def here(cls) -> Target:
        """This machine: ``up``, ``run``, ``exec``, ``check``, ``config``."""
        return cls()

    @classmethod
    def elsewhere(cls, *, include_secrets: bool = False) -> Target:
        """Another machine: an export."""
        return cls(
            shell_values=False,
            keeps_references=True,
            include_secrets=include_secrets,
            python="python",
            checks_users=False,
            local_environment=False,
            # --include-secrets asks for this machine's values, its .env's included
            env_file_values=include_secrets,
        )
