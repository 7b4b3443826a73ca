"""``prodserver run -- CMD...``: a one-off command with the profile's environment."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        metavar="-- CMD...",
        help="the command and its arguments, after --",
    )


def run(args: argparse.Namespace) -> int:
    from prodserver.cli.common import load_project
    from prodserver.runtime.oneoff import run_oneoff

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    project = load_project(args)
    return run_oneoff(project, command)
