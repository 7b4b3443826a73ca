"""``prodserver exec NAME``: replace this process with one resolved process."""

from __future__ import annotations

import argparse

from prodserver.cli.common import add_allow_root


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "name", metavar="NAME", help="the process to become: web, or web.2 for an instance"
    )
    add_allow_root(parser)


def run(args: argparse.Namespace) -> int:
    from prodserver.cli.common import load_project
    from prodserver.config.checks import refuse_root
    from prodserver.runtime.exec import choose_instance, exec_process

    project = load_project(args)
    # the container entry point: the same root rule as `up`, before anything is replaced
    name = choose_instance(project, args.name).process
    refuse_root(project, flag=args.allow_root, names=(name,), probes=False)
    exec_process(project, args.name)
