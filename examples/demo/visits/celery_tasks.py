"""The task for Celery (the app in demo/celery.py includes this module)."""

from celery import shared_task

from visits import core


@shared_task(name="visits.celery_tasks.record_visit")
def record_visit(source: str, work: int = 0) -> int:
    return core.record_visit(source, work)
