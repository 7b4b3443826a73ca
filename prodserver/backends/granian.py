"""The ``granian`` backend: the Rust HTTP server for WSGI, ASGI and RSGI applications."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prodserver.backends import common, django
from prodserver.backends.base import BackendContext, Option

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


class GranianBackend(common.BoundServer):
    name = "granian"
    summary = "Granian, the Rust HTTP server for WSGI and ASGI (granian --interface wsgi APP)."
    kind = "web"
    extra = "granian"
    requires = ("granian",)
    # stop: the default SIGTERM to the main process suits Granian, whose main process stops
    # its workers gracefully itself.
    options = (
        Option(
            "app",
            "string",
            "The application as `module:attribute`. Default: the Django project's "
            'WSGI_APPLICATION (or ASGI_APPLICATION with `interface = "asgi"`).',
            positional=True,
            examples=("shop.wsgi:application",),
        ),
        Option(
            "interface",
            "enum",
            "Application interface. Default `wsgi`, which is what Django projects serve.",
            flag="--interface",
            default="wsgi",
            choices=("wsgi", "asgi", "asginl", "rsgi"),
        ),
        common.HOST_PORT_OR_UNIX_BIND,
        Option("workers", "integer", "Number of worker processes.", flag="--workers", minimum=1),
        Option(
            "blocking_threads",
            "integer",
            "Blocking threads per worker (the WSGI thread pool).",
            flag="--blocking-threads",
            minimum=1,
        ),
        Option(
            "runtime_threads",
            "integer",
            "Runtime threads per worker.",
            flag="--runtime-threads",
            minimum=1,
        ),
        Option(
            "runtime_mode",
            "enum",
            "Runtime mode (single or multi threaded).",
            flag="--runtime-mode",
            choices=("auto", "mt", "st"),
        ),
        Option(
            "loop",
            "enum",
            "Event loop (ASGI/RSGI).",
            flag="--loop",
            choices=("auto", "asyncio", "rloop", "uvloop"),
        ),
        Option("http", "enum", "HTTP version.", flag="--http", choices=("auto", "1", "2")),
        Option(
            "websockets",
            "boolean",
            "Handle WebSockets (false: `--no-ws`).",
            flag="--ws",
            negative_flag="--no-ws",
        ),
        Option("backlog", "integer", "Maximum pending connections.", flag="--backlog", minimum=128),
        Option(
            "backpressure",
            "integer",
            "Maximum concurrent requests per worker.",
            flag="--backpressure",
            minimum=1,
        ),
        Option("log_level", "enum", "Log level.", flag="--log-level", choices=LOG_LEVELS),
        common.ACCESS_LOG,
        Option("ssl_certificate", "string", "TLS certificate file.", flag="--ssl-certificate"),
        Option("ssl_keyfile", "string", "TLS private key file (PKCS#8).", flag="--ssl-keyfile"),
        Option(
            "url_path_prefix",
            "string",
            "URL path prefix the application is mounted on.",
            flag="--url-path-prefix",
        ),
        Option(
            "respawn_failed_workers",
            "boolean",
            "Start a worker again when it dies unexpectedly.",
            flag="--respawn-failed-workers",
            negative_flag="--no-respawn-failed-workers",
        ),
        Option(
            "workers_lifetime",
            "duration",
            "Restart each worker after this long (at least 60s).",
            flag="--workers-lifetime",
            minimum=60,
        ),
        Option(
            "workers_max_rss",
            "size",
            "Restart a worker using more memory than this (granian counts whole MiB).",
            flag="--workers-max-rss",
            minimum=1,
        ),
        Option(
            "workers_kill_timeout",
            "duration",
            "Time workers get to stop gracefully before they are killed.",
            flag="--workers-kill-timeout",
            minimum=1,
        ),
        Option(
            "static_path_route",
            "string",
            "URL route of the static files served by granian itself.",
            flag="--static-path-route",
        ),
        Option(
            "static_path_mount",
            "string",
            "Directory of static files to serve (Django's STATIC_ROOT).",
            flag="--static-path-mount",
        ),
        Option(
            "factory",
            "boolean",
            "`app` is a factory: call it to get the application.",
            flag="--factory",
        ),
        Option("reload", "boolean", "Reload on code changes (development only).", flag="--reload"),
    )

    def argv(self, values: Mapping[str, Any], ctx: BackendContext) -> list[str]:
        interface = values.get("interface") or "wsgi"
        app = values.get("app") or django.application(
            ctx, "wsgi" if interface == "wsgi" else "asgi"
        )
        where = common.listen_flags(values, ctx)
        return [
            "granian",
            "--interface",
            interface,
            *where,
            *common.declared_argv(
                self,
                values,
                skip=("app", "bind", "interface"),
                convert={"workers_max_rss": common.mib},
            ),
            common.positional("app", app),
        ]
