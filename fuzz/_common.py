"""Shared by the fuzz targets: the one exception allowed to escape, and a collecting mode.

By default an exception other than ConfigError is a crash: libFuzzer stops and writes the
input. libFuzzer's ``-fork`` mode cannot restart a Python script, so to survey *every* distinct
crash in one long run set ``FUZZ_COLLECT=DIR``: each new crash signature (exception type and the
innermost prodserver frame) is written once to ``DIR/crash-<hash>`` with its traceback, and
fuzzing goes on.
"""

from __future__ import annotations

import hashlib
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["prodserver"]):
    from prodserver.errors import ConfigError

_seen: set[str] = set()


def _signature(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/prodserver/" in f.filename] or frames
    last = ours[-1]
    return f"{type(exc).__name__} at {Path(last.filename).name}:{last.lineno} ({last.name})"


def _collecting(test_one_input: Callable[[bytes], None], into: Path) -> Callable[[bytes], None]:
    into.mkdir(parents=True, exist_ok=True)

    def wrapped(data: bytes) -> None:
        try:
            test_one_input(data)
        except Exception as exc:  # every non-ConfigError is what we collect
            sig = _signature(exc)
            if sig in _seen:
                return
            _seen.add(sig)
            name = hashlib.sha1(sig.encode(), usedforsecurity=False).hexdigest()[:12]
            (into / f"crash-{name}").write_bytes(data)
            (into / f"crash-{name}.txt").write_text(f"{sig}\n\n{traceback.format_exc()}")
            sys.stderr.write(f"\n=== new crash: {sig} -> {into / f'crash-{name}'}\n")

    return wrapped


def run(test_one_input: Callable[[bytes], None]) -> None:
    """Hand ``test_one_input`` to libFuzzer with the command line's options."""
    collect = os.environ.get("FUZZ_COLLECT")
    target = _collecting(test_one_input, Path(collect)) if collect else test_one_input
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


__all__ = ["ConfigError", "run"]
