"""``prodserver exec NAME [-- ARGS...]``: replace this process with one resolved process."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prodserver.config.model import ResolvedProject


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "name", metavar="NAME", help="the process to become: web, or web.2 for an instance"
    )
    parser.add_argument(
        "extra",
        nargs=argparse.REMAINDER,
        metavar="-- ARGS",
        help="arguments appended to the process's command line for this run (like `args`)",
    )


def run(args: argparse.Namespace) -> int:
    from prodserver.cli.common import load_project
    from prodserver.runtime.exec import exec_process

    project = load_project(args)
    extra = list(getattr(args, "extra", None) or [])
    if extra and extra[0] == "--":
        extra = extra[1:]
    if extra:
        project = with_extra_args(project, args.name.partition(".")[0], extra)
    exec_process(project, args.name)


def with_extra_args(project: ResolvedProject, name: str, extra: list[str]) -> ResolvedProject:
    """``project`` with ``extra`` appended to every instance of ``name`` (a shell's script)."""
    import dataclasses
    import shlex

    spec = project.processes.get(name)
    if spec is None:
        return project  # exec_process reports the unknown name, with a suggestion

    def longer(argv: tuple[str, ...]) -> tuple[str, ...]:
        if spec.shell and argv[:2] == ("/bin/sh", "-c") and len(argv) == 3:
            return (*argv[:2], argv[2] + " " + shlex.join(extra))
        return (*argv, *extra)

    instances = tuple(dataclasses.replace(i, argv=longer(i.argv)) for i in spec.instances)
    changed = dataclasses.replace(spec, argv=longer(spec.argv), instances=instances)
    return dataclasses.replace(project, processes={**project.processes, name: changed})
