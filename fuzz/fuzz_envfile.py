"""Fuzz the ``.env`` parser: any bytes as a file; only ConfigError may escape."""

from __future__ import annotations

import contextlib
from pathlib import Path

import atheris
from _common import ConfigError, run

with atheris.instrument_imports(include=["prodserver"]):
    from prodserver.config.envfiles import parse_env, parse_env_spec

PATH = Path("fuzz.env")


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", errors="replace")
    try:
        parsed = parse_env(text, path=PATH)
    except ConfigError:
        pass
    else:
        for key, value in parsed.values.items():
            assert isinstance(key, str) and isinstance(value, str)
    with contextlib.suppress(ConfigError):
        parse_env_spec(text[:64])


if __name__ == "__main__":
    run(test_one_input)
