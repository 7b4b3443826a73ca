"""The one task of the demo, as a plain function. Each worker family wraps it in its own module
(``tasks`` for django-tasks, ``celery_tasks``, ``rq_jobs``, ``dramatiq_actors``; Django Q2
calls this function directly by its dotted path).
"""

from visits.models import Visit


def record_visit(source: str) -> int:
    """Write one row saying ``source`` ran the task; return its id."""
    return Visit.objects.create(source=source).pk
