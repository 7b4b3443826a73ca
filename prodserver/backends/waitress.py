"""The ``waitress`` backend: the pure-Python multi-threaded WSGI server."""

from __future__ import annotations

import signal
from collections.abc import Mapping
from typing import Any

from prodserver.backends import common, django
from prodserver.backends.base import BackendContext, Option, ProbeDefault


class WaitressBackend(common.BoundServer):
    name = "waitress"
    summary = "Waitress, the pure-Python WSGI server (waitress-serve --listen=0.0.0.0:$PORT APP)."
    kind = "web"
    extra = "waitress"
    requires = ("waitress",)
    # Waitress installs no SIGTERM handler (SIGTERM kills it on the spot); SIGINT raises
    # KeyboardInterrupt in its loop, which shuts the task dispatcher down and lets the
    # running requests finish: that is its graceful stop (to the main process, the default).
    stop_signal = signal.SIGINT
    options = (
        common.WSGI_APP,
        Option(
            "bind",
            "string",
            "Address to listen on: `HOST:PORT` (`*:PORT` for all) or `unix:PATH`. "
            "Default `0.0.0.0:$PORT`.",
        ),
        Option("threads", "integer", "Worker threads.", flag="--threads", equals=True, minimum=1),
        Option(
            "connection_limit",
            "integer",
            "Maximum simultaneous connections.",
            flag="--connection-limit",
            equals=True,
            minimum=1,
        ),
        Option(
            "channel_timeout",
            "duration",
            "Close a connection inactive for this long (whole seconds, rounded up).",
            flag="--channel-timeout",
            equals=True,
            minimum=0,
        ),
        Option(
            "backlog",
            "integer",
            "Maximum pending connections.",
            flag="--backlog",
            equals=True,
            minimum=1,
        ),
        Option(
            "url_scheme",
            "enum",
            "The wsgi.url_scheme to report (`https` behind a TLS proxy).",
            flag="--url-scheme",
            equals=True,
            choices=("http", "https"),
        ),
        Option(
            "url_prefix",
            "string",
            "SCRIPT_NAME when mounted below a path.",
            flag="--url-prefix",
            equals=True,
        ),
        Option("ident", "string", "Server header value.", flag="--ident", equals=True),
        Option(
            "max_request_body_size",
            "size",
            "Largest request body accepted.",
            flag="--max-request-body-size",
            equals=True,
            minimum=0,
        ),
        Option(
            "expose_tracebacks",
            "boolean",
            "Show tracebacks of unhandled exceptions to the client (never in production).",
            flag="--expose-tracebacks",
            negative_flag="--no-expose-tracebacks",
        ),
        Option(
            "call", "boolean", "`app` is a factory: call it to get the application.", flag="--call"
        ),
    )

    def argv(self, values: Mapping[str, Any], ctx: BackendContext) -> list[str]:
        app = values.get("app") or django.application(ctx, "wsgi")
        bind = common.bind_address(values, ctx)
        if common.is_unix(bind):
            where = f"--unix-socket={bind.removeprefix(common.UNIX_PREFIX)}"
        else:
            where = f"--listen={bind}"
        return [
            "waitress-serve",
            where,
            *common.declared_argv(
                self, values, skip=("app", "bind"), convert={"channel_timeout": common.int_seconds}
            ),
            common.positional("app", app),
        ]

    def default_healthcheck(
        self, values: Mapping[str, Any], ctx: BackendContext
    ) -> ProbeDefault | None:
        # the BoundServer probe, but waitress's `*:PORT` (every interface) is no address to dial
        return common.tcp_probe(common.bind_address(values, ctx).replace("*:", "0.0.0.0:", 1))
