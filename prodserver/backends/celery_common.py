"""What the three Celery backends share: the app, the broker, the log level, the command line.

``celery -A APP [-b BROKER] <command> ...``: the global options go before the sub-command.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from prodserver.backends import django
from prodserver.backends.base import Backend, BackendContext, Option
from prodserver.backends.common import Units, declared_argv, positional

APP = Option(
    "app",
    "string",
    "The Celery application (`-A`): a module, `module:attribute` or package. Default: the "
    "Django project package when DJANGO_SETTINGS_MODULE is set (Celery then finds "
    "`<project>/celery.py`).",
    flag="--app",
    positional=True,
    examples=("shop", "shop.celery:app"),
)
BROKER = Option(
    "broker",
    "string",
    "Broker URL, overriding the application's configuration.",
    flag="--broker",
    examples=("redis://127.0.0.1:6379/0",),
)
LOGLEVEL = Option(
    "loglevel",
    "enum",
    "Log level.",
    flag="--loglevel",
    default="info",
    choices=("debug", "info", "warning", "error", "critical", "fatal"),
    ignore_case=True,  # celery upper-cases the level itself
)

#: names handled by :func:`celery_prefix`, skipped by the per-command flags
GLOBAL = ("app", "broker")


def celery_prefix(values: Mapping[str, Any], ctx: BackendContext, command: str) -> list[str]:
    """``["celery", "--app", APP, ("--broker", URL), command]``."""
    app = values.get("app") or django.project_package(ctx)
    argv = ["celery", "--app", positional("app", app)]
    if values.get("broker"):
        argv += ["--broker", str(values["broker"])]
    return [*argv, command]


class CeleryCommand(Backend):
    """A backend that runs one ``celery`` sub-command with its declared options.

    ``celery --app APP [--broker URL] COMMAND --option ...``, from the ``celery`` package.
    """

    extra = "celery"
    requires = ("celery",)
    #: the sub-command: ``worker``, ``beat``
    command: ClassVar[str]
    #: options whose flag takes another unit than the option's type (see ``declared_argv``)
    units: ClassVar[Units] = {}

    def argv(self, values: Mapping[str, Any], ctx: BackendContext) -> list[str]:
        return [
            *celery_prefix(values, ctx, self.command),
            *declared_argv(self, values, skip=GLOBAL, convert=self.units),
        ]
