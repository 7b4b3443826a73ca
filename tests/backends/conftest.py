"""Helpers for backend tests: a fixed context and the argv of a backend by name."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prodserver.backends.base import BackendContext
from prodserver.backends.registry import get_backend

ROOT = Path("/srv/shop")


def ctx(
    env: Mapping[str, str] | None = None,
    *,
    root: Path = ROOT,
    cwd: Path | None = None,
    python: str = "/venv/bin/python",
    process: str = "web",
) -> BackendContext:
    return BackendContext(
        root=root,
        env={"PORT": "5000"} if env is None else dict(env),
        port=5000,
        process=process,
        python=python,
        cwd=cwd,
    )


def argv(name: str, values: Mapping[str, Any], context: BackendContext | None = None) -> list[str]:
    """The argv of backend ``name`` for ``values`` (defaults filled in, as the resolver does)."""
    backend = get_backend(name)
    full = {opt.name: opt.default for opt in backend.options}
    full.update(values)
    return backend.argv(full, context or ctx())
