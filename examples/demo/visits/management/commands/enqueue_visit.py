"""``manage.py enqueue_visit --via FAMILY [--source TEXT] [--count N] [--work N] [--wait]``.

Puts the demo task (``record_visit``) on a queue. With ``--count`` the task is enqueued N times
from this one process, each with ``SOURCE-I-T`` as its source (``I`` the index, ``T`` the wall
clock at enqueue in seconds): ``bench/workers.py`` reads throughput and enqueue-to-done latency
back from the rows the worker wrote.
"""

import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

FAMILIES = ("django-tasks", "celery", "rq", "rq-scheduler", "dramatiq", "django-q2")


class Command(BaseCommand):
    help = "Enqueue the demo task (record_visit) for one worker family."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--via", choices=FAMILIES, required=True)
        parser.add_argument("--source", help="text stored in the row (default: the family)")
        parser.add_argument("--queue", default=None, help="queue name (default: the family's)")
        parser.add_argument("--count", type=int, default=None, help="enqueue N tasks")
        parser.add_argument("--work", type=int, default=0, help="hashing rounds per task")
        parser.add_argument(
            "--wait",
            action="store_true",
            help="with --count: enqueue the next task only once the previous one has run",
        )

    def handle(
        self,
        *args: Any,
        via: str,
        source: str | None,
        queue: str | None,
        count: int | None,
        work: int,
        wait: bool,
        **opts: Any,
    ) -> None:
        source = source or via
        send = _sender(via, queue)
        if count is None:
            ref = send(source, work)
            self.stdout.write(f"enqueued record_visit({source!r}) via {via}: {ref}")
            return
        for i in range(count):
            name = f"{source}-{i}-{time.time():.6f}"
            send(name, work)
            if wait:
                _wait_for_row(name)
        self.stdout.write(f"enqueued {count} x record_visit via {via}")


def _wait_for_row(source: str, timeout: float = 120.0) -> None:
    """Until the worker has written the row of ``source``: each task then finds an idle worker."""
    from visits.models import Visit

    deadline = time.monotonic() + timeout
    while not Visit.objects.filter(source=source).exists():
        if time.monotonic() > deadline:
            raise CommandError(f"no worker ran {source!r} within {timeout:.0f}s")
        time.sleep(0.002)  # another process writes the row: nothing to wait on but the table


def _sender(via: str, queue: str | None) -> Callable[[str, int], object]:
    """A function that enqueues one task for ``via`` and returns its id."""
    if via == "django-tasks":
        from visits.tasks import record_visit

        task = record_visit.using(queue_name=queue) if queue else record_visit
        return lambda source, work: task.enqueue(source, work).id
    if via == "celery":
        # the configured app (demo/celery.py), not Celery's default one
        from demo.celery import app

        name = "visits.celery_tasks.record_visit"
        return lambda source, work: app.send_task(name, (source, work), queue=queue).id
    if via == "rq":
        from django.conf import settings
        from redis import Redis
        from rq import Queue

        rq_queue = Queue(queue or "default", connection=Redis.from_url(settings.REDIS_URL))
        return lambda source, work: rq_queue.enqueue("visits.rq_jobs.record_visit", source, work).id
    if via == "rq-scheduler":
        # due in a second: rqscheduler moves it onto the queue, an RQ worker runs it
        from datetime import timedelta

        from django.conf import settings
        from redis import Redis
        from rq_scheduler import Scheduler

        scheduler = Scheduler(
            queue_name=queue or "default", connection=Redis.from_url(settings.REDIS_URL)
        )
        return lambda source, work: (
            scheduler.enqueue_in(
                timedelta(seconds=1), "visits.rq_jobs.record_visit", source, work
            ).id
        )
    if via == "dramatiq":
        from visits.dramatiq_actors import record_visit as actor

        return lambda source, work: actor.send(source, work).message_id
    from django_q.tasks import async_task

    return lambda source, work: async_task("visits.core.record_visit", source, work)
