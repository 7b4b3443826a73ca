"""The configuration's hash for the audit trail: json.dumps's text, without the json package."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from prodserver.config.display import canonical_json, config_hash, project_data
from prodserver.config.resolve import resolve_with_provenance


def json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.sampled_from(["\x00", "\x7f", "\udcff", "\U0001f600", 'a"b\\c', "\b\f\n\r\t", "é"])
)
plain = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


@given(value=plain)
@settings(max_examples=800)
@example(value={"b": 1, "a": [True, None, 1.5, float("-inf")], "é\U0001f600": "\x01"})
def test_canonical_json_is_json_dumps_text(value: Any) -> None:
    assert canonical_json(value) == json_text(value)


@pytest.mark.parametrize(
    "value",
    [
        {2: "x", 1: None},  # keys json converts
        {2.5: [], -1.0: 0},
        [Path("/x"), frozenset()],  # values json passes to default=str
        {"a": {"b": (1, "é")}},
        "a bare \u2603 string",
        float("nan"),
    ],
)
def test_canonical_json_is_json_dumps_text_for_what_json_converts(value: Any) -> None:
    assert canonical_json(value) == json_text(value)


def test_canonical_json_refuses_a_circular_value_as_json_does() -> None:
    looped: list[Any] = []
    looped.append(looped)
    with pytest.raises(ValueError, match="Circular reference"):
        canonical_json(looped)


CONFIG = """\
[project]
name = "cafe"
description = "café ☕"

[env]
GREETING = "héllo \\"wörld\\"\\n\\ttab"
API_TOKEN = "${API_TOKEN}"

[processes.web]
command = ["python", "-c", "print('\U0001f600 ${GREETING}')"]
stop_timeout = "1.5s"
labels = { team = "ünïcode" }
"""


def test_config_hash_is_the_sha256_of_the_json_of_what_config_shows(tmp_path: Path) -> None:
    path = tmp_path / "prodserver.toml"
    path.write_text(CONFIG, encoding="utf-8")
    env = {"PATH": "/usr/bin", "API_TOKEN": "s3cr\u00e9t"}
    project, prov = resolve_with_provenance(file=path, cwd=tmp_path, environ=env)
    data = project_data(project, configured=prov.configured)
    data.pop("warnings", None)
    data["secret_names"] = sorted(project.secret_names)
    expected = hashlib.sha256(json_text(data).encode("ascii")).hexdigest()
    assert config_hash(project, prov.configured) == expected
