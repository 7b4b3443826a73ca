"""Fuzz the Procfile parser: any bytes as a file; only ConfigError may escape."""

from __future__ import annotations

import contextlib
from pathlib import Path

import atheris
from _common import ConfigError, run

with atheris.instrument_imports(include=["prodserver"]):
    from prodserver.config.procfile import parse_procfile

PATH = Path("Procfile")


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    with contextlib.suppress(ConfigError):
        parse_procfile(text, path=PATH)


if __name__ == "__main__":
    run(test_one_input)
