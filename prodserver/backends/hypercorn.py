"""The ``hypercorn`` backend: the ASGI server with HTTP/2 and HTTP/3 (QUIC)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prodserver import codes
from prodserver.backends import common, django
from prodserver.backends.base import BackendContext, Option
from prodserver.errors import ConfigError


class HypercornBackend(common.BoundServer):
    name = "hypercorn"
    summary = (
        "Hypercorn, the ASGI server with HTTP/2 and HTTP/3 (hypercorn --bind 0.0.0.0:$PORT APP)."
    )
    kind = "web"
    extra = "hypercorn"
    requires = ("hypercorn",)
    # stop: the default SIGTERM to the main process starts hypercorn's graceful shutdown
    # (graceful_timeout); with several workers the main process stops them itself.
    options = (
        common.ASGI_APP,
        Option(
            "bind",
            "string",
            "Address to listen on (TLS when `certfile` is set): `HOST:PORT`, `unix:PATH` or "
            "`fd://N`. Default `0.0.0.0:$PORT`.",
            flag="--bind",
        ),
        Option(
            "insecure_bind",
            "list",
            "Extra plain-HTTP addresses when `bind` serves TLS (e.g. for redirects).",
            flag="--insecure-bind",
        ),
        Option(
            "quic_bind",
            "list",
            "UDP addresses to serve HTTP/3 over QUIC on; needs `certfile` and `keyfile`.",
            flag="--quic-bind",
            examples=('["0.0.0.0:4433"]',),
        ),
        Option(
            "certfile",
            "string",
            "TLS certificate file (enables HTTPS and HTTP/2).",
            flag="--certfile",
        ),
        Option("keyfile", "string", "TLS private key file.", flag="--keyfile"),
        Option("ca_certs", "string", "CA certificates to verify clients with.", flag="--ca-certs"),
        Option("workers", "integer", "Number of worker processes.", flag="--workers", minimum=1),
        Option(
            "worker_class",
            "enum",
            "Worker class (event loop).",
            flag="--worker-class",
            choices=("asyncio", "uvloop", "trio"),
        ),
        Option(
            "keep_alive",
            "duration",
            "Close idle keep-alive connections after this long (whole seconds, rounded up).",
            flag="--keep-alive",
            minimum=0,
        ),
        Option(
            "graceful_timeout",
            "duration",
            "Time open requests get on stop (whole seconds, rounded up). "
            "Keep it below `stop_timeout`.",
            flag="--graceful-timeout",
            minimum=0,
        ),
        Option(
            "read_timeout",
            "duration",
            "Close a connection that sends nothing for this long (whole seconds, rounded up).",
            flag="--read-timeout",
            minimum=0,
        ),
        Option(
            "max_requests",
            "integer",
            "Restart a worker after this many requests.",
            flag="--max-requests",
            minimum=1,
        ),
        Option("backlog", "integer", "Maximum pending connections.", flag="--backlog", minimum=1),
        Option(
            "root_path", "string", "ASGI root_path when mounted below a path.", flag="--root-path"
        ),
        Option(
            "server_names",
            "list",
            "Host names to answer for (others get 404).",
            flag="--server-name",
        ),
        Option(
            "access_logfile",
            "string",
            "Access log target; `-` is standard output.",
            flag="--access-logfile",
        ),
        Option("access_logformat", "string", "Access log format.", flag="--access-logformat"),
        Option(
            "error_logfile",
            "string",
            "Error log target; `-` is standard error.",
            flag="--error-logfile",
        ),
        Option(
            "log_level", "enum", "Log level.", flag="--log-level", choices=common.LOGGING_LEVELS
        ),
        Option(
            "config",
            "string",
            "A hypercorn configuration: `file.toml`, `python:module` or `file:path.py`.",
            flag="--config",
        ),
        Option("reload", "boolean", "Reload on code changes (development only).", flag="--reload"),
    )

    def argv(self, values: Mapping[str, Any], ctx: BackendContext) -> list[str]:
        app = values.get("app") or django.application(ctx, "asgi")
        if values.get("quic_bind") and not (values.get("certfile") and values.get("keyfile")):
            raise ConfigError(
                f"process {ctx.process!r}: quic_bind needs certfile and keyfile "
                "(HTTP/3 runs over TLS only)",
                hint="set certfile and keyfile, or remove quic_bind",
                code=codes.OPTIONS_CONFLICT,
            )
        seconds = dict.fromkeys(
            ("keep_alive", "graceful_timeout", "read_timeout"), common.int_seconds
        )
        bind = common.bind_address(values, ctx)
        return [
            "hypercorn",
            *common.declared_argv(self, {**values, "bind": bind}, skip=("app",), convert=seconds),
            common.positional("app", app),
        ]
