"""The one ``host:port`` grammar of prodserver: binds, TCP health targets, ``--metrics``.

``HOST:PORT`` with an IPv6 host in brackets (``[::1]:8000``), the way URLs, gunicorn, uvicorn
and Docker write it. Two readings of the same grammar:

* :func:`split_bind` keeps both parts as text: a bind's port may be an expression
  (``0.0.0.0:${PORT:-8000}``) or absent (``example.org``), which its caller decides about;
* :func:`split_host_port` wants a real port number and says exactly what is wrong otherwise.

:func:`join_host_port` writes an address back, bracketing an IPv6 host. Every failure is an
:class:`AddressError` (a :class:`ValueError`) whose message names the problem; each caller turns
it into its own error (a configuration error with a code, a usage error for an option).
"""

from __future__ import annotations

#: the host of an address that names only a port (``:9191``, or ``9191`` where allowed)
LOOPBACK = "127.0.0.1"
#: a port is at most this many digits before it is even converted (no ``int()`` of a huge text)
_MAX_PORT_DIGITS = 5
#: how much of a bad port a message quotes (a port may be pasted garbage, or a secret)
_MAX_SHOWN = 12
_EXAMPLE = "expected HOST:PORT such as 127.0.0.1:8000 or [::1]:8000"


class AddressError(ValueError):
    """A ``host:port`` text that cannot be read; the message says why."""


def split_bind(bind: str) -> tuple[str, str]:
    """``"host:port"`` or ``"[v6]:port"`` into host and port text; the port may be absent.

    A bracketed IPv6 host ends at ``]``; an unbracketed host holds no colon, so the first colon
    ends it and the port part may be an expression with colons of its own (``${PORT:-8000}``).
    A bind without a colon is a bare host: the port is ``""``, which callers treat as "not
    given".
    """
    if bind.startswith("["):
        host, sep, rest = bind[1:].partition("]")
        if not sep:
            raise AddressError("missing ']' after the IPv6 address")
        if rest and not rest.startswith(":"):
            raise AddressError(f"expected ':' after ']', found {rest[:1]!r}")
        return host, rest.removeprefix(":")
    host, sep, port = bind.partition(":")
    if not sep:
        return bind, ""
    return host, port


def split_host_port(
    text: str,
    *,
    default_host: str = LOOPBACK,
    bare_port: bool = False,
    allow_zero: bool = False,
) -> tuple[str, int]:
    """Host and port number of ``text``: ``127.0.0.1:8000``, ``[::1]:8000``, ``:8000``.

    An empty host is ``default_host``. ``bare_port`` also accepts a port alone (``9191``, as
    ``--metrics`` does); ``allow_zero`` accepts port 0 (let the system choose). An IPv6 address
    without brackets is refused: ``::1:8000`` could mean two different things.
    """
    text = text.strip()
    if bare_port and text.isascii() and text.isdigit():
        host, port = "", text
    elif not text.startswith("[") and text.count(":") > 1:
        raise AddressError(f"an IPv6 address needs brackets ({_EXAMPLE})")
    else:
        host, port = split_bind(text)
    if not port:
        raise AddressError(f"{text!r} has no port ({_EXAMPLE})")
    return host or default_host, _port_number(port, allow_zero=allow_zero)


def _port_number(port: str, *, allow_zero: bool) -> int:
    shown = port if len(port) <= _MAX_SHOWN else port[:_MAX_SHOWN] + "..."
    if not (port.isascii() and port.isdigit()):
        raise AddressError(f"the port {shown!r} is not a number ({_EXAMPLE})")
    lowest = 0 if allow_zero else 1
    number = int(port) if len(port.lstrip("0")) <= _MAX_PORT_DIGITS else 65536
    if not lowest <= number <= 65535:
        raise AddressError(f"the port {shown} is out of range ({lowest}-65535)")
    return number


def join_host_port(host: str, port: str | int) -> str:
    """``host:port``, with an IPv6 host in brackets (``[::1]:8000``); a bracketed host is kept."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"
