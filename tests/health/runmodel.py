"""Run a hand-built model through ``run_up`` (for what the file format cannot say yet).

``python runmodel.py SPEC.json``: ``procs`` are keyword arguments of
``tests/runtime/projects.proc`` plus ``healthcheck`` (HealthCheck fields), ``port`` and
``max_memory``; ``options`` are ``UpOptions`` fields.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))

from projects import proc, project

from prodserver.config.model import HealthCheck, RestartPolicy, frozen_map
from prodserver.runtime.up import UpOptions, run_up


def main() -> int:
    spec = json.loads(Path(sys.argv[1]).read_text())
    procs, extras = [], {}
    for p in spec["procs"]:
        p = dict(p)
        name, argv = p.pop("name"), p.pop("argv")
        extras[name] = (p.pop("healthcheck", None), p.pop("port", None), p.pop("max_memory", None))
        if "restart" in p:
            p["restart"] = RestartPolicy(**p["restart"])
        procs.append(proc(name, argv, **p))
    proj = project(*procs, root=Path(sys.argv[1]).parent)
    specs = dict(proj.processes)
    for name, (check, port, max_memory) in extras.items():
        hc = HealthCheck(**check) if check else None
        old = specs[name]
        insts = []
        for inst in old.instances:
            env = dict(inst.env)
            if port:
                env["PORT"] = str(port)
            insts.append(dataclasses.replace(inst, healthcheck=hc, port=port, env=frozen_map(env)))
        specs[name] = dataclasses.replace(
            old, instances=tuple(insts), healthcheck=hc, max_memory=max_memory
        )
    proj = dataclasses.replace(proj, processes=frozen_map(specs))
    options = spec.get("options", {})
    return run_up(proj, UpOptions(**options))


if __name__ == "__main__":
    sys.exit(main())
