"""The ``django-q2`` backend: ``manage.py qcluster``, the Django Q2 task cluster."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prodserver.backends.base import Backend, BackendContext, Option
from prodserver.backends.common import declared_argv
from prodserver.backends.django import MANAGE_OPTION, manage_command


class DjangoQ2Backend(Backend):
    name = "django-q2"
    summary = "A Django Q2 cluster (python manage.py qcluster): workers, monitor and scheduler."
    kind = "worker"
    extra = "django-q2"
    requires = ("django", "django_q")
    # stop: the default SIGTERM to the main process suits the cluster: its main process catches
    # it and stops its sentinel, which lets the workers finish their tasks; the children manage
    # their own signals (they ignore SIGINT).
    options = (
        MANAGE_OPTION,
        Option(
            "cluster_name",
            "string",
            "Cluster name instead of Q_CLUSTER['name'] (for multi-queue setups).",
            flag="--name",
        ),
        Option("run_once", "boolean", "Run once, then stop.", flag="--run-once"),
        Option(
            "verbosity", "integer", "Verbosity, 0 to 3.", flag="--verbosity", minimum=0, maximum=3
        ),
    )

    def argv(self, values: Mapping[str, Any], ctx: BackendContext) -> list[str]:
        return [
            *manage_command(values, ctx, "qcluster"),
            *declared_argv(self, values, skip=("manage",)),
        ]
