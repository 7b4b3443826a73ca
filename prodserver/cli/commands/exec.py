"""``prodserver exec NAME [-- ARGS...]``: replace this process with one resolved process."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from prodserver.cli.common import add_allow_root

if TYPE_CHECKING:
    from prodserver.config.model import ResolvedProject


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # One REMAINDER positional: argparse keeps a `--` that follows NAME only this way, and that
    # `--` is what separates this command's options from the process's own arguments.
    add_allow_root(parser)
    parser.add_argument(
        "words",
        nargs=argparse.REMAINDER,
        metavar="NAME [-- ARGS...]",
        help="the process to become (web, or web.2 for an instance); ARGS are appended to its "
        "command line for this run, like `args`",
    )


def run(args: argparse.Namespace) -> int:
    from prodserver.checks.root import refuse_root
    from prodserver.cli.common import load_project
    from prodserver.errors import UsageError
    from prodserver.runtime.exec import choose_instance, exec_process

    words = list(getattr(args, "words", None) or [])
    if not words or words[0].startswith("-"):
        raise UsageError(
            "exec needs the name of a process", hint="prodserver exec web [-- ARGS...]"
        )
    name, rest = words[0], words[1:]
    split = rest.index("--") if "--" in rest else len(rest)
    # options after NAME (`exec web --profile prod`) are this command's, up to a `--`
    _apply_options(args, rest[:split])
    extra = rest[split + 1 :]
    project = load_project(args)
    # the container entry point: the same root rule as `up`, before anything is replaced
    process = choose_instance(project, name).process
    refuse_root(project, flag=args.allow_root, names=(process,), probes=False)
    if extra:
        project = with_extra_args(project, name.partition(".")[0], extra)
    from prodserver.cli.fastrecord import recording_launch

    with recording_launch(args, project, "exec"):
        exec_process(project, name)


def with_extra_args(project: ResolvedProject, name: str, extra: list[str]) -> ResolvedProject:
    """``project`` with ``extra`` appended to every instance of ``name`` (a shell's script)."""
    import shlex

    spec = project.processes.get(name)
    if spec is None:
        return project  # exec_process reports the unknown name, with a suggestion

    def longer(argv: tuple[str, ...]) -> tuple[str, ...]:
        if spec.shell and argv[:2] == ("/bin/sh", "-c") and len(argv) == 3:
            return (*argv[:2], argv[2] + " " + shlex.join(extra))
        return (*argv, *extra)

    instances = tuple(i._replace(argv=longer(i.argv)) for i in spec.instances)
    changed = spec._replace(argv=longer(spec.argv), instances=instances)
    return project._replace(processes={**project.processes, name: changed})


def _apply_options(args: argparse.Namespace, words: list[str]) -> None:
    from prodserver.cli.main import add_common_options
    from prodserver.errors import UsageError

    class _Strict(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # type: ignore[override]
            raise UsageError(
                f"exec: {message}",
                hint="the process's own arguments go after --: prodserver exec web -- --timeout 5",
            )

    parser = _Strict(prog="prodserver exec", add_help=False)
    add_common_options(parser)
    # Django's options (manage.py prodserver exec web --settings x): Django already used them
    for flag in ("--settings", "--pythonpath", "-v", "--verbosity"):
        parser.add_argument(flag, dest=f"_django_{flag.lstrip('-')}")
    for flag in ("--traceback", "--no-color", "--force-color", "--skip-checks"):
        parser.add_argument(flag, action="store_true", dest=f"_django_{flag.lstrip('-')}")
    add_allow_root(parser)
    given = parser.parse_args(words)
    args.allow_root = bool(getattr(args, "allow_root", False)) or given.allow_root
    if given.file is not None:
        args.file = given.file
    if given.profile is not None:
        args.profile = given.profile
    args.env_file = [*(getattr(args, "env_file", None) or []), *given.env_file]
    args.debug = bool(getattr(args, "debug", False)) or given.debug
    args.no_cache = bool(getattr(args, "no_cache", False)) or given.no_cache
