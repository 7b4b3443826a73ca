"""The ``uvicorn`` backend: the ASGI server (``uvicorn APP --host H --port P``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prodserver.backends import common, django
from prodserver.backends.base import BackendContext, Option

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


class UvicornBackend(common.BoundServer):
    name = "uvicorn"
    summary = "Uvicorn, the ASGI server (uvicorn APP --host 0.0.0.0 --port $PORT)."
    kind = "web"
    extra = "uvicorn"
    requires = ("uvicorn",)
    # stop: the default SIGTERM to the main process makes uvicorn stop accepting, finish open
    # requests and run the lifespan shutdown; with --workers the parent forwards it itself.
    options = (
        common.ASGI_APP,
        common.HOST_PORT_OR_UNIX_BIND,
        Option("workers", "integer", "Number of worker processes.", flag="--workers", minimum=1),
        Option("loop", "enum", "Event loop.", flag="--loop", choices=("auto", "asyncio", "uvloop")),
        Option(
            "http",
            "enum",
            "HTTP protocol implementation.",
            flag="--http",
            choices=("auto", "h11", "httptools"),
        ),
        Option(
            "ws",
            "enum",
            "WebSocket implementation.",
            flag="--ws",
            choices=("auto", "websockets", "websockets-sansio", "wsproto"),
        ),
        Option(
            "lifespan",
            "enum",
            "ASGI lifespan events (Django does not support them: `off` silences the notice).",
            flag="--lifespan",
            choices=("auto", "on", "off"),
        ),
        Option(
            "interface",
            "enum",
            "Application interface.",
            flag="--interface",
            choices=("auto", "asgi3", "asgi2", "wsgi"),
        ),
        Option(
            "factory",
            "boolean",
            "`app` is a factory: call it to get the application.",
            flag="--factory",
        ),
        Option(
            "proxy_headers",
            "boolean",
            "Trust X-Forwarded-Proto/For from `forwarded_allow_ips` (false: ignore them).",
            flag="--proxy-headers",
            negative_flag="--no-proxy-headers",
        ),
        Option(
            "forwarded_allow_ips",
            "string",
            "IPs trusted to send proxy headers (comma-separated, `*` for all).",
            flag="--forwarded-allow-ips",
        ),
        Option(
            "root_path", "string", "ASGI root_path when mounted below a path.", flag="--root-path"
        ),
        Option(
            "limit_concurrency",
            "integer",
            "Maximum concurrent connections or tasks before answering 503.",
            flag="--limit-concurrency",
            minimum=1,
        ),
        Option(
            "limit_max_requests",
            "integer",
            "Restart a worker after this many requests.",
            flag="--limit-max-requests",
            minimum=1,
        ),
        Option("backlog", "integer", "Maximum pending connections.", flag="--backlog", minimum=1),
        Option(
            "timeout_keep_alive",
            "duration",
            "Close idle keep-alive connections after this long (whole seconds, rounded up).",
            flag="--timeout-keep-alive",
            minimum=0,
        ),
        Option(
            "timeout_graceful_shutdown",
            "duration",
            "Longest wait for open requests on stop (whole seconds, rounded up).",
            flag="--timeout-graceful-shutdown",
            minimum=0,
        ),
        Option("log_level", "enum", "Log level.", flag="--log-level", choices=LOG_LEVELS),
        common.ACCESS_LOG,
        Option("log_config", "string", "Logging configuration file.", flag="--log-config"),
        Option("ssl_certfile", "string", "TLS certificate file.", flag="--ssl-certfile"),
        Option("ssl_keyfile", "string", "TLS private key file.", flag="--ssl-keyfile"),
        Option(
            "headers",
            "list",
            "Default response headers, each `Name: value`.",
            flag="--header",
        ),
        Option("app_dir", "string", "Directory to import `app` from.", flag="--app-dir"),
        Option("reload", "boolean", "Reload on code changes (development only).", flag="--reload"),
    )

    def argv(self, values: Mapping[str, Any], ctx: BackendContext) -> list[str]:
        app = values.get("app") or django.application(ctx, "asgi")
        where = common.listen_flags(values, ctx)
        seconds = dict.fromkeys(
            ("timeout_keep_alive", "timeout_graceful_shutdown"), common.int_seconds
        )
        return [
            "uvicorn",
            common.positional("app", app),
            *where,
            *common.declared_argv(self, values, skip=("app", "bind"), convert=seconds),
        ]
