"""The one task of the demo, as a plain function. Each worker family wraps it in its own module
(``tasks`` for django-tasks, ``celery_tasks``, ``rq_jobs``, ``dramatiq_actors``; Django Q2
calls this function directly by its dotted path).
"""

import hashlib

from visits.models import Visit

#: one round of ``work``: SHA-256 over 64 KiB, a fixed amount of CPU (about 0.1 ms here)
_BLOCK = bytes(64 * 1024)


def record_visit(source: str, work: int = 0) -> int:
    """Write one row saying ``source`` ran the task; return its id.

    ``work`` rounds of hashing come first: ``bench/workers.py`` uses it for a task slightly
    heavier than a single INSERT.
    """
    digest = b""
    for _ in range(work):
        digest = hashlib.sha256(digest + _BLOCK).digest()
    return Visit.objects.create(source=source).pk
