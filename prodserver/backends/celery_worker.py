"""The ``celery-worker`` backend: ``celery -A APP worker``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from prodserver.backends.base import BackendContext, Option
from prodserver.backends.celery_common import APP, BROKER, LOGLEVEL, CeleryCommand
from prodserver.backends.common import Units, kib


class CeleryWorkerBackend(CeleryCommand):
    name = "celery-worker"
    summary = "A Celery worker (celery -A APP worker --loglevel info)."
    kind = "worker"
    command = "worker"
    units: ClassVar[Units] = {"max_memory_per_child": kib}
    # stop: the default SIGTERM to the main process is Celery's warm shutdown: stop consuming,
    # finish the tasks in progress, then exit. Signalling the pool children too would kill those
    # tasks mid-way.
    options = (
        APP,
        BROKER,
        LOGLEVEL,
        Option(
            "queues",
            "list",
            "Queues to consume from (default: the app's task_default_queue).",
            flag="--queues",
            join=",",
            examples=('["default", "mail"]',),
        ),
        Option(
            "exclude_queues",
            "list",
            "Queues not to consume from.",
            flag="--exclude-queues",
            join=",",
        ),
        Option(
            "concurrency",
            "integer",
            "Pool size: processes or threads (default: the number of CPUs).",
            flag="--concurrency",
            minimum=1,
        ),
        Option(
            "pool",
            "enum",
            "Pool implementation.",
            flag="--pool",
            choices=("prefork", "eventlet", "gevent", "solo", "processes", "threads"),
        ),
        Option(
            "pool_autoscale",
            "string",
            "`MAX,MIN` pool processes, grown and shrunk with the load (`--autoscale`; named so "
            "as not to clash with the process key `autoscale`, which is for exporters).",
            flag="--autoscale",
            pattern=r"^[0-9]+,[0-9]+$",
            examples=("10,3",),
        ),
        Option(
            "max_tasks_per_child",
            "integer",
            "Replace a pool process after this many tasks.",
            flag="--max-tasks-per-child",
            minimum=1,
        ),
        Option(
            "max_memory_per_child",
            "size",
            "Replace a pool process once its resident memory exceeds this (Celery counts KiB).",
            flag="--max-memory-per-child",
            minimum=1,
        ),
        Option(
            "prefetch_multiplier",
            "integer",
            "Messages prefetched per pool process.",
            flag="--prefetch-multiplier",
            minimum=0,
        ),
        Option(
            "time_limit",
            "duration",
            "Hard time limit per task: the process running it is killed.",
            flag="--time-limit",
            minimum=0,
        ),
        Option(
            "soft_time_limit",
            "duration",
            "Soft time limit per task: SoftTimeLimitExceeded is raised in it.",
            flag="--soft-time-limit",
            minimum=0,
        ),
        Option(
            "hostname",
            "string",
            "Node name. Default `<process>.<instance>@%h`, so that scaled workers get distinct "
            "names.",
            flag="--hostname",
        ),
        Option(
            "optimization",
            "enum",
            "Scheduling profile (`fair` for long tasks).",
            flag="--optimization",
            choices=("default", "fair"),
        ),
        Option(
            "events", "boolean", "Send task events (for Flower and monitors).", flag="--task-events"
        ),
        Option(
            "beat",
            "boolean",
            "Also run the beat scheduler inside this worker (one such worker only).",
            flag="--beat",
        ),
        Option(
            "without_gossip",
            "boolean",
            "Do not subscribe to other workers' events.",
            flag="--without-gossip",
        ),
        Option(
            "without_mingle",
            "boolean",
            "Do not synchronise with other workers at start.",
            flag="--without-mingle",
        ),
        Option(
            "without_heartbeat",
            "boolean",
            "Do not send event heartbeats.",
            flag="--without-heartbeat",
        ),
        Option(
            "statedb", "string", "File keeping revoked task ids across restarts.", flag="--statedb"
        ),
        Option(
            "include",
            "list",
            "Extra modules to import (task modules not found automatically).",
            flag="--include",
            join=",",
        ),
    )

    def argv(self, values: Mapping[str, Any], ctx: BackendContext) -> list[str]:
        values = dict(values)
        if not values.get("hostname") and ctx.env.get("PRODSERVER_INSTANCE"):
            values["hostname"] = f"{ctx.process}.{ctx.env['PRODSERVER_INSTANCE']}@%h"
        return super().argv(values, ctx)
