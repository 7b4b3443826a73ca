"""Hand-built ResolvedProjects for runtime tests (independent of the configuration engine)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from prodserver.config.model import (
    Dependency,
    Instance,
    ProcessSpec,
    ResolvedProject,
    RestartPolicy,
    frozen_map,
)

PY = sys.executable


def py(code: str) -> tuple[str, ...]:
    """argv running ``code`` with this interpreter."""
    return (PY, "-c", code)


def proc(
    name: str,
    argv: Sequence[str],
    *,
    scale: int = 1,
    depends_on: Mapping[str, str] | Sequence[str] = (),
    restart: RestartPolicy | None = None,
    oneshot: bool = False,
    stop_signal: signal.Signals = signal.SIGTERM,
    kill_mode: str = "group",
    stop_timeout: float = 10.0,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> dict[str, Any]:
    """The keyword arguments of one process, to pass to :func:`project`."""
    if isinstance(depends_on, Mapping):
        deps = tuple(Dependency(n, c) for n, c in depends_on.items())  # type: ignore[arg-type]
    else:
        deps = tuple(Dependency(n) for n in depends_on)
    return {
        "name": name,
        "argv": tuple(argv),
        "scale": scale,
        "depends_on": deps,
        "restart": restart or RestartPolicy(),
        "oneshot": oneshot,
        "stop_signal": stop_signal,
        "kill_mode": kill_mode,
        "stop_timeout": stop_timeout,
        "env": dict(env or {}),
        "cwd": cwd,
    }


def project(
    *procs: dict[str, Any], root: Path | None = None, name: str = "test"
) -> ResolvedProject:
    """A ResolvedProject with ``procs`` in order; every instance gets the test's environment."""
    root = root or Path.cwd()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("PRODSERVER_")}
    specs: dict[str, ProcessSpec] = {}
    for position, p in enumerate(procs):
        instances = []
        for number in range(1, p["scale"] + 1):
            env = dict(base_env)
            env.update(p["env"])
            env["PRODSERVER_PROCESS"] = p["name"]
            env["PRODSERVER_INSTANCE"] = str(number)
            instances.append(Instance(p["name"], number, p["argv"], frozen_map(env)))
        specs[p["name"]] = ProcessSpec(
            name=p["name"],
            backend="command",
            position=position,
            options=frozen_map({"command": list(p["argv"])}),
            argv=p["argv"],
            shell=False,
            cwd=p["cwd"] or root,
            env=frozen_map(p["env"]),
            scale=p["scale"],
            instances=tuple(instances),
            listens=False,
            depends_on=p["depends_on"],
            restart=p["restart"],
            oneshot=p["oneshot"],
            stop_signal=p["stop_signal"],
            kill_mode=p["kill_mode"],
            stop_timeout=p["stop_timeout"],
        )
    return ResolvedProject(
        name=name,
        root=root,
        source=root / "prodserver.toml",
        profile="test",
        profiles=("test",),
        processes=frozen_map(specs),
        env=frozen_map(base_env),
    )
