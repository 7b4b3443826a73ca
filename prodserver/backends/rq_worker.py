"""The ``rq-worker`` backend: ``rq worker``, the Redis Queue worker."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prodserver.backends.base import Backend, BackendContext, Option
from prodserver.backends.common import declared_argv, positional

#: the variable most platforms (Heroku, Render, Railway, Compose setups) put the Redis URL in
REDIS_URL_VARIABLE = "REDIS_URL"

URL = Option(
    "url",
    "string",
    "Redis URL. Default: `$REDIS_URL` when set, else RQ's own default (`RQ_REDIS_URL` or "
    "localhost).",
    flag="--url",
    examples=("redis://127.0.0.1:6379/0",),
)


def redis_url(values: Mapping[str, Any], ctx: BackendContext) -> str | None:
    """The ``url`` option, else ``$REDIS_URL`` from the process environment, else None."""
    url = values.get("url") or ctx.env.get(REDIS_URL_VARIABLE)
    return str(url) if url else None


#: `--verbose` and `--quiet`, as rq's worker and rq-scheduler both spell them
VERBOSITY = (
    Option("verbose", "boolean", "Show more output.", flag="--verbose"),
    Option("quiet", "boolean", "Show less output.", flag="--quiet"),
)


class RQWorkerBackend(Backend):
    name = "rq-worker"
    summary = "An RQ worker (rq worker --url $REDIS_URL QUEUE...)."
    kind = "worker"
    extra = "rq"
    requires = ("rq",)
    # stop: the default SIGTERM to the main process is RQ's warm shutdown: it waits for the job
    # its work horse is running. The horse itself must not get it: it would die with the job
    # half done.
    options = (
        URL,
        Option(
            "queues",
            "list",
            "Queues to work on, highest priority first (default: `default`).",
            positional=True,
            examples=('["high", "default", "low"]',),
        ),
        Option("burst", "boolean", "Quit once the queues are empty.", flag="--burst"),
        Option(
            "with_scheduler",
            "boolean",
            "Also run RQ's scheduler for jobs enqueued with `enqueue_in`/`enqueue_at`.",
            flag="--with-scheduler",
        ),
        Option(
            "worker_class",
            "string",
            "Worker class (dotted path).",
            flag="--worker-class",
            examples=("rq.worker.SimpleWorker",),
        ),
        Option("job_class", "string", "Job class (dotted path).", flag="--job-class"),
        Option("queue_class", "string", "Queue class (dotted path).", flag="--queue-class"),
        Option(
            "connection_class",
            "string",
            "Redis client class (dotted path).",
            flag="--connection-class",
        ),
        Option(
            "serializer",
            "string",
            "Serializer: `json`, `pickle` or a dotted path.",
            flag="--serializer",
        ),
        Option("name", "string", "Worker name (unique per Redis).", flag="--name"),
        Option("path", "list", "Directories added to the import path.", flag="--path"),
        Option("config", "string", "Module holding RQ settings.", flag="--config"),
        Option(
            "logging_level",
            "enum",
            "Log level.",
            flag="--logging_level",
            choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
        ),
        Option("max_jobs", "integer", "Exit after this many jobs.", flag="--max-jobs", minimum=1),
        Option(
            "max_idle_time",
            "integer",
            "Exit after this many seconds without a job.",
            flag="--max-idle-time",
            minimum=1,
        ),
        Option(
            "results_ttl",
            "integer",
            "Seconds job results are kept.",
            flag="--results-ttl",
            minimum=0,
        ),
        Option(
            "worker_ttl",
            "integer",
            "Seconds before a silent worker is considered dead.",
            flag="--worker-ttl",
            minimum=1,
        ),
        Option(
            "dequeue_strategy",
            "enum",
            "Order in which queues are dequeued.",
            flag="--dequeue-strategy",
            choices=("default", "random", "round_robin"),
        ),
        *VERBOSITY,
    )

    def argv(self, values: Mapping[str, Any], ctx: BackendContext) -> list[str]:
        url = redis_url(values, ctx)
        queues = [positional("queues", q) for q in values.get("queues") or ()]
        return [
            "rq",
            "worker",
            *(["--url", url] if url else []),
            *declared_argv(self, values, skip=("url", "queues")),
            *queues,
        ]
