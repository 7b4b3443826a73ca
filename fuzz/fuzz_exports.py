"""Fuzz the exporters' escaping against each format's real reader.

The input is one value (any text). It goes into ``[env]`` and twice into a command (literally
and as ``${VAL}``), and the configuration is exported in every format; each export is read back
by its real reader (honcho's Procfile parser, supervisor's config parser, PyYAML, the systemd
rules in tests/exporters/readers.py) and, where a shell wrapper stands between, run by
``/bin/sh``. The promise: the program receives exactly the bytes ``up`` gives it, and no value
adds a program, process type, key or line; or the export refuses the value with a ConfigError
naming the process. Any other outcome (an AssertionError included) is a crash.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris
from _common import run

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports(include=["prodserver"]):
    from tests.exporters.roundtrip import check_value

WORKDIR = Path(tempfile.mkdtemp(prefix="prodserver-fuzz-exports-"))


def test_one_input(data: bytes) -> None:
    value = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
    check_value(value.replace("\x00", ""), WORKDIR)


if __name__ == "__main__":
    run(test_one_input)
