"""The interactive ``prodserver init``: plain prompts on a terminal, each answer checked at once.

A bad answer is explained and the same question asked again; Ctrl-D or Ctrl-C ends the wizard
without writing anything. ``ask`` is injectable so that the flow is testable without a
terminal, and it is also tested through a real pseudo-terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO, TypeVar

from prodserver.init.plan import (
    DEFAULT_BROKER,
    Answers,
    Detected,
    InvalidAnswer,
    check_answers,
    default_name,
    needs_app,
    needs_broker,
    validate_app,
    validate_broker,
    validate_name,
    validate_profiles,
    validate_web,
    validate_workers,
    web_backends,
    worker_backends,
)

T = TypeVar("T")
#: a function showing a prompt and returning the line typed (``input``)
Ask = Callable[[str], str]


def _question(ask: Ask, out: TextIO, prompt: str, default: str, validate: Callable[[str], T]) -> T:
    shown = f"{prompt} [{default}]: " if default else f"{prompt}: "
    while True:
        answer = ask(shown).strip() or default
        try:
            return validate(answer)
        except InvalidAnswer as exc:
            out.write(f"  ! {exc}\n")
            out.flush()


def run_wizard(detected: Detected, *, ask: Ask = input, out: TextIO | None = None) -> Answers:
    """Ask every question; returns answers that :func:`~prodserver.init.plan.build` accepts."""
    stream = out or sys.stdout
    stream.write("prodserver init: a few questions, then prodserver.toml is written.\n")
    if detected.is_django:
        stream.write(f"Django project found (settings: {detected.settings_module}).\n")
    for finding in detected.findings:
        stream.write(f"  found: {finding.what} ({finding.where})\n")
    stream.write("Press Enter to take the [default]; Ctrl-C to stop without writing.\n\n")
    stream.flush()
    while True:
        name = _question(
            ask, stream, "Project name", default_name(detected.directory), validate_name
        )
        web = _question(
            ask,
            stream,
            f"Web server ({', '.join(web_backends())}, or none)",
            "gunicorn" if detected.is_django else "none",
            validate_web,
        )
        app = None
        if needs_app(web, detected):
            app = _question(
                ask,
                stream,
                "Application to serve (module:attribute)",
                "",
                _required(validate_app, "the application is needed: e.g. shop.wsgi:application"),
            )
        workers = _question(
            ask,
            stream,
            f"Workers, comma-separated ({', '.join(worker_backends())}, or none)",
            ",".join(detected.workers) or "none",
            validate_workers,
        )
        broker = None
        if needs_broker(workers):
            broker = _question(
                ask, stream, "Broker URL", detected.broker or DEFAULT_BROKER, validate_broker
            )
        profiles = _question(
            ask,
            stream,
            "Profiles, comma-separated (the first is the default)",
            "dev,prod",
            validate_profiles,
        )
        answers = Answers(name, web, app, workers, broker, profiles)
        try:
            check_answers(answers, detected)
        except InvalidAnswer as exc:
            stream.write(f"  ! {exc}; let's start again.\n\n")
            continue
        return answers


def confirm(text: str, target: str, *, ask: Ask = input, out: TextIO | None = None) -> bool:
    """Show what will be written and ask before writing it."""
    stream = out or sys.stdout
    stream.write(f"\nThis is the {target} that will be written:\n\n{text}\n")
    stream.flush()
    while True:
        answer = ask(f"Write {target}? [Y/n]: ").strip().lower()
        if answer in ("", "y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
        stream.write("  ! answer y or n\n")


def _required(validate: Callable[[str], T | None], message: str) -> Callable[[str], T]:
    def check(text: str) -> T:
        value = validate(text)
        if value is None:
            raise InvalidAnswer(message)
        return value

    return check
