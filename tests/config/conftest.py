"""A resolution context over a file written for the test: the input of every step."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from prodserver.config.context import Context
from prodserver.config.model import ProcessSpec
from prodserver.config.sources import read_source
from prodserver.config.target import Target
from tests.conftest import BASE_ENV

MakeContext = Callable[..., Context]


@pytest.fixture
def context(project: Callable[..., Path]) -> MakeContext:
    """``context(toml, export=False, environ={...}, **inputs)``: a fresh Context for a file."""

    def make(
        toml: str = "",
        *,
        export: bool = False,
        include_secrets: bool = False,
        environ: Mapping[str, str] | None = None,
        **inputs: Any,
    ) -> Context:
        root = project(toml)
        target = Target.elsewhere(include_secrets=include_secrets) if export else Target.here()
        return Context(
            read_source(root / "prodserver.toml"),
            environ={**BASE_ENV, **(environ or {})},
            cwd=root,
            target=target,
            **inputs,
        )

    return make


def codes(ctx: Context) -> list[str]:
    """The codes of the errors recorded so far, in order."""
    return [p.code for p in ctx.out.problems]


def make_spec(name: str, **fields: Any) -> ProcessSpec:
    """A minimal resolved process for steps that read specs (graph, secrets)."""
    base: dict[str, Any] = {
        "backend": "command",
        "position": 0,
        "options": {},
        "argv": ("true",),
        "shell": False,
        "cwd": Path("."),
        "env": {},
        "scale": 1,
        "instances": (),
        "listens": False,
    }
    return ProcessSpec(name=name, **{**base, **fields})
