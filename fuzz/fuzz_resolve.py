"""Fuzz the whole loading path: a generated file through ``resolve_project``.

The input is the file's text (TOML mostly; the first byte may pick JSON or YAML, which share the
schema). It is resolved for its default profile and for every profile it declares (so the
``extends`` chain and the merge rules run), locally and for export. Only ConfigError may
escape: any other exception is a crash that libFuzzer reports with the input that caused it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import atheris
from _common import ConfigError, run

with atheris.instrument_imports(include=["prodserver"]):
    from prodserver.config.resolve import resolve_project

ROOT = Path(tempfile.mkdtemp(prefix="prodserver-fuzz-"))
ENVIRON = {
    "PATH": os.defpath,
    "HOME": str(ROOT),
    "SECRET_KEY": "fuzz-secret",
    "WEB_CONCURRENCY": "2",
    "DATABASE_URL": "postgres://u:pw@h/db",
}
(ROOT / ".env").write_text("FROM_DOTENV=1\nREDIS_URL=redis://:x@localhost:6379/0\n")
SUFFIXES = {0: "prodserver.toml", 1: "prodserver.json", 2: "prodserver.yaml"}


def test_one_input(data: bytes) -> None:
    if not data:
        return
    choice = data[0] % 8
    name = SUFFIXES.get(choice, "prodserver.toml")
    body = data[1:] if choice in SUFFIXES else data
    path = ROOT / name
    path.write_bytes(body)
    try:
        for export in (False, True):
            project = resolve_project(file=path, cwd=ROOT, environ=ENVIRON, for_export=export)
            for profile in project.profiles[:4]:
                resolve_project(
                    file=path, cwd=ROOT, environ=ENVIRON, profile=profile, for_export=export
                )
    except ConfigError:
        pass
    finally:
        path.unlink()


if __name__ == "__main__":
    run(test_one_input)
