"""Pieces shared by the built-in backends: bind addresses, positionals, probes, units.

Everything here is pure: it looks only at option values and the :class:`BackendContext`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias

from prodserver import codes, hostport
from prodserver.backends.base import Backend, BackendContext, Option, ProbeDefault, flag_args
from prodserver.errors import ConfigError
from prodserver.template import Deferred

#: production servers listen on every interface by default (they run behind a proxy or in a
#: container); the Django development server only on loopback, as Django itself does
PUBLIC_HOST = "0.0.0.0"  # noqa: S104 - binding every interface is the documented default
LOOPBACK_HOST = "127.0.0.1"

#: the port used when neither PORT nor an assigned port is known (a bare ``argv()`` call)
FALLBACK_PORT = "8000"

UNIX_PREFIX = "unix:"

#: the level names of Python's logging, lowest first: what gunicorn's and hypercorn's
#: ``--log-level`` take
LOGGING_LEVELS = ("debug", "info", "warning", "error", "critical")

# Options several servers declare the same way: written once, shared by their backends.

#: the application of a WSGI server (gunicorn, waitress)
WSGI_APP = Option(
    "app",
    "string",
    "The WSGI application as `module:attribute`. Default: the Django project's "
    "WSGI_APPLICATION when DJANGO_SETTINGS_MODULE is set.",
    positional=True,
    examples=("shop.wsgi:application",),
)
#: the application of an ASGI server (uvicorn, hypercorn)
ASGI_APP = Option(
    "app",
    "string",
    "The ASGI application as `module:attribute`. Default: the Django project's "
    "ASGI_APPLICATION when DJANGO_SETTINGS_MODULE is set.",
    positional=True,
    examples=("shop.asgi:application",),
)
#: where a server that takes host and port as two flags listens (uvicorn, granian, daphne); see
#: :func:`listen_flags`
HOST_PORT_OR_UNIX_BIND = Option(
    "bind",
    "string",
    "Address to listen on: `HOST:PORT` or `unix:PATH`. Default `0.0.0.0:$PORT`.",
    examples=("127.0.0.1:8000", "unix:/run/shop.sock"),
)
#: `--access-log` / `--no-access-log` (uvicorn, granian)
ACCESS_LOG = Option(
    "access_log",
    "boolean",
    "Write the access log (false: `--no-access-log`).",
    flag="--access-log",
    negative_flag="--no-access-log",
)


def port_text(ctx: BackendContext) -> str:
    """This instance's port as text.

    ``PORT`` stays text on purpose: in exports it is the reference ``${PORT}``, which must reach
    the argv untouched so that the platform (Heroku, Compose, systemd) fills it in.
    """
    port = ctx.env.get("PORT")
    if port:
        return port
    if ctx.port is not None:
        return str(ctx.port)
    return FALLBACK_PORT


def bind_address(values: Mapping[str, Any], ctx: BackendContext, host: str = PUBLIC_HOST) -> str:
    """The user's ``bind`` or ``HOST:$PORT``."""
    bind = values.get("bind")
    if bind:
        return str(bind)
    return f"{host}:{port_text(ctx)}"


def split_bind(bind: str) -> tuple[str, str]:
    """``"host:port"`` (or ``"[v6]:port"``) into host and port; the port may be ``${PORT}``.

    The grammar is :func:`prodserver.hostport.split_bind`; a malformed bind is PS222.
    """
    try:
        return hostport.split_bind(bind)
    except hostport.AddressError as exc:
        raise ConfigError(f"bind {bind!r}: {exc}", code=codes.BAD_BIND) from None


def host_port(
    values: Mapping[str, Any], ctx: BackendContext, host: str = PUBLIC_HOST
) -> tuple[str, str]:
    """Host and port for servers that take them as two flags (uvicorn, granian, daphne)."""
    bind = values.get("bind")
    if not bind:
        return host, port_text(ctx)
    bound_host, bound_port = split_bind(str(bind))
    return bound_host or host, bound_port or port_text(ctx)


def listen_flags(
    values: Mapping[str, Any],
    ctx: BackendContext,
    *,
    unix: str = "--uds",
    host: str = "--host",
    port: str = "--port",
) -> list[str]:
    """The flags of :data:`HOST_PORT_OR_UNIX_BIND`: a Unix socket's path, or host and port."""
    bind = bind_address(values, ctx)
    if is_unix(bind):
        return [unix, bind.removeprefix(UNIX_PREFIX)]
    bound_host, bound_port = host_port(values, ctx)
    return [host, bound_host, port, bound_port]


def is_unix(bind: str) -> bool:
    return bind.startswith(UNIX_PREFIX)


def tcp_probe(bind: str, start_period: float = 0.0) -> ProbeDefault | None:
    """A TCP readiness probe on ``bind``; a wildcard host is probed on loopback."""
    if is_unix(bind) or bind.startswith("fd://"):
        return None
    host, port = split_bind(bind)
    if not port:
        return None
    if host in ("", "0.0.0.0", "*"):  # noqa: S104 - mapping the wildcard to loopback
        host = LOOPBACK_HOST
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return ProbeDefault("tcp", f"{host}:{port}", start_period=start_period)


def http_probe(bind: str, path: str, start_period: float = 0.0) -> ProbeDefault | None:
    """An HTTP probe of ``path`` on the address ``bind`` listens on."""
    tcp = tcp_probe(bind, start_period)
    if tcp is None:
        return None
    return ProbeDefault("http", f"http://{tcp.target}{path}", start_period=start_period)


def positional(name: str, value: Any) -> str:
    """``value`` as a positional argument, refusing text the program would read as a flag.

    The schema already refuses these (``positional=True``); this is the second line of defence
    for callers that build argv without it (plugins, tests, exports of hand-made models).
    """
    text = str(value)
    if text.startswith("-"):
        raise ConfigError(
            f"option {name!r} is {text!r}: a value starting with '-' would be read as a flag",
            hint=f"use `args` for flags; {name!r} takes a name such as 'project.wsgi:application'",
            code=codes.LEADING_DASH,
        )
    return text


def deferred(value: Any, convert: Callable[[Any], str]) -> str:
    """``convert(value)``, or a value left to the platform (:class:`Deferred`) as it is.

    A value known only where an export runs cannot be converted here: the platform's value
    must already be in the flag's unit (the resolver accepts only one whole reference there).
    """
    return value if isinstance(value, Deferred) else convert(value)


def int_seconds(value: Any) -> str:
    """A duration for servers whose flag takes whole seconds only (rounded up: never shorter)."""
    return deferred(value, lambda v: str(math.ceil(float(v))))


def int_millis(value: Any) -> str:
    """A duration for flags that take milliseconds."""
    return deferred(value, lambda v: str(round(float(v) * 1000)))


def kib(value: Any) -> str:
    """A size in bytes as whole KiB (celery's ``--max-memory-per-child`` unit), rounded up."""
    return deferred(value, lambda v: str(math.ceil(int(v) / 1024)))


def mib(value: Any) -> str:
    """A size in bytes as whole MiB (granian's ``--workers-max-rss`` unit), rounded up."""
    return deferred(value, lambda v: str(math.ceil(int(v) / (1024 * 1024))))


def emit(opt: Option, text: str) -> list[str]:
    """One flag with a value already turned into text, honouring ``equals``."""
    assert opt.flag is not None, opt.name
    return [f"{opt.flag}={text}"] if opt.equals else [opt.flag, text]


#: per option name, the conversion of its value into the unit its flag takes
Units: TypeAlias = Mapping[str, Callable[[Any], str]]


def declared_argv(
    backend: Backend,
    values: Mapping[str, Any],
    *,
    skip: Sequence[str] = (),
    convert: Units | None = None,
) -> list[str]:
    """Like :func:`standard_argv`, with a unit conversion for the options named in ``convert``.

    Used where a server's flag takes another unit than the option's type (whole seconds,
    milliseconds, KiB): the option keeps its declared flag, so docs and ``prodserver backends``
    still show it.
    """
    convert = convert or {}
    out: list[str] = []
    for opt in backend.options:
        if opt.name in skip:
            continue
        value = values.get(opt.name, opt.default)
        if opt.name in convert and value is not None and opt.flag is not None:
            out += emit(opt, convert[opt.name](value))
        else:
            out += flag_args(opt, value)
    return out


class BoundServer(Backend):
    """A server that listens where its ``bind`` option (or the instance's PORT) says.

    It gets a PORT assigned, and its default readiness probe is a TCP connect to that address.
    """

    listens = True

    def default_healthcheck(
        self, values: Mapping[str, Any], ctx: BackendContext
    ) -> ProbeDefault | None:
        return tcp_probe(bind_address(values, ctx))
