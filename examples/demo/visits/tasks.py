"""The task for Django's tasks framework (django-tasks' ``db_worker`` runs it)."""

from django_tasks import task

from visits import core


@task()
def record_visit(source: str, work: int = 0) -> int:
    return core.record_visit(source, work)
