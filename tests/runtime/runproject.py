"""Run a hand-described project through ``run_up`` (used by the integration tests).

Usage: ``python tests/runtime/runproject.py SPEC.json``; the JSON holds ``procs`` (keyword
arguments of :func:`projects.proc`, signals by name) and ``options`` (of ``UpOptions``).
Exits with ``run_up``'s code.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

from projects import proc, project

from prodserver.config.model import RestartPolicy
from prodserver.runtime.up import UpOptions, run_up


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    procs = []
    for p in spec["procs"]:
        p = dict(p)
        if "restart" in p:
            p["restart"] = RestartPolicy(**p["restart"])
        if "stop_signal" in p:
            p["stop_signal"] = signal.Signals[p["stop_signal"]]
        if "cwd" in p:
            p["cwd"] = Path(p["cwd"])
        name = p.pop("name")
        argv = p.pop("argv")
        procs.append(proc(name, argv, **p))
    if spec.get("crash_on_exit"):
        # a deliberate internal error inside ``up`` after children started: the first exit
        # the supervisor hears of raises, as a bug in it would
        from prodserver.runtime.supervisor import Supervisor

        def broken(self: Supervisor) -> None:
            raise RuntimeError("deliberate internal error")

        Supervisor.handle_children = broken  # type: ignore[method-assign]
    options = spec.get("options", {})
    options["names"] = tuple(options.get("names", ()))
    return run_up(project(*procs), UpOptions(**options))


if __name__ == "__main__":
    sys.exit(main())
