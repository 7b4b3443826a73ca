"""The ``daphne`` backend: the Django Channels ASGI server (HTTP and WebSockets)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prodserver.backends import common, django
from prodserver.backends.base import BackendContext, Option


class DaphneBackend(common.BoundServer):
    name = "daphne"
    summary = "Daphne, the Django Channels ASGI server (daphne --bind 0.0.0.0 --port $PORT APP)."
    kind = "web"
    extra = "daphne"
    requires = ("daphne",)
    # stop: the default SIGTERM to the main process suits Daphne: it runs on Twisted, whose
    # reactor stops cleanly on SIGTERM, and it is a single process.
    options = (
        Option(
            "app",
            "string",
            "The ASGI application as `module:attribute`. Default: the Channels "
            "ASGI_APPLICATION setting (or `<project>.asgi:application`) when "
            "DJANGO_SETTINGS_MODULE is set.",
            positional=True,
            examples=("shop.asgi:application",),
        ),
        common.HOST_PORT_OR_UNIX_BIND,
        Option(
            "endpoints",
            "list",
            "Twisted endpoint descriptions to listen on as well (`ssl:443:privateKey=key.pem:"
            "certKey=crt.pem`).",
            flag="--endpoint",
        ),
        Option(
            "proxy_headers",
            "boolean",
            "Use X-Forwarded-For/-Port to find the client address.",
            flag="--proxy-headers",
        ),
        Option(
            "http_timeout",
            "duration",
            "Longest time a request may take (whole seconds, rounded up).",
            flag="--http-timeout",
            minimum=0,
        ),
        Option(
            "websocket_timeout",
            "duration",
            "Longest life of a WebSocket connection (whole seconds, rounded up).",
            flag="--websocket_timeout",
            minimum=0,
        ),
        Option(
            "websocket_connect_timeout",
            "duration",
            "Longest wait for a WebSocket handshake (whole seconds, rounded up).",
            flag="--websocket_connect_timeout",
            minimum=0,
        ),
        Option(
            "ping_interval",
            "duration",
            "WebSocket ping interval (whole seconds, rounded up).",
            flag="--ping-interval",
            minimum=0,
        ),
        Option(
            "ping_timeout",
            "duration",
            "Close a WebSocket that does not answer a ping within this (whole seconds).",
            flag="--ping-timeout",
            minimum=0,
        ),
        Option(
            "application_close_timeout",
            "duration",
            "Time the application gets to close a connection (whole seconds, rounded up).",
            flag="--application-close-timeout",
            minimum=0,
        ),
        Option(
            "root_path", "string", "ASGI root_path when mounted below a path.", flag="--root-path"
        ),
        Option(
            "access_log", "string", "Access log file; `-` is standard output.", flag="--access-log"
        ),
        Option(
            "verbosity",
            "integer",
            "Log verbosity, 0 to 3.",
            flag="--verbosity",
            minimum=0,
            maximum=3,
        ),
        Option("server_name", "string", "Server header value.", flag="--server-name"),
    )

    _SECONDS = (
        "http_timeout",
        "websocket_timeout",
        "websocket_connect_timeout",
        "ping_interval",
        "ping_timeout",
        "application_close_timeout",
    )

    def argv(self, values: Mapping[str, Any], ctx: BackendContext) -> list[str]:
        app = values.get("app") or django.application(ctx, "asgi")
        where = common.listen_flags(values, ctx, unix="--unix-socket", host="--bind")
        return [
            "daphne",
            *where,
            *common.declared_argv(
                self,
                values,
                skip=("app", "bind"),
                convert=dict.fromkeys(self._SECONDS, common.int_seconds),
            ),
            common.positional("app", app),
        ]
