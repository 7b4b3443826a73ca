"""The ``prodserver`` command line: ``main(argv) -> int``.

Commands are registered by module path and imported only when chosen, so that
``prodserver --help`` imports no configuration machinery, no jsonschema, no server.
The same parser is used by ``python manage.py prodserver`` (see ``contrib/django``).
"""

from __future__ import annotations

import os
import sys

from prodserver import __version__

# Nothing else at import: the console script imports this module before the fast path of
# `run` and `exec` (prodserver/fastpath.py) is tried, so argparse, enum and the rest are
# imported by the functions that use them. (`typing` itself costs a few milliseconds.)
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from types import ModuleType

#: command name -> (module, one-line help). Order is the order ``--help`` shows.
COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("prodserver.cli.commands.up", "run the profile's processes in the foreground"),
    "exec": ("prodserver.cli.commands.exec", "replace this process with one resolved process"),
    "run": ("prodserver.cli.commands.run", "run a one-off command with the profile's environment"),
    "check": ("prodserver.cli.commands.check", "validate the configuration"),
    "config": ("prodserver.cli.commands.config", "show the resolved configuration"),
    "export": ("prodserver.cli.commands.export", "write Procfile, Compose, systemd, ... files"),
    "init": ("prodserver.cli.commands.init", "write a starting prodserver.toml"),
    "status": ("prodserver.cli.commands.status", "show the running supervisor's processes"),
    "reload": ("prodserver.cli.commands.reload", "make the running up re-read its configuration"),
    "backends": ("prodserver.cli.commands.backends", "list backends and their options"),
    "schema": ("prodserver.cli.commands.schema", "print the JSON schema of prodserver.toml"),
}

#: other names of a command: honcho's and foreman's `start` is `up`
ALIASES: dict[str, str] = {"start": "up"}
#: the options every command takes: accepted before the command too (`prodserver -f X up`)
_GLOBAL_WITH_VALUE = ("-f", "--file", "-p", "--profile", "--env-file")
_GLOBAL_FLAGS = ("--debug", "--no-cache")


def epilog() -> str:
    """The end of ``--help``: the exit codes and where the configuration is found."""
    import textwrap

    from prodserver.exitcodes import summary as exit_summary

    return (
        textwrap.fill(f"exit codes: {exit_summary()};", 100)
        + """
`up` otherwise exits with the code of the process that ended the run (128+N for signal N).

The configuration is found by walking up from the current directory to prodserver.toml
(or [tool.prodserver] in pyproject.toml, or a Procfile); -f/--file and PRODSERVER_FILE override.
"""
    )


def __getattr__(name: str) -> str:
    """``EPILOG``, built when asked for (it imports ``textwrap`` and ``enum``)."""
    if name == "EPILOG":
        return epilog()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_PARSER_CLASS: type[argparse.ArgumentParser] | None = None


def _parser_class() -> type[argparse.ArgumentParser]:
    """argparse's parser, exiting with our documented usage code (defined at first use)."""
    global _PARSER_CLASS  # noqa: PLW0603 - one class per process
    if _PARSER_CLASS is None:
        import argparse

        from prodserver.exitcodes import ExitCode

        class _Parser(argparse.ArgumentParser):
            #: the epilog is written when help is shown: a command that runs never needs it
            #: (it imports textwrap; issue 17)
            lazy_epilog = False

            def format_help(self) -> str:
                if self.lazy_epilog:
                    self.epilog, self.lazy_epilog = epilog(), False
                return super().format_help()

            def error(self, message: str) -> None:  # type: ignore[override]
                self.print_usage(sys.stderr)
                sys.stderr.write(f"{self.prog}: error: {message}\n")
                raise SystemExit(ExitCode.USAGE)

        _PARSER_CLASS = _Parser
    return _PARSER_CLASS


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Options every command takes (also used by the Django management command)."""
    group = parser.add_argument_group("configuration")
    group.add_argument(
        "-f",
        "--file",
        metavar="PATH",
        default=None,
        help="configuration file (default: $PRODSERVER_FILE, else found by walking up)",
    )
    group.add_argument(
        "-p",
        "--profile",
        metavar="NAME",
        default=None,
        help="profile to use (default: $PRODSERVER_PROFILE, else [project] default_profile)",
    )
    group.add_argument(
        "--env-file",
        metavar="PATH",
        action="append",
        default=[],
        dest="env_file",
        help="extra .env file, read after the configured ones (repeatable; ?PATH = optional)",
    )
    group.add_argument(
        "--debug", action="store_true", help="show tracebacks and internal details on errors"
    )
    group.add_argument(
        "--no-cache",
        action="store_true",
        dest="no_cache",
        help="resolve the configuration from its files, without reading or writing the "
        "configuration cache (also PRODSERVER_NO_CACHE=1)",
    )


def build_parser(
    prog: str = "prodserver", *, only: str | None = None, load_commands: bool = True
) -> argparse.ArgumentParser:
    """The full parser. ``only`` builds just one command's subparser (fast path)."""
    import argparse

    parser_class = _parser_class()
    parser = parser_class(
        prog=prog,
        description="Run, check and export every process of a Python or Django app.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.lazy_epilog = True  # type: ignore[attr-defined]
    parser.add_argument("--version", action="version", version=f"prodserver {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=parser_class)
    for name, (module_name, help_text) in COMMANDS.items():
        if load_commands and only is not None and name != only:
            # the command line names another command: its parser would never be used, and
            # each one costs argparse's set-up (a few ms at every start)
            continue
        aliases = [alias for alias, target in ALIASES.items() if target == name]
        cmd = sub.add_parser(name, help=help_text, description=help_text, aliases=aliases)
        if not load_commands:
            continue
        module = _command_module(module_name)
        if module is None:
            continue
        module.add_arguments(cmd)
        add_common_options(cmd)
        cmd.set_defaults(_module=module_name)
    return parser


def import_module(name: str) -> ModuleType:
    """``importlib.import_module(name)`` for an absolute name, without importing importlib
    (and the warnings module it brings) on every start (issue 17)."""
    __import__(name)
    return sys.modules[name]


def _command_module(module_name: str) -> ModuleType | None:
    try:
        return import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None  # a command not built yet in this checkout
        raise


def _chosen_command(argv: Sequence[str]) -> str | None:
    for word in argv:
        if word in COMMANDS:
            return word
        if word in ALIASES:
            return ALIASES[word]
        if not word.startswith("-"):
            return None
    return None


def hoist_global_options(argv: Sequence[str]) -> list[str]:
    """``-f X -p P up web`` -> ``up -f X -p P web``: global options may precede the command.

    Only the common options move, and only when a command follows them; anything else is left
    for argparse to report.
    """
    moved: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in _GLOBAL_FLAGS:
            moved.append(word)
            i += 1
        elif word in _GLOBAL_WITH_VALUE and i + 1 < len(argv):
            moved += argv[i : i + 2]
            i += 2
        elif word.startswith("--") and word.partition("=")[0] in _GLOBAL_WITH_VALUE:
            moved.append(word)
            i += 1
        elif word.startswith(("-f", "-p")) and len(word) > 2 and not word.startswith("--"):
            moved.append(word)  # -fProcfile.dev
            i += 1
        else:
            break
    if not moved or i >= len(argv) or (argv[i] not in COMMANDS and argv[i] not in ALIASES):
        return list(argv)
    return [argv[i], *moved, *argv[i + 1 :]]


def main(argv: Sequence[str] | None = None, *, prog: str = "prodserver") -> int:
    """Run the command line; returns the exit code (never raises for user errors)."""
    from prodserver.exitcodes import ExitCode

    args_list = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
    chosen = _chosen_command(args_list)
    keep = argv is None and prog == "prodserver"  # the console script, not a caller's parse
    if keep:
        from prodserver.cli import parsed

        where = parsed.record_path(args_list, chosen)
        known = parsed.read(args_list, chosen, where)  # `up` as argparse parsed it last time
        # a record names the command module argparse chose: never another module to import
        if chosen is not None and getattr(known, "_module", None) == COMMANDS[chosen][0]:
            return dispatch(known)
    parser = build_parser(prog, only=chosen, load_commands=chosen is not None)
    if chosen is None:
        if any(a in ("-h", "--help", "--version") for a in args_list) or not args_list:
            parser.parse_args(args_list or ["--help"])
        parser.parse_args(args_list)  # reports the unknown command
        return ExitCode.USAGE
    args = parser.parse_args(args_list)
    if getattr(args, "_module", None) is None:
        parser.error(f"the {chosen!r} command is not available in this build")
    if keep:
        parsed.write(args_list, chosen, args, where)
    return dispatch(args)


def dispatch(args: argparse.Namespace) -> int:
    """Run a parsed command, turning errors into messages and exit codes."""
    from prodserver.errors import ProdserverError
    from prodserver.exitcodes import ExitCode

    debug = bool(getattr(args, "debug", False)) or os.environ.get("PRODSERVER_DEBUG") == "1"
    module = import_module(args._module)
    if not getattr(module, "RESUMES_COLLECTOR", False):
        from prodserver.fastpath import resume_collector

        resume_collector()  # paused by entrypoint() for the imports of the start
    try:
        return int(module.run(args))
    except ProdserverError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"prodserver: {exc.render()}\n")
        return int(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("prodserver: interrupted\n")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        from prodserver.errors import silence_stdout

        silence_stdout()
        return int(ExitCode.OK)
    except Exception as exc:
        if debug:
            raise
        sys.stderr.write(
            f"prodserver: internal error: {type(exc).__name__}: {exc}\n"
            "  this is a bug in prodserver; run again with --debug for a traceback "
            "and please report it\n"
        )
        return int(ExitCode.INTERNAL)


def entrypoint() -> None:
    """The console script (and ``python -m prodserver``).

    A ``run`` or ``exec`` already seen with this exact command line, environment and
    configuration starts from its fast record (:mod:`prodserver.fastpath`) before anything
    else is imported; on any doubt the command line is parsed and run as usual.
    """
    from prodserver.fastpath import pause_collector, try_fast

    code = try_fast(sys.argv[1:])
    if code is None:
        pause_collector()  # until the command's own work starts (see dispatch)
        code = main()
    sys.exit(code)
