"""``python manage.py prodserver <command>``: a thin adapter over the prodserver CLI.

The logic lives in :mod:`prodserver.contrib.django.command`; this module only plugs it into
Django's ``BaseCommand``. django-prodserver's ``manage.py prodserver NAME`` keeps working as
``exec NAME``, with a one-line deprecation notice.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand

from prodserver.contrib.django import command


class Command(BaseCommand):  # type: ignore[misc]  # Django ships no type hints
    help = command.HELP
    # Django's system checks run (``--skip-checks`` skips them) except prodserver's own: this
    # command reports configuration problems itself, with its documented exit codes.
    requires_system_checks = "__all__"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        command.add_subcommands(parser)

    def run_from_argv(self, argv: list[str]) -> None:
        super().run_from_argv(command.legacy_run_argv(argv, self.stderr))

    def check(self, *args: Any, **kwargs: Any) -> None:
        from prodserver.checks.django_system import suppressed

        with suppressed():
            super().check(*args, **kwargs)

    def handle(self, *args: Any, **options: Any) -> None:
        command.run(options, stdout=self.stdout._out, stderr=self.stderr._out)
