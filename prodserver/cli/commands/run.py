"""``prodserver run -- CMD...``: a one-off command with the profile's environment."""

from __future__ import annotations

import argparse

from prodserver.cli.common import add_allow_root


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        metavar="-- CMD...",
        help="the command and its arguments, after --",
    )
    add_allow_root(parser)


def run(args: argparse.Namespace) -> int:
    from prodserver.cli.common import load_project
    from prodserver.runtime.oneoff import run_oneoff

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    project = load_project(args)
    if command:
        from prodserver.config.checks import refuse_root

        refuse_root(project, flag=args.allow_root, command=command[0])
    return run_oneoff(project, command)
