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


TABLE_CASES = [
    ('healthcheck = { cmd = "true", interval = "${I:-5s}" }', "healthcheck.interval", "${I:-5s}"),
    ('healthcheck = { cmd = "true", retries = "${R:-3}" }', "healthcheck.retries", "${R:-3}"),
    ('restart = { policy = "on-failure", max_restarts = "${M:-3}" }', "restart.max_restarts",
     "${M:-3}"),
    # keys prodserver itself consumes: before, scale wrote no unit at all, oneshot made a
    # oneshot of a server, and max_memory wrote a private-use character into MemoryMax=
    ('scale = "${N:-2}"', "scale", "${N:-2}"),
    ('enabled = "${E:-true}"', "enabled", "${E:-true}"),
    ('oneshot = "${O:-false}"', "oneshot", "${O:-false}"),
    ('max_memory = "${M:-100MB}"', "max_memory", "${M:-100MB}"),
]  # fmt: skip


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize(("line", "key", "text"), TABLE_CASES)
def test_a_reference_where_a_value_is_needed_is_a_config_error_that_shows_it(
    tmp_path: Path, fmt: str, line: str, key: str, text: str
) -> None:
    """A key prodserver consumes, or an engine's own field (a probe's period, a start limit),
    needs a value: an export says so with the key path and the reference as written (never a
    private-use placeholder)."""
    (tmp_path / "prodserver.toml").write_text(
        f'[project]\nname = "g"\n[processes.web]\ncommand = ["true"]\n{line}\n', encoding="utf-8"
    )
    result = prodserver(tmp_path, "export", fmt, "-o", f"{tmp_path / 'out'}/")
    assert result.returncode == 78, result.stderr
    assert f"error PS405: {tmp_path / 'prodserver.toml'}:5: processes.web.{key}: " in result.stderr
    assert f"{key} = {text!r} cannot be exported" in result.stderr
    assert "\\U000f" not in result.stderr and not any(ord(c) >= 0xF0000 for c in result.stderr)
    local = prodserver(tmp_path, "check")
    assert local.returncode == 0, local.stderr  # up resolves the reference here: no problem
