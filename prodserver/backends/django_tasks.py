"""The ``django-tasks`` backend: ``manage.py db_worker`` for the database task backend."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prodserver.backends.base import Backend, BackendContext, Option
from prodserver.backends.common import declared_argv
from prodserver.backends.django import MANAGE_OPTION, manage_command


class DjangoTasksBackend(Backend):
    name = "django-tasks"
    summary = "The Django Tasks database worker (python manage.py db_worker): no broker needed."
    kind = "worker"
    extra = "django-tasks"
    requires = ("django", "django_tasks_db")
    # stop: db_worker finishes the task in hand on the default SIGTERM. The group is signalled
    # because with `reload = true` the worker runs in a child of Django's autoreloader.
    kill_mode = "group"
    options = (
        MANAGE_OPTION,
        Option(
            "queues",
            "list",
            'Queues to process (`["*"]` for all; default `default`).',
            flag="--queue-name",
            join=",",
        ),
        Option(
            "exclude_queues", "list", "Queues not to process.", flag="--exclude-queues", join=","
        ),
        Option(
            "interval",
            "duration",
            "Pause between polls when the queue is empty (default 1s).",
            flag="--interval",
            minimum=0,
        ),
        Option("batch", "boolean", "Run the outstanding tasks, then exit.", flag="--batch"),
        Option(
            "max_tasks", "integer", "Exit after this many tasks.", flag="--max-tasks", minimum=1
        ),
        Option(
            "tasks_backend",
            "string",
            "The TASKS backend alias to work for (default `default`).",
            flag="--backend",
        ),
        Option("worker_id", "string", "Worker id, unique across workers.", flag="--worker-id"),
        Option(
            "reload",
            "boolean",
            "Restart on code changes. Off by default (db_worker would turn it on with DEBUG): "
            "tasks may not stop cleanly, and prodserver supervises the process.",
            flag="--reload",
            negative_flag="--no-reload",
            default=False,
        ),
        Option(
            "startup_delay",
            "boolean",
            "Wait a random moment at start so that many workers do not poll together "
            "(false: `--no-startup-delay`).",
        ),
        Option(
            "verbosity", "integer", "Verbosity, 0 to 3.", flag="--verbosity", minimum=0, maximum=3
        ),
    )

    def argv(self, values: Mapping[str, Any], ctx: BackendContext) -> list[str]:
        argv = [
            *manage_command(values, ctx, "db_worker"),
            *declared_argv(self, values, skip=("manage",)),
        ]
        if values.get("startup_delay") is False:
            argv.append("--no-startup-delay")
        return argv

    def missing_requirements(self) -> list[str]:
        # The database backend moved from django-tasks into django-tasks-db (0.12); a project
        # on an older django-tasks still has it in django_tasks.backends.database.
        missing = super().missing_requirements()
        if "django_tasks_db" in missing and _legacy_database_backend():
            missing.remove("django_tasks_db")
        return missing


def _legacy_database_backend() -> bool:
    """Whether an installed django-tasks < 0.12 ships the database backend (no import)."""
    try:
        spec = importlib.util.find_spec("django_tasks")
    except (ImportError, ValueError):
        return False
    if spec is None or not spec.submodule_search_locations:
        return False
    return any(
        (Path(location) / "backends" / "database").is_dir()
        for location in spec.submodule_search_locations
    )
