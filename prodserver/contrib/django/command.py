"""``python manage.py prodserver <command>``: the CLI's commands inside Django.

The subcommands are built from the very same pieces as the ``prodserver`` parser
(:data:`prodserver.cli.main.COMMANDS`, each module's ``add_arguments`` and
:func:`~prodserver.cli.main.add_common_options`), so both accept exactly the same options.
Django's own options (``--settings``, ``--pythonpath``, ``-v``, ``--traceback``,
``--no-color``, ``--force-color``, ``--skip-checks``) belong to the outer parser: Django acts on
them and they never reach a command, let alone a server's argv.

A :class:`~prodserver.errors.ProdserverError` becomes ``CommandError(returncode=exit code)``;
a command that returns a non-zero code (``up`` passes on a process's) does the same.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from typing import Any, TextIO

from django.core.management.base import CommandError

from prodserver.exitcodes import ExitCode

HELP = "Run, check and export every process of this project (the prodserver CLI)."


def add_subcommands(parser: argparse.ArgumentParser) -> None:
    """Add every CLI command as a subcommand of ``parser`` (Django's ``CommandParser``)."""
    from prodserver.cli.main import COMMANDS, add_common_options

    sub = parser.add_subparsers(dest="prodserver_command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                continue  # a command not built in this checkout
            raise
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(cmd)
        add_common_options(cmd)
        _accept_django_options(parser, cmd)
        cmd.set_defaults(_module=module_name)


#: Django's own options, accepted after the subcommand as well (``prodserver up --settings=x``)
_DJANGO_OPTIONS: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = (
    (("-v", "--verbosity"), {"type": int, "choices": [0, 1, 2, 3]}),
    (("--settings",), {}),
    (("--pythonpath",), {}),
    (("--traceback",), {"action": "store_true"}),
    (("--no-color",), {"action": "store_true"}),
    (("--force-color",), {"action": "store_true"}),
    (("--skip-checks",), {"action": "store_true"}),
)


def _accept_django_options(parent: argparse.ArgumentParser, cmd: argparse.ArgumentParser) -> None:
    # Same destinations as Django's, and SUPPRESS as the default so that an option given before
    # the subcommand is not reset by the subparser. Django's ManagementUtility already applied
    # --settings/--pythonpath from anywhere on the line; here they only need to be accepted.
    group = cmd.add_argument_group("Django options (see `manage.py help`)")
    for flags, kwargs in _DJANGO_OPTIONS:
        if not any(f in parent._option_string_actions for f in flags):
            continue  # this Django version or command does not have it
        free = [f for f in flags if f not in cmd._option_string_actions]
        if len(free) != len(flags):
            continue  # the prodserver command has its own option of that name (up --no-color)
        group.add_argument(*free, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)


def run(options: Mapping[str, Any], *, stdout: TextIO | None, stderr: TextIO | None) -> None:
    """Run the chosen subcommand with Django's parsed ``options``; errors -> CommandError."""
    from prodserver.contrib.django.sources import settings_fallback
    from prodserver.errors import ProdserverError

    args = argparse.Namespace(**options)
    args.command = options["prodserver_command"]
    module = importlib.import_module(args._module)
    debug = bool(options.get("debug")) or bool(options.get("traceback"))
    try:
        with _streams(stdout, stderr), settings_fallback():
            code = int(module.run(args))
    except ProdserverError as exc:
        if debug:
            raise
        raise CommandError(exc.render(), returncode=int(exc.exit_code)) from exc
    except KeyboardInterrupt:
        raise CommandError("interrupted", returncode=int(ExitCode.INTERRUPTED)) from None
    except CommandError:
        raise
    except Exception as exc:
        if debug:
            raise
        raise CommandError(
            f"internal error: {type(exc).__name__}: {exc}\n  this is a bug in prodserver; run "
            "again with --debug for a traceback and please report it",
            returncode=int(ExitCode.INTERNAL),
        ) from exc
    if code != 0:
        raise CommandError(f"prodserver {args.command} exited with code {code}", returncode=code)


@contextmanager
def _streams(stdout: TextIO | None, stderr: TextIO | None) -> Iterator[None]:
    # The command modules write to sys.stdout/sys.stderr; call_command(stdout=...) expects the
    # output in the streams it gave. On the command line these are sys.stdout/sys.stderr anyway.
    out = stdout if stdout is not None and stdout is not sys.stdout else None
    err = stderr if stderr is not None and stderr is not sys.stderr else None
    with (
        redirect_stdout(out) if out is not None else _nothing(),
        redirect_stderr(err) if err is not None else _nothing(),
    ):
        yield


@contextmanager
def _nothing() -> Iterator[None]:
    yield


# -- django-prodserver's command lines ------------------------------------------------------

#: django-prodserver's commands: `prodserver NAME` (2.x; a deprecated alias in 3.x), and 3.x's
#: `server NAME` and `worker NAME`; each started one process in the foreground
LEGACY_COMMANDS = ("prodserver", "server", "worker")
#: Django's options, which stay with the command rather than being forwarded to the process
_DJANGO_WITH_VALUE = ("--settings", "--pythonpath", "-v", "--verbosity")
_DJANGO_FLAGS = ("--traceback", "--no-color", "--force-color", "--skip-checks")


def legacy_argv(command: str, rest: list[str]) -> tuple[list[str], str] | None:
    """django-prodserver's ``manage.py COMMAND NAME [ARGS...]`` as ``prodserver exec NAME``.

    Returns the arguments for ``manage.py prodserver`` and the one-line deprecation notice
    naming the new form, or ``None`` when ``rest`` is already a prodserver command line.
    ``--list`` (django-prodserver's list of process names) becomes ``--list``'s equivalent.
    Arguments the command does not know are forwarded to the process, as django-prodserver
    3.x forwards them (appended after the configured ones).
    """
    from prodserver.cli.main import ALIASES, COMMANDS

    django: list[str] = []
    other: list[str] = []
    i = 0
    while i < len(rest):
        word = rest[i]
        if word in _DJANGO_FLAGS or (word.partition("=")[0] in _DJANGO_WITH_VALUE and "=" in word):
            django.append(word)
        elif word in _DJANGO_WITH_VALUE and i + 1 < len(rest):
            django += rest[i : i + 2]
            i += 1
        else:
            other.append(word)
        i += 1
    if "--list" in other:
        notice = (
            f"`manage.py {command} --list` is django-prodserver's; it is deprecated: "
            "use `python manage.py prodserver config --names`"
        )
        return ["config", "--names", *django], notice
    positional = [w for w in other if not w.startswith("-")]
    if command == "prodserver" and (
        not positional or other[0] in COMMANDS or other[0] in ALIASES or other[0] != positional[0]
    ):
        return None  # a prodserver command line (or an option before the command)
    if not positional:
        return None  # `manage.py server` alone: django-prodserver's default process is gone
    name = positional[0]
    at = other.index(name)
    forwarded = other[:at] + other[at + 1 :]
    # Django's options before NAME: everything after it is the process's
    new = ["exec", *django, name, *(["--", *forwarded] if forwarded else [])]
    shown = f"python manage.py prodserver exec {name}" + (" -- ..." if forwarded else "")
    notice = (
        f"`manage.py {command} {name}` is django-prodserver's form and is deprecated: "
        f"it runs `{shown}` (write that instead)"
    )
    return new, notice


def legacy_run_argv(argv: list[str], stderr: Any) -> list[str]:
    """``manage.py COMMAND ...`` as ``manage.py prodserver ...``, with the notice written."""
    if len(argv) < 2 or argv[1] not in LEGACY_COMMANDS:
        return argv
    legacy = legacy_argv(argv[1], list(argv[2:]))
    if legacy is None:
        return argv
    new, notice = legacy
    stderr.write(f"prodserver: {notice}")
    return [argv[0], "prodserver", *new]
