"""Small helpers of the security tests: write a project, resolve it, run the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prodserver.backends.registry import get_backend

REPO = Path(__file__).resolve().parents[2]


def write(root: Path, toml: str, name: str = "prodserver.toml") -> Path:
    path = root / name
    path.write_text(textwrap.dedent(toml), encoding="utf-8")
    return path


def base_env(root: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A small, known environment: nothing from the developer's shell."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(root),
        "PYTHONPATH": str(REPO),
        "LANG": "C.UTF-8",
    }
    env.update(extra or {})
    return env


def prodserver(
    root: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """``python -m prodserver ARGS`` as a real process in ``root``."""
    return subprocess.run(
        [sys.executable, "-m", "prodserver", *args],
        capture_output=True,
        text=True,
        env=base_env(root, env),
        cwd=root,
        timeout=timeout,
        check=False,
    )


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


#: options every web backend needs to resolve at all (no Django project to discover here)
BASE: dict[str, dict[str, Any]] = {
    "command": {"command": ["true"]},
    "dramatiq": {"broker": "shop.broker"},
}
WEB_APP = "shop.wsgi:application"
#: keys common to every process that take text but never reach an argv as such
NOT_ARGV = {"command", "args"}


def base_table(name: str) -> dict[str, Any]:
    backend = get_backend(name)
    table: dict[str, Any] = {"backend": name, **BASE.get(name, {})}
    if any(o.name == "app" for o in backend.options) and name not in BASE:
        table["app"] = WEB_APP if backend.kind == "web" else "shop"
    return table
