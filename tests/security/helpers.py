"""Small helpers of the security tests: write a project, resolve it, run the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

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
