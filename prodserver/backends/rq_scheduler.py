"""The ``rq-scheduler`` backend: ``rqscheduler``, periodic and delayed jobs for RQ."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prodserver.backends.base import Backend, BackendContext, Option
from prodserver.backends.common import declared_argv
from prodserver.backends.rq_worker import URL, VERBOSITY, redis_url


class RQSchedulerBackend(Backend):
    name = "rq-scheduler"
    summary = "rq-scheduler (rqscheduler --url $REDIS_URL): moves due jobs onto RQ queues."
    kind = "scheduler"
    extra = "rq-scheduler"
    requires = ("rq_scheduler", "rq")
    # stop: the default SIGTERM to the main process makes it register its death and release
    # its Redis lock before exiting, so that a new scheduler can take over at once; it is a
    # single process.
    options = (
        URL,
        Option(
            "interval",
            "duration",
            "How often to look for due jobs (default 60s).",
            flag="--interval",
            minimum=0,
        ),
        Option("burst", "boolean", "Move the due jobs once, then quit.", flag="--burst"),
        Option("path", "string", "Directory added to the import path.", flag="--path"),
        Option("job_class", "string", "Job class (dotted path).", flag="--job-class"),
        Option("queue_class", "string", "Queue class (dotted path).", flag="--queue-class"),
        *VERBOSITY,
    )

    def argv(self, values: Mapping[str, Any], ctx: BackendContext) -> list[str]:
        url = redis_url(values, ctx)
        return [
            "rqscheduler",
            *(["--url", url] if url else []),
            *declared_argv(self, values, skip=("url",)),
        ]
