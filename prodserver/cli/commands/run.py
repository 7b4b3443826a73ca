"""``prodserver run -- CMD...``: a one-off command with the profile's environment.

Like ``honcho run`` and ``foreman run``, it also works where there is no configuration at all:
the command then gets the shell's environment and the ``.env`` of the working directory.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from prodserver import codes
from prodserver.cli.common import add_allow_root

if TYPE_CHECKING:
    from prodserver.config.model import ResolvedProject


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        metavar="-- CMD...",
        help="the command and its arguments, after -- (no configuration file needed)",
    )
    add_allow_root(parser)


def run(args: argparse.Namespace) -> int:
    from prodserver.runtime.oneoff import run_oneoff

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    project = _project(args)
    if command:
        from prodserver.checks.root import refuse_root

        refuse_root(project, flag=args.allow_root, command=command[0])
    from prodserver.cli.fastrecord import recording_launch

    with recording_launch(args, project, "run"):
        return run_oneoff(project, command)


def _project(args: argparse.Namespace) -> ResolvedProject:
    import os
    from pathlib import Path

    from prodserver.cli.common import load_project
    from prodserver.errors import ConfigError

    try:
        return load_project(args)
    except ConfigError as exc:
        from prodserver.config.sources import FILE_ENV

        named = args.file or os.environ.get(FILE_ENV)
        if (
            named
            or exc.code != codes.FILE_UNREADABLE
            or not exc.message.startswith("no prodserver.toml")
        ):
            raise
    from prodserver.config.resolve import resolve_with_provenance
    from prodserver.config.sources import LineIndex, RawSource

    # No configuration anywhere: the shell's environment and ./.env, as honcho and foreman do.
    cwd = Path.cwd()
    bare = RawSource(cwd / ".env", "toml", {"project": {"env_files": ["?.env"]}}, LineIndex())
    project, _ = resolve_with_provenance(
        profile=args.profile,
        env_files=[Path(p) for p in args.env_file or []],
        source=bare,
        cwd=cwd,
    )
    return project
