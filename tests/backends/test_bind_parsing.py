"""Bind addresses are split where the host ends, whatever the port expression holds."""

from __future__ import annotations

import pytest

from prodserver.backends.common import split_bind


@pytest.mark.parametrize(
    ("bind", "expected"),
    [
        ("0.0.0.0:8000", ("0.0.0.0", "8000")),
        ("0.0.0.0:${PORT:-8000}", ("0.0.0.0", "${PORT:-8000}")),
        ("localhost:${PORT}", ("localhost", "${PORT}")),
        ("[::1]:${PORT:-8000}", ("::1", "${PORT:-8000}")),
        ("example.org", ("example.org", "")),
    ],
)
def test_split_bind(bind, expected):
    assert split_bind(bind) == expected
