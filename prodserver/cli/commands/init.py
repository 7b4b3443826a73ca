"""``prodserver init``: write a starting ``prodserver.toml``.

Asked on a terminal (the wizard), from flags (``--non-interactive``, implied by any of
``--web``/``--worker``/``--broker``/``--profiles``/``--name``/``--app``), from a Procfile and
its ``.env`` (``--from-procfile``), or from django-prodserver's ``PRODUCTION_PROCESSES``
(``--from-django``). Never replaces an existing file without ``--force``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from prodserver import codes

if TYPE_CHECKING:
    from prodserver.init.plan import Answers, Detected

T = TypeVar("T")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--from-procfile",
        nargs="?",
        const="Procfile",
        metavar="PATH",
        help="translate a Procfile (default ./Procfile) and the .env beside it",
    )
    source.add_argument(
        "--from-django",
        action="store_true",
        help="translate django-prodserver's PRODUCTION_PROCESSES ($DJANGO_SETTINGS_MODULE)",
    )
    source.add_argument(
        "--non-interactive", action="store_true", help="do not ask: use the flags and defaults"
    )
    answers = parser.add_argument_group("answers (imply --non-interactive)")
    answers.add_argument("--name", help="project name (default: the directory's name)")
    answers.add_argument(
        "--web",
        metavar="BACKEND",
        help="web server backend, or none (default: gunicorn for Django)",
    )
    answers.add_argument(
        "--app", metavar="MODULE:ATTR", help="application the web server serves (non-Django)"
    )
    answers.add_argument(
        "--worker",
        metavar="BACKEND",
        action="append",
        default=[],
        help="worker backend (repeatable, or comma-separated): celery-worker, rq-worker, ...",
    )
    answers.add_argument("--broker", metavar="URL", help="broker URL for Celery or RQ workers")
    answers.add_argument(
        "--profiles", metavar="NAMES", help="comma-separated profiles, the first the default"
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "--format", choices=("toml", "json", "yaml"), default="toml", help="file format"
    )
    out.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="file to write (default: prodserver.toml here; - for standard output)",
    )
    out.add_argument("--force", action="store_true", help="replace an existing file")


def run(args: argparse.Namespace) -> int:
    from prodserver.init import plan, render

    cwd = Path.cwd()
    fmt = str(args.format)
    target_text = args.output or getattr(args, "file", None) or render.DEFAULT_NAMES[fmt]
    to_stdout = target_text == "-"
    target = cwd / target_text
    if not to_stdout and target.exists() and not args.force:
        # checked first so that nobody answers every question for nothing
        from prodserver.errors import OutputError

        raise OutputError(
            f"{target} already exists",
            hint="pass --force to replace it, or -o PATH to write elsewhere",
            code=codes.INIT_TARGET_EXISTS,
        )
    warnings: list[str] = []
    if args.from_procfile is not None:
        _no_answers(args, "--from-procfile")
        document, warnings = plan.procfile_document(
            cwd / args.from_procfile,
            target.parent,
            _answer(plan.validate_name, args.name or plan.default_name(cwd), "--name"),
        )
    elif args.from_django:
        _no_answers(args, "--from-django")
        document, warnings = plan.django_document(_django_settings(cwd))
    else:
        detected = plan.detect(cwd)
        flags = (args.name, args.web, args.app, args.broker, args.profiles)
        interactive = not (args.non_interactive or any(v is not None for v in flags) or args.worker)
        answers = _interactive(detected) if interactive else _from_flags(args, detected)
        document = _answer(lambda _: plan.build(answers, detected), "", "the answers")
        if interactive and not to_stdout:
            _confirm(render.render(document, fmt), target.name)
    text = render.render(document, fmt)
    for warning in warnings:
        sys.stderr.write(f"prodserver: {warning}\n")
    if to_stdout:
        sys.stdout.write(text)
        return 0
    render.write(text, target, force=bool(args.force))
    sys.stdout.write(f"wrote {target}\n")
    if fmt == "toml":
        sys.stdout.write("next: `prodserver check`, then `prodserver up`\n")
    return 0


def _answer(validate: Callable[[Any], T], text: Any, flag: str) -> T:
    from prodserver.errors import UsageError
    from prodserver.init.plan import InvalidAnswer

    try:
        return validate(text)
    except InvalidAnswer as exc:
        raise UsageError(f"{flag}: {exc}", code=codes.INIT_BAD_ANSWER) from None


def _no_answers(args: argparse.Namespace, source: str) -> None:
    from prodserver.errors import UsageError

    given = [
        flag
        for flag, value in (
            ("--web", args.web),
            ("--app", args.app),
            ("--broker", args.broker),
            ("--profiles", args.profiles),
            ("--worker", args.worker or None),
        )
        if value is not None
    ]
    if given:
        raise UsageError(f"{source} cannot be combined with {', '.join(given)}")


def _from_flags(args: argparse.Namespace, detected: Detected) -> Answers:
    from prodserver.init import plan

    name = _answer(plan.validate_name, args.name or plan.default_name(detected.directory), "--name")
    default_web = "gunicorn" if detected.is_django else "none"
    web = _answer(plan.validate_web, args.web if args.web is not None else default_web, "--web")
    app = _answer(plan.validate_app, args.app or "", "--app")
    workers = _answer(plan.validate_workers, args.worker or list(detected.workers), "--worker")
    broker = None
    if args.broker is not None:
        broker = _answer(plan.validate_broker, args.broker, "--broker")
    elif plan.needs_broker(workers):
        broker = detected.broker or plan.DEFAULT_BROKER
    profiles = _answer(
        plan.validate_profiles,
        args.profiles if args.profiles is not None else "dev,prod",
        "--profiles",
    )
    return plan.Answers(name, web, app, workers, broker, profiles)


def _interactive(detected: Detected) -> Answers:
    from prodserver.errors import UsageError
    from prodserver.init.wizard import run_wizard

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError(
            "prodserver init asks questions, and there is no terminal to ask on",
            hint="use --non-interactive with --web/--worker/--broker/--profiles, "
            "or --from-procfile / --from-django",
        )
    try:
        return run_wizard(detected)
    except (EOFError, KeyboardInterrupt):
        sys.stdout.write("\n")
        raise UsageError("stopped: nothing was written") from None


def _confirm(text: str, target: str) -> None:
    from prodserver.errors import UsageError
    from prodserver.init.wizard import confirm

    try:
        if confirm(text, target):
            return
    except (EOFError, KeyboardInterrupt):
        sys.stdout.write("\n")
    raise UsageError("stopped: nothing was written")


def _django_settings(cwd: Path) -> Any:
    """The configured Django settings: only ``--from-django`` imports the project's code."""
    from prodserver.errors import BackendUnavailable, ConfigError, UsageError

    module = os.environ.get("DJANGO_SETTINGS_MODULE")
    if not module:
        raise UsageError(
            "--from-django needs DJANGO_SETTINGS_MODULE",
            hint="e.g. DJANGO_SETTINGS_MODULE=shop.settings prodserver init --from-django, "
            "or `python manage.py prodserver init --from-django`",
        )
    try:
        from django.conf import settings
    except ImportError:
        raise BackendUnavailable(
            "--from-django needs Django, which is not installed",
            hint="pip install 'prodserver[django]'",
        ) from None
    if str(cwd) not in sys.path:
        # `prodserver` runs from its own bin directory; manage.py would put the project here
        sys.path.insert(0, str(cwd))
    try:
        settings.PRODUCTION_PROCESSES  # noqa: B018 - loads the settings module
    except AttributeError:
        pass  # no such setting: reported by django_document
    except Exception as exc:  # the project's own code: anything can go wrong there
        raise ConfigError(
            f"cannot load the settings {module!r}: {type(exc).__name__}: {exc}",
            hint="run it from the project directory (where manage.py is), or fix the settings",
            code=codes.DJANGO_SETTINGS_UNLOADABLE,
        ) from None
    return settings
