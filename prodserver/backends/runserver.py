"""The ``runserver`` backend: Django's development server (``manage.py runserver``)."""

from __future__ import annotations

import signal
from collections.abc import Mapping
from typing import Any

from prodserver.backends.base import Backend, BackendContext, Option, ProbeDefault
from prodserver.backends.common import (
    LOOPBACK_HOST,
    bind_address,
    declared_argv,
    positional,
    tcp_probe,
)
from prodserver.backends.django import MANAGE_OPTION, manage_command


class RunserverBackend(Backend):
    name = "runserver"
    summary = "Django's development server (python manage.py runserver 127.0.0.1:$PORT --noreload)."
    kind = "web"
    extra = "django"
    requires = ("django",)
    listens = True
    # Ctrl-C is how runserver is meant to be stopped: it exits 0 on SIGINT, while SIGTERM kills
    # it with 143. The group is signalled because with `reload = true` Django's autoreloader
    # runs the server in a child process that must stop too.
    stop_signal = signal.SIGINT
    kill_mode = "group"
    options = (
        MANAGE_OPTION,
        Option(
            "bind",
            "string",
            "`ADDR:PORT` to listen on. Default `127.0.0.1:$PORT` (loopback, as Django's own).",
            positional=True,
            examples=("0.0.0.0:8000",),
        ),
        Option(
            "reload",
            "boolean",
            "Django's autoreloader. Off by default: prodserver supervises the process, and the "
            "reloader's extra process hides crashes from it.",
            flag=None,
            default=False,
        ),
        Option(
            "threading",
            "boolean",
            "Serve each request in a thread (false: `--nothreading`).",
            flag=None,
        ),
        Option("ipv6", "boolean", "Use IPv6 (`[::1]` by default).", flag="--ipv6"),
        Option(
            "insecure",
            "boolean",
            "Serve static files even with DEBUG off (django.contrib.staticfiles).",
            flag="--insecure",
        ),
        Option(
            "skip_checks", "boolean", "Skip Django's system checks at start.", flag="--skip-checks"
        ),
    )

    @staticmethod
    def _address(values: Mapping[str, Any], ctx: BackendContext) -> str:
        host = "[::1]" if values.get("ipv6") else LOOPBACK_HOST
        return bind_address(values, ctx, host=host)

    def argv(self, values: Mapping[str, Any], ctx: BackendContext) -> list[str]:
        address = self._address(values, ctx)
        argv = [*manage_command(values, ctx, "runserver"), positional("bind", address)]
        if not values.get("reload", False):
            argv.append("--noreload")
        if values.get("threading") is False:
            argv.append("--nothreading")
        return argv + declared_argv(self, values, skip=("manage", "bind"))

    def default_healthcheck(
        self, values: Mapping[str, Any], ctx: BackendContext
    ) -> ProbeDefault | None:
        return tcp_probe(self._address(values, ctx))
