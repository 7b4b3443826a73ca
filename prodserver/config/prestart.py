"""Pre-start checks: what would make ``prodserver up`` fail in its first seconds, found first.

``prodserver check --deploy`` runs all of them; ``prodserver up`` runs the fast ones before it
starts anything (skip with ``--skip-checks``):

============================  =============================  ===================================
check                         ``up``                         ``check --deploy``
============================  =============================  ===================================
ports free (1)                yes                            yes
required variables present    production profiles            yes
brokers/databases reachable   production profiles, 1 s       yes, 3 s timeout
``manage.py check --deploy``  no (it imports the whole app)  Django project, production profile
============================  =============================  ===================================

(1) the ports of server backends on the host they bind, and of commands that put their
``$PORT`` on their command line (every command gets a ``PORT``, as with foreman, but most
never listen on it).

A *production profile* is one named ``prod`` or ``production``, or marked ``production``
(:attr:`ResolvedProject.production`). A *required variable* is one the configuration uses
without a default while it is unset (the resolver's ``PS202`` warning: it became an empty
string); ``${VAR:?message}`` already stops resolution. Brokers and databases are found in the
environment as URLs: ``redis://`` and ``rediss://`` (a Redis ``PING`` over a raw socket, with
``AUTH`` when the URL has a password; TLS ones are only connected to), and ``postgres://``,
``mysql://``, ``amqp://``, ``mongodb://``, ``memcache://`` (a TCP connect).

Every problem says what failed and how to fix it; none is fatal here: the caller decides.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import socket
import subprocess
import sys
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prodserver.config.checks import is_production
from prodserver.config.model import ProcessSpec, ResolvedProject
from prodserver.config.secrets import mask_url_passwords
from prodserver.errors import Location, Problem, ProdserverError

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
_UNSET = re.compile(r"PS202: .*?variable (\S+) is not set")


class PrestartFailed(ProdserverError):
    """At least one pre-start check failed (each one printed above the message)."""


@dataclass
class Report:
    """What the checks found, and what they did (for ``check --deploy``'s summary)."""

    problems: list[Problem] = field(default_factory=list)
    done: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def prestart_problems(
    project: ResolvedProject,
    *,
    names: Sequence[str] | None = None,
    deploy: bool = False,
    timeout: float | None = None,
) -> Report:
    """Run the checks for the processes ``names`` (default: all) of ``project``."""
    specs = [s for n, s in project.processes.items() if names is None or n in names]
    report = Report()
    _ports(project, specs, report)
    if deploy or is_production(project):
        # a development profile often names services it does not use (a REDIS_URL for the
        # production workers): there they are the developer's business, not a reason to stop
        _required(project, report)
        wait = timeout if timeout is not None else (3.0 if deploy else 1.0)
        _services(project, specs, report, wait)
    if deploy:
        _django(project, specs, report)
    # Every message goes through the masker of `prodserver config`: a password may reach one
    # through a URL (in any form, even one urllib cannot parse), a port, a host name, or
    # Django's own output.
    from prodserver.config.display import masker_for

    text = masker_for(project).text
    report.problems = [
        dataclasses.replace(p, message=text(p.message), hint=text(p.hint) if p.hint else p.hint)
        for p in report.problems
    ]
    report.notes = [text(note) for note in report.notes]
    report.done = [text(done) for done in report.done]
    return report


def fail_on(report: Report, skip: str) -> None:
    """Print warnings and raise :class:`PrestartFailed` when there are errors."""
    for problem in report.problems:
        if problem.severity != "error":
            sys.stderr.write(problem.render() + "\n")
    errors = report.errors
    if errors:
        text = "\n".join(p.render() for p in errors)
        count = f"{len(errors)} pre-start check{'s' if len(errors) != 1 else ''} failed"
        raise PrestartFailed(f"{count}:\n{text}", hint=f"fix them, or skip the checks with {skip}")


# -- ports -------------------------------------------------------------------------------


def _bind_host(spec: ProcessSpec) -> tuple[str | None, int | None]:
    """The host a process binds (None: a unix socket, nothing to check) and a fixed port."""
    bind = spec.options.get("bind")
    if isinstance(bind, (list, tuple)):
        bind = bind[0] if bind else None
    if isinstance(bind, str) and bind:
        if bind.startswith(("unix:", "fd://", "/")):
            return None, None
        host, port = _split(bind)
        return host or "0.0.0.0", int(port) if port.isdigit() else None  # noqa: S104 - we only test it
    option = spec.options.get("host")
    return (str(option) if option else "0.0.0.0"), None  # noqa: S104 - the widest bind fails on any use


def _split(bind: str) -> tuple[str, str]:
    if bind.startswith("["):
        host, _, rest = bind[1:].partition("]")
        return host, rest.removeprefix(":")
    host, _, port = bind.partition(":")
    return host, port


def _ports(project: ResolvedProject, specs: Iterable[ProcessSpec], report: Report) -> None:
    checked = 0
    for spec in specs:
        host, fixed = _bind_host(spec)
        if host is None:
            continue
        for inst in spec.instances:
            port = fixed or inst.port
            if not port:
                continue
            if spec.backend == "command" and not any(str(port) in word for word in inst.argv):
                # every command gets a PORT, as with foreman; only one that passes it on
                # (``--port ${PORT}``) is known to listen there
                continue
            checked += 1
            error = port_in_use(host, port)
            if error is None:
                continue
            holder = _holder(port)
            who = f" by {holder}" if holder else ""
            report.problems.append(
                Problem(
                    "PS301",
                    f"{inst.label}: port {port} on {host} is not free ({error}{who})",
                    Location(file=project.source, key_path=f"processes.{spec.name}"),
                    "stop what listens there, or give the process another port "
                    "(port = ..., or --port for the base port)",
                )
            )
    if checked:
        report.done.append(f"{checked} port{'s' if checked != 1 else ''} free")


def port_in_use(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be bound now, or None when it can."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # like the servers themselves: a port in TIME_WAIT is free
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return (exc.strerror or str(exc)).lower()
    return None


def _holder(port: int) -> str | None:
    try:
        import psutil

        for conn in psutil.net_connections(kind="inet"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
                if conn.pid is None:
                    return None
                with contextlib.suppress(psutil.Error):
                    return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
                return f"pid {conn.pid}"
    except Exception:  # naming the holder is a courtesy: never fail because of it
        return None
    return None


# -- variables ---------------------------------------------------------------------------


def _required(project: ResolvedProject, report: Report) -> None:
    missing: dict[str, str] = {}
    for warning in project.warnings:
        match = _UNSET.search(warning)
        if match:
            missing.setdefault(match.group(1), warning)
    for name in missing:
        report.problems.append(
            Problem(
                "PS302",
                f"variable {name} is used by the configuration but not set "
                f"(profile {project.profile})",
                Location(file=project.source),
                f"set {name} in the environment or an env file, or give it a default "
                f"(${{{name}:-value}}) if empty is really fine",
            )
        )
    report.done.append("required variables set" if not missing else "required variables")


# -- brokers and databases ---------------------------------------------------------------


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


def _services(
    project: ResolvedProject, specs: Iterable[ProcessSpec], report: Report, timeout: float
) -> None:
    urls = service_urls(project, specs)
    for url, names in urls.items():
        why = check_service(url, timeout)
        if why is None:
            continue
        report.problems.append(
            Problem(
                "PS303",
                f"{', '.join(names)}: cannot use {mask(url)}: {why}",
                Location(file=project.source),
                "start the service, or point the variable at a running one",
            )
        )
    if urls:
        report.done.append(f"{len(urls)} service{'s' if len(urls) != 1 else ''} reachable")


# -- Django ------------------------------------------------------------------------------


def find_manage_py(project: ResolvedProject, specs: Iterable[ProcessSpec]) -> Path | None:
    """``manage.py`` in the project root or in a process's working directory."""
    for directory in (project.root, *(spec.cwd for spec in specs)):
        candidate = Path(directory) / "manage.py"
        if candidate.is_file():
            return candidate
    return None


def _django(project: ResolvedProject, specs: Sequence[ProcessSpec], report: Report) -> None:
    if "DJANGO_SETTINGS_MODULE" not in project.env:
        return
    if not is_production(project):
        report.notes.append(
            f"Django's check --deploy skipped: profile {project.profile!r} is not a production "
            "profile (name it prod or production, or mark it production)"
        )
        return
    manage = find_manage_py(project, specs)
    if manage is None:
        report.notes.append("Django's check --deploy skipped: no manage.py in the project root")
        return
    env = {k: v for k, v in project.env.items() if k != "NOTIFY_SOCKET"}
    env.setdefault("PATH", os.environ.get("PATH", os.defpath))
    try:
        result = subprocess.run(
            [sys.executable, str(manage), "check", "--deploy"],
            cwd=manage.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        report.problems.append(
            Problem("PS304", f"manage.py check --deploy did not run: {exc}", Location(file=manage))
        )
        return
    if result.returncode != 0:
        output = (result.stderr.strip() or result.stdout.strip()).splitlines()
        report.problems.append(
            Problem(
                "PS304",
                "Django's check --deploy failed:\n    " + "\n    ".join(output[-30:]),
                Location(file=manage),
                "fix what Django lists, or silence a check you accept with SILENCED_SYSTEM_CHECKS",
            )
        )
        return
    warnings = [line for line in result.stderr.splitlines() if ": (security." in line]
    report.done.append(
        "Django check --deploy passed" + (f" with {len(warnings)} warnings" if warnings else "")
    )
    for line in warnings:
        report.notes.append(f"Django: {line.strip()}")
