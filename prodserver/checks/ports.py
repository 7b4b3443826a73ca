"""Pre-start check: is each port a process will listen on free now (``PS301``)."""

from __future__ import annotations

import contextlib

from prodserver import codes

# `up` runs this check before every start: socket is imported when a port is to be tested
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from prodserver.checks.report import Report
    from prodserver.config.model import ProcessSpec, ResolvedProject


def _bind_host(spec: ProcessSpec) -> tuple[str | None, int | None]:
    """The host a process binds (None: a unix socket, nothing to check) and a fixed port."""
    bind = spec.options.get("bind")
    if isinstance(bind, (list, tuple)):
        bind = bind[0] if bind else None
    if isinstance(bind, str) and bind:
        if bind.startswith(("unix:", "fd://", "/")):
            return None, None
        from prodserver.hostport import AddressError, split_bind

        try:
            host, port = split_bind(bind)
        except AddressError:
            return None, None  # a malformed bind is the resolver's error (PS222), not ours
        return host or "0.0.0.0", int(port) if port.isdigit() else None  # noqa: S104 - we only test it
    option = spec.options.get("host")
    return (str(option) if option else "0.0.0.0"), None  # noqa: S104 - the widest bind fails on any use


def check_ports(project: ResolvedProject, specs: Iterable[ProcessSpec], report: Report) -> None:
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
            from prodserver.errors import Location, Problem

            holder = _holder(port)
            who = f" by {holder}" if holder else ""
            report.problems.append(
                Problem(
                    codes.PORT_NOT_FREE,
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
    import socket

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
