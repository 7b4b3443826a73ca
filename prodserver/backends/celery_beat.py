"""The ``celery-beat`` backend: ``celery -A APP beat``, the periodic task scheduler."""

from __future__ import annotations

import signal
from collections.abc import Mapping
from typing import Any

from prodserver.backends.base import Backend, BackendContext, Option
from prodserver.backends.celery_common import APP, BROKER, GLOBAL, LOGLEVEL, celery_prefix
from prodserver.backends.common import declared_argv, int_seconds


class CeleryBeatBackend(Backend):
    name = "celery-beat"
    summary = "The Celery beat scheduler (celery -A APP beat). Run exactly one."
    kind = "scheduler"
    extra = "celery"
    requires = ("celery",)
    listens = False
    # beat saves its schedule and exits on SIGTERM; it is a single process
    stop_signal = signal.SIGTERM
    kill_mode = "main"
    options = (
        APP,
        BROKER,
        LOGLEVEL,
        Option(
            "scheduler",
            "string",
            "Scheduler class, e.g. `django_celery_beat.schedulers:DatabaseScheduler`.",
            flag="--scheduler",
        ),
        Option(
            "schedule",
            "string",
            "File where the default scheduler keeps its state (`celerybeat-schedule`); it must "
            "be writable.",
            flag="--schedule",
        ),
        Option(
            "max_interval",
            "duration",
            "Longest sleep between schedule checks (whole seconds, rounded up).",
            flag="--max-interval",
            minimum=0,
        ),
    )

    def argv(self, values: Mapping[str, Any], ctx: BackendContext) -> list[str]:
        return [
            *celery_prefix(values, ctx, "beat"),
            *declared_argv(self, values, skip=GLOBAL, convert={"max_interval": int_seconds}),
        ]
