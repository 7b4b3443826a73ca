"""Pre-start check: are the brokers and databases the environment names reachable (``PS303``).

Found in the environment as URLs: ``redis://`` and ``rediss://`` (a Redis ``PING`` over a raw
socket, with ``AUTH`` when the URL has a password; TLS ones are only connected to), and
``postgres://``, ``mysql://``, ``amqp://``, ``mongodb://``, ``memcache://`` (a TCP connect).
"""

from __future__ import annotations

import socket
import urllib.parse
from collections.abc import Iterable

from prodserver import codes
from prodserver.checks.report import Report
from prodserver.config.model import ProcessSpec, ResolvedProject
from prodserver.config.secrets import mask_url_passwords
from prodserver.errors import Location, Problem

#: default ports of the URL schemes checked by a TCP connect
SERVICE_PORTS = {
    "redis": 6379,
    "rediss": 6379,
    "postgres": 5432,
    "postgresql": 5432,
    "mysql": 3306,
    "mariadb": 3306,
    "amqp": 5672,
    "amqps": 5671,
    "mongodb": 27017,
    "memcache": 11211,
}


def service_urls(project: ResolvedProject, specs: Iterable[ProcessSpec]) -> dict[str, list[str]]:
    """URL -> names of the variables that hold it, for the schemes in :data:`SERVICE_PORTS`."""
    found: dict[str, list[str]] = {}
    envs = [project.env, *(inst.env for spec in specs for inst in spec.instances)]
    for env in envs:
        for name, value in env.items():
            scheme = value.partition("://")[0].lower()
            if "://" in value and scheme in SERVICE_PORTS:
                holders = found.setdefault(value, [])
                if name not in holders:
                    holders.append(name)
    return found


def mask(url: str) -> str:
    """``url`` without its password: the one URL rule, :func:`mask_url_passwords`.

    Not ``urllib``'s idea of the password: it stops at the first ``#``, ``/`` or ``?``, so
    ``redis://:pa#ss@cache`` would have printed ``ss@cache``.
    """
    return mask_url_passwords(url)


def check_service(url: str, timeout: float) -> str | None:
    """Why the service at ``url`` cannot be used, or None when it answers."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or "localhost"
        port = parts.port or SERVICE_PORTS[parts.scheme.lower()]
    except ValueError:  # "Invalid IPv6 URL", a port out of range or not a number
        # urllib's message may quote a piece of the URL: say what, not which text
        return (
            "the URL is malformed: its host or port cannot be read (a password holding "
            "'#', '/', '?' or '@' must be percent-encoded: %23, %2F, %3F, %40)"
        )
    scheme = parts.scheme.lower()
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            if scheme != "redis":
                return None
            sock.settimeout(timeout)
            return _redis_ping(sock, parts.username, parts.password)
    except TimeoutError:
        return f"no answer within {timeout:g}s"
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()


def _redis_command(*words: str) -> bytes:
    out = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


def _read_line(sock: socket.socket) -> str:
    data = b""
    while not data.endswith(b"\r\n") and len(data) < 4096:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace").strip()


def _redis_ping(sock: socket.socket, user: str | None, password: str | None) -> str | None:
    if password:
        words = (
            ("AUTH", urllib.parse.unquote(user), urllib.parse.unquote(password))
            if user
            else ("AUTH", urllib.parse.unquote(password))
        )
        sock.sendall(_redis_command(*words))
        answer = _read_line(sock)
        if not answer.startswith("+"):
            return f"Redis refused the credentials ({answer or 'connection closed'})"
    sock.sendall(_redis_command("PING"))
    answer = _read_line(sock)
    if answer == "+PONG":
        return None
    if answer.startswith("-NOAUTH"):
        return "Redis wants a password (NOAUTH)"
    return f"Redis answered {answer!r} to PING" if answer else "Redis closed the connection"


def check_services(
    project: ResolvedProject, specs: Iterable[ProcessSpec], report: Report, timeout: float
) -> None:
    urls = service_urls(project, specs)
    for url, names in urls.items():
        why = check_service(url, timeout)
        if why is None:
            continue
        report.problems.append(
            Problem(
                codes.SERVICE_UNREACHABLE,
                f"{', '.join(names)}: cannot use {mask(url)}: {why}",
                Location(file=project.source),
                "start the service, or point the variable at a running one",
            )
        )
    if urls:
        report.done.append(f"{len(urls)} service{'s' if len(urls) != 1 else ''} reachable")
