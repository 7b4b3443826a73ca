"""The ``gunicorn`` backend: the pre-fork WSGI server (also ASGI through uvicorn's worker)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prodserver.backends import common, django
from prodserver.backends.base import BackendContext, Option


class GunicornBackend(common.BoundServer):
    name = "gunicorn"
    summary = "Gunicorn, the pre-fork WSGI server (gunicorn APP --bind 0.0.0.0:$PORT)."
    kind = "web"
    extra = "gunicorn"
    requires = ("gunicorn",)
    # stop: the default SIGTERM to the main process is gunicorn's graceful shutdown: the arbiter
    # stops accepting, lets workers finish their requests for graceful_timeout, then exits.
    # Signalling the workers directly would make the arbiter respawn them.
    options = (
        common.WSGI_APP,
        Option(
            "bind",
            "string",
            "Address to listen on: `HOST:PORT`, `unix:PATH` or `fd://N`. Default `0.0.0.0:$PORT`.",
            flag="--bind",
            examples=("127.0.0.1:8000", "unix:/run/shop.sock"),
        ),
        Option("workers", "integer", "Number of worker processes.", flag="--workers", minimum=1),
        Option(
            "worker_class",
            "string",
            "Worker class: `sync`, `gthread`, `gevent`, `eventlet`, `tornado`, or a dotted path "
            "such as `uvicorn.workers.UvicornWorker`.",
            flag="--worker-class",
        ),
        Option("threads", "integer", "Threads per worker (gthread).", flag="--threads", minimum=1),
        Option(
            "worker_connections",
            "integer",
            "Maximum simultaneous clients per worker (async workers).",
            flag="--worker-connections",
            minimum=1,
        ),
        Option(
            "timeout",
            "duration",
            "Workers silent for longer are killed and restarted (whole seconds, rounded up).",
            flag="--timeout",
            minimum=0,
        ),
        Option(
            "graceful_timeout",
            "duration",
            "Time workers get to finish their requests on stop (whole seconds, rounded up). "
            "Keep it below `stop_timeout`.",
            flag="--graceful-timeout",
            minimum=0,
        ),
        Option(
            "keep_alive",
            "duration",
            "How long to wait for the next request on a keep-alive connection.",
            flag="--keep-alive",
            minimum=0,
        ),
        Option(
            "max_requests",
            "integer",
            "Restart a worker after this many requests (a cap on memory leaks); 0 disables.",
            flag="--max-requests",
            minimum=0,
        ),
        Option(
            "max_requests_jitter",
            "integer",
            "Random extra requests added to max_requests so workers do not restart together.",
            flag="--max-requests-jitter",
            minimum=0,
        ),
        Option("backlog", "integer", "Maximum pending connections.", flag="--backlog", minimum=1),
        Option(
            "preload",
            "boolean",
            "Load the application before forking the workers.",
            flag="--preload",
        ),
        Option(
            "reload",
            "boolean",
            "Restart workers when code changes (development only).",
            flag="--reload",
        ),
        Option(
            "worker_tmp_dir",
            "string",
            "Directory for the worker heartbeat files; `/dev/shm` avoids stalls in containers.",
            flag="--worker-tmp-dir",
        ),
        Option(
            "forwarded_allow_ips",
            "string",
            "Front-end IPs allowed to set secure headers (comma-separated, `*` for all).",
            flag="--forwarded-allow-ips",
        ),
        Option(
            "access_logfile",
            "string",
            "Access log file; `-` writes to standard output.",
            flag="--access-logfile",
        ),
        Option(
            "access_logformat",
            "string",
            "Access log format (gunicorn's `%(h)s` ... atoms).",
            flag="--access-logformat",
        ),
        Option(
            "error_logfile",
            "string",
            "Error log file; `-` is standard error.",
            flag="--error-logfile",
        ),
        Option(
            "log_level",
            "enum",
            "Error log level.",
            flag="--log-level",
            choices=common.LOGGING_LEVELS,
            ignore_case=True,  # gunicorn lower-cases the level itself
        ),
        Option("certfile", "string", "TLS certificate file.", flag="--certfile"),
        Option("keyfile", "string", "TLS private key file.", flag="--keyfile"),
        Option("proc_name", "string", "Process title (shown by ps/top).", flag="--name"),
        Option(
            "config",
            "string",
            "A gunicorn configuration file (`gunicorn.conf.py`) or `python:module`.",
            flag="--config",
        ),
    )

    def argv(self, values: Mapping[str, Any], ctx: BackendContext) -> list[str]:
        app = values.get("app") or django.application(ctx, "wsgi")
        seconds = dict.fromkeys(("timeout", "graceful_timeout", "keep_alive"), common.int_seconds)
        bind = common.bind_address(values, ctx)
        return [
            "gunicorn",
            *common.declared_argv(self, {**values, "bind": bind}, skip=("app",), convert=seconds),
            common.positional("app", app),
        ]
