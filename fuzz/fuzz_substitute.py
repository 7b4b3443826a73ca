"""Fuzz ``prodserver.config.substitute``: any text, any environment; only ConfigError may escape.

Also checks the single-pass promise: a variable's value is inserted as is, never expanded again.
"""

from __future__ import annotations

import atheris
from _common import ConfigError, run

with atheris.instrument_imports(include=["prodserver"]):
    from prodserver.config.substitute import references, substitute


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    value = fdp.ConsumeUnicodeNoSurrogates(32)
    export = fdp.ConsumeBool()
    text = fdp.ConsumeUnicodeNoSurrogates(512)
    env = {"A": value, "EMPTY": "", "PORT": "8000", "SECRET_KEY": "${A}$$"}
    try:
        result = substitute(text, env, keep=(lambda n: n == "PORT") if export else None)
        references(text)
    except ConfigError:
        return
    if text == "${SECRET_KEY}" and not export:
        # the value holds expression syntax: it must come out verbatim, not expanded
        assert result.text == "${A}$$", result


if __name__ == "__main__":
    run(test_one_input)
