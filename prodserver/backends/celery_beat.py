"""The ``celery-beat`` backend: ``celery -A APP beat``, the periodic task scheduler."""

from __future__ import annotations

from typing import ClassVar

from prodserver.backends.base import Option
from prodserver.backends.celery_common import APP, BROKER, LOGLEVEL, CeleryCommand
from prodserver.backends.common import Units, int_seconds


class CeleryBeatBackend(CeleryCommand):
    name = "celery-beat"
    summary = "The Celery beat scheduler (celery -A APP beat). Run exactly one."
    kind = "scheduler"
    command = "beat"
    units: ClassVar[Units] = {"max_interval": int_seconds}
    # stop: the default SIGTERM to the main process suits beat: it saves its schedule and
    # exits, and it is a single process.
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
