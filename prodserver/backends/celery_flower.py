"""The ``celery-flower`` backend: Flower, the Celery monitoring web UI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prodserver.backends.base import Backend, BackendContext, Option, ProbeDefault
from prodserver.backends.celery_common import APP, BROKER, GLOBAL, celery_prefix
from prodserver.backends.common import bind_address, declared_argv, host_port, http_probe


class CeleryFlowerBackend(Backend):
    name = "celery-flower"
    summary = "Flower, the Celery monitor (celery -A APP flower --address=0.0.0.0 --port=$PORT)."
    kind = "monitor"
    extra = "flower"
    requires = ("celery", "flower")
    listens = True
    # stop: the default SIGTERM to the main process suits Flower: its handler stops the Tornado
    # loop, and it is a single process.
    options = (
        APP,
        BROKER,
        Option("bind", "string", "`HOST:PORT` to listen on. Default `0.0.0.0:$PORT`."),
        Option(
            "url_prefix",
            "string",
            "Serve below this path (behind a proxy).",
            flag="--url_prefix",
            equals=True,
        ),
        Option(
            "basic_auth",
            "list",
            "`user:password` pairs allowed in (prefer a secret variable: `${FLOWER_AUTH}`).",
            flag="--basic_auth",
            join=",",
            equals=True,
        ),
        Option(
            "broker_api",
            "string",
            "Broker management API URL (RabbitMQ).",
            flag="--broker_api",
            equals=True,
        ),
        Option(
            "persistent", "boolean", "Keep state in `db` across restarts.", flag="--persistent=True"
        ),
        Option("db", "string", "State file used with `persistent`.", flag="--db", equals=True),
        Option(
            "max_tasks",
            "integer",
            "Tasks kept in memory.",
            flag="--max_tasks",
            equals=True,
            minimum=1,
        ),
        Option(
            "purge_offline_workers",
            "integer",
            "Forget workers offline for this many seconds.",
            flag="--purge_offline_workers",
            equals=True,
            minimum=1,
        ),
    )

    def argv(self, values: Mapping[str, Any], ctx: BackendContext) -> list[str]:
        host, port = host_port(values, ctx)
        return [
            *celery_prefix(values, ctx, "flower"),
            f"--address={host}",
            f"--port={port}",
            *declared_argv(self, values, skip=(*GLOBAL, "bind")),
        ]

    def default_healthcheck(
        self, values: Mapping[str, Any], ctx: BackendContext
    ) -> ProbeDefault | None:
        # Flower answers "OK" on /healthcheck below its url_prefix
        prefix = str(values.get("url_prefix") or "").strip("/")
        path = f"/{prefix}/healthcheck" if prefix else "/healthcheck"
        return http_probe(bind_address(values, ctx), path)
