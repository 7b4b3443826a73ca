"""``manage.py enqueue_visit --via FAMILY [--source TEXT]``: put the demo task on a queue."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

FAMILIES = ("django-tasks", "celery", "rq", "rq-scheduler", "dramatiq", "django-q2")


class Command(BaseCommand):
    help = "Enqueue the demo task (record_visit) for one worker family."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--via", choices=FAMILIES, required=True)
        parser.add_argument("--source", help="text stored in the row (default: the family)")
        parser.add_argument("--queue", default=None, help="queue name (default: the family's)")

    def handle(
        self, *args: Any, via: str, source: str | None, queue: str | None, **opts: Any
    ) -> None:
        source = source or via
        if via == "django-tasks":
            from visits.tasks import record_visit

            task = record_visit.using(queue_name=queue) if queue else record_visit
            ref = task.enqueue(source).id
        elif via == "celery":
            # the configured app (demo/celery.py), not Celery's default one
            from demo.celery import app

            ref = app.send_task("visits.celery_tasks.record_visit", (source,), queue=queue).id
        elif via == "rq":
            from django.conf import settings
            from redis import Redis
            from rq import Queue

            connection = Redis.from_url(settings.REDIS_URL)
            ref = (
                Queue(queue or "default", connection=connection)
                .enqueue("visits.rq_jobs.record_visit", source)
                .id
            )
        elif via == "rq-scheduler":
            # due in a second: rqscheduler moves it onto the queue, an RQ worker runs it
            from datetime import timedelta

            from django.conf import settings
            from redis import Redis
            from rq_scheduler import Scheduler

            scheduler = Scheduler(
                queue_name=queue or "default", connection=Redis.from_url(settings.REDIS_URL)
            )
            ref = scheduler.enqueue_in(
                timedelta(seconds=1), "visits.rq_jobs.record_visit", source
            ).id
        elif via == "dramatiq":
            from visits.dramatiq_actors import record_visit as actor

            ref = actor.send(source).message_id
        else:
            from django_q.tasks import async_task

            ref = async_task("visits.core.record_visit", source)
        self.stdout.write(f"enqueued record_visit({source!r}) via {via}: {ref}")
