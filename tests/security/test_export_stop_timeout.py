"""``stop_timeout`` holding a reference or a literal ``$`` in an export: a configuration error
with its key path, never ``internal error`` (exit 70). Found by test_properties'
``test_damaged_toml_is_a_config_error`` (``stop_timeout = "$"``); ``"${GRACE:-30}"`` is an
everyday spelling that crashed every export the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from prodserver.exporters import FORMATS
from tests.security.helpers import prodserver

CASES = {
    '"${GRACE:-30}"': "PS405",
    '"$"': "PS170",
    '"1$$"': "PS170",
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("value", sorted(CASES))
def test_a_stop_timeout_an_export_cannot_write_is_a_config_error(
    tmp_path: Path, fmt: str, value: str
) -> None:
    (tmp_path / "prodserver.toml").write_text(
        f'[project]\nname = "g"\n[processes.web]\ncommand = ["true"]\nstop_timeout = {value}\n',
        encoding="utf-8",
    )
    result = prodserver(tmp_path, "export", fmt, "-o", f"{tmp_path / 'out'}/")
    assert result.returncode == 78, result.stderr
    assert f"error {CASES[value]}: " in result.stderr
    assert "processes.web.stop_timeout" in result.stderr
    assert "internal error" not in result.stderr
