"""``prodserver exec NAME``: replace this process with one resolved process."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "name", metavar="NAME", help="the process to become: web, or web.2 for an instance"
    )


def run(args: argparse.Namespace) -> int:
    from prodserver.cli.common import load_project
    from prodserver.runtime.exec import exec_process

    project = load_project(args)
    exec_process(project, args.name)
