"""Secrets an export meets under a plain name, and values that only look like a secret.

Issue 11, point 3 and 4, through the real CLI and the real resolver: a secret defined through a
plain-named variable (``SECRET_KEY = "${DJANGO_SK}"`` with ``DJANGO_SK`` in ``.env``) and a URL
holding a password written literally in ``[env]`` never reach an export's files or its
messages (the Procfile's ``heroku config:set`` note included), and a ``.env`` whose password
happens to be a word of another value (``POSTGRES_PASSWORD=postgres`` beside
``DATABASE_URL=postgres://db/app``) exports normally instead of failing with an internal error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from prodserver.exporters import FORMATS
from tests.security.helpers import prodserver

DERIVED = "CANARYderived5e1"
URL_PW = "CANARYliteral8c4"

CONFIG = f"""
[project]
name = "derived"

[env]
DATABASE_URL = "postgres://app:{URL_PW}#/x@db/app"
SECRET_KEY = "${{DJANGO_SK}}"

[processes.web]
command = ["python3", "-c", "print('ok')"]
"""


def files_text(directory: Path) -> str:
    return "\n".join(
        p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    )


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_secret_under_a_plain_name_is_never_exported(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "prodserver.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / ".env").write_text(f"DJANGO_SK={DERIVED}\n", encoding="utf-8")
    out = tmp_path / "out"
    result = prodserver(tmp_path, "export", fmt, "-o", f"{out}/")
    assert result.returncode == 0, result.stderr
    shown = result.stdout + result.stderr + files_text(out)
    assert DERIVED not in shown
    assert URL_PW not in shown
    if fmt == "procfile":
        # the names are still given, so the user knows what to set on the platform
        assert "DJANGO_SK" in result.stderr
        assert "DATABASE_URL" in result.stderr


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_password_that_is_a_word_of_another_value_is_no_false_alarm(
    tmp_path: Path, fmt: str
) -> None:
    (tmp_path / "prodserver.toml").write_text(
        '[project]\nname = "plain"\n[processes.web]\ncommand = ["python3", "-c", "print(1)"]\n',
        encoding="utf-8",
    )
    (tmp_path / ".env").write_text(
        "POSTGRES_PASSWORD=postgres\nDATABASE_URL=postgres://db/app\n", encoding="utf-8"
    )
    out = tmp_path / "out"
    result = prodserver(tmp_path, "export", fmt, "-o", f"{out}/")
    assert result.returncode == 0, result.stderr
    assert "internal error" not in result.stderr
    assert "POSTGRES_PASSWORD=postgres" not in files_text(out)
