"""``prodserver status``: the processes of the ``prodserver up`` running for this project.

It asks the running supervisor over its control socket (see
:mod:`prodserver.runtime.control`); nothing is resolved or started. Exit code 3
(``NOT_RUNNING``) when no ``up`` runs for the project.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

COLUMNS = ("PROCESS", "STATE", "PID", "UPTIME", "RESTARTS", "HEALTH", "CPU", "MEMORY")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the full status as JSON")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from prodserver.config.sources import discover
    from prodserver.runtime.control import request
    from prodserver.runtime.rundir import runtime_dir

    config = discover(Path(args.file) if args.file else None)
    status = request(runtime_dir(config.parent), {"command": "status"})
    if args.json:
        sys.stdout.write(json.dumps(status, indent=2) + "\n")
    else:
        sys.stdout.write(render(status))
    return 0


def render(status: Mapping[str, Any]) -> str:
    """The status as an aligned table, with a one-line header about the run."""
    rows: list[Sequence[str]] = [COLUMNS]
    for p in status.get("processes", ()):
        rows.append(
            (
                str(p["label"]),
                str(p["state"]),
                _or_dash(p.get("pid")),
                duration(p["uptime"]) if p.get("uptime") is not None else "-",
                str(p.get("restarts", 0)),
                str(p.get("health") or "-"),
                f"{p['cpu_percent']:.1f}%" if p.get("cpu_percent") is not None else "-",
                size(p["rss"]) if p.get("rss") is not None else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    state = (
        "stopping" if status.get("stopping") else ("ready" if status.get("ready") else "starting")
    )
    head = (
        f"{status.get('project')} (profile {status.get('profile')}): {state}, "
        f"up {duration(float(status.get('uptime', 0)))}"
    )
    return head + "\n" + "\n".join(lines) + "\n"


def _or_dash(value: Any) -> str:
    return "-" if value is None else str(value)


def duration(seconds: float) -> str:
    """``45s``, ``12m03s``, ``3h05m``, ``2d04h``."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def size(n: float) -> str:
    """``812K``, ``45.2M``, ``1.3G``."""
    for unit in ("B", "K", "M", "G"):
        if n < 1024 or unit == "G":
            return f"{n:.0f}{unit}" if unit in ("B", "K") else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}G"
