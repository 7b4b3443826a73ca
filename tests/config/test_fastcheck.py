"""The compiled validity predicates (prodserver/schema/fastcheck.py) agree with jsonschema.

``validate.py`` trusts a "valid" from the predicate and asks jsonschema only otherwise, so a
predicate that said "valid" for an instance jsonschema rejects would let a bad file through.
Every schema prodserver validates with is compiled here and compared with jsonschema on the
process tables of the examples and on each of them with every key given every kind of value.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from prodserver.backends.registry import BUILTINS, get_backend
from prodserver.schema import validate
from prodserver.schema.build import strict_process_schema
from prodserver.schema.fastcheck import Unsupported, compile_schema

REPO = Path(__file__).resolve().parents[2]

PROBES: list[Any] = [
    1,
    0,
    -1,
    1.0,
    2.5,
    70000,
    True,
    False,
    "x",
    "",
    "10s",
    "-x",
    "${VAR}",
    "${VAR:-3}",
    "512MB",
    "INFO",
    "info",
    [],
    ["a"],
    ["a", "a"],
    [1, 2],
    ["-x"],
    {},
    {"a": "b"},
    {"http": "http://x/", "interval": "5s"},
    {"mode": "always", "backoff": "1s"},
    {"A": 1, "B": True},
    {"1BAD": "x"},
    {"web": "healthy"},
    {"web": "sometimes"},
    None,
]


def _tables() -> list[dict[str, Any]]:
    tables: list[dict[str, Any]] = []
    for path in [REPO / "prodserver.toml", *sorted(REPO.glob("examples/*/prodserver.toml"))]:
        data = tomllib.loads(path.read_text())
        tables += [t for t in data.get("processes", {}).values() if isinstance(t, dict)]
        for profile in data.get("profiles", {}).values():
            tables += [t for t in profile.get("processes", {}).values() if isinstance(t, dict)]
    return tables


def _variants(table: dict[str, Any], keys: list[str]) -> Iterator[dict[str, Any]]:
    yield table
    for key in keys:
        for probe in PROBES:
            changed = copy.deepcopy(table)
            changed[key] = probe
            yield changed
    yield {**table, "no_such_key": 1}


def _agree(schema: dict[str, Any], instances: list[Any]) -> int:
    check = compile_schema(schema)
    reference = Draft202012Validator(schema)
    invalid = 0
    for instance in instances:
        expected = reference.is_valid(instance)
        assert check(instance) == expected, (instance, expected)
        invalid += not expected
    return invalid


@pytest.mark.parametrize("backend", sorted(BUILTINS))
def test_process_and_strict_schemas_agree_with_jsonschema(backend: str) -> None:
    option_names = [o.name for o in get_backend(backend).options]
    keys = [
        "command",
        "scale",
        "port",
        "healthcheck",
        "restart",
        "depends_on",
        "env",
        "stop_timeout",
        "stop_signal",
        "args",
        "labels",
        *option_names,
    ]
    base = {"backend": backend}
    richest = max(_tables(), key=len)
    tables = [base, {**richest, "backend": backend}]
    instances = [v for t in tables for v in _variants(t, keys)]
    process_invalid = _agree(validate._process_schema((backend,)), instances)
    strict_invalid = _agree(strict_process_schema(get_backend(backend)), instances)
    # the comparison covered both answers
    assert 0 < process_invalid < len(instances)
    assert 0 < strict_invalid < len(instances)


def test_the_file_skeleton_agrees_with_jsonschema() -> None:
    paths = [REPO / "prodserver.toml", *sorted(REPO.glob("examples/*/prodserver.toml"))]
    files = [tomllib.loads(p.read_text()) for p in paths]
    instances: list[Any] = []
    for data in files:
        instances.append(data)
        for key in ("project", "env", "profiles", "processes", "nonsense"):
            for probe in PROBES:
                instances.append({**data, key: probe})
        project = data.get("project", {})
        for key in ("name", "base_port", "env_files", "secrets", "default_profile", "inherit_env"):
            for probe in PROBES:
                instances.append({**data, "project": {**project, key: probe}})
    invalid = _agree(validate._skeleton_schema(), instances)
    assert 0 < invalid < len(instances)


def test_every_schema_prodserver_uses_compiles() -> None:
    """None of them falls back to jsonschema for valid files."""
    compile_schema(validate._skeleton_schema())
    compile_schema(validate._process_schema(tuple(sorted(BUILTINS))))
    for name in BUILTINS:
        compile_schema(strict_process_schema(get_backend(name)))


@pytest.mark.parametrize(
    ("schema", "valid", "invalid"),
    [
        ({"type": "integer"}, [1, 1.0, -3], [True, 1.5, "1", None]),
        ({"enum": [1, "a"]}, [1, 1.0, "a"], [True, "b", [1]]),
        ({"const": False}, [False], [0, None, "false"]),
        ({"pattern": "^a"}, ["ab", 3, None], ["ba"]),
        ({"minimum": 2, "exclusiveMaximum": 5}, [2, 4.9, "x", True], [1, 5]),
        ({"uniqueItems": True}, [[1, 2], [1, True], "x"], [[1, 1.0], [{"a": 1}, {"a": 1}]]),
        (
            {"properties": {"a": {"type": "string"}}, "additionalProperties": False},
            [{}, {"a": "x"}, 3],
            [{"a": 1}, {"b": "x"}],
        ),
        ({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, [-1, 1.5], [1]),
        (
            {"if": {"required": ["a"]}, "then": {"required": ["b"]}, "else": {"required": ["c"]}},
            [{"a": 1, "b": 1}, {"c": 1}],
            [{"a": 1}, {}],
        ),
        ({"propertyNames": {"pattern": "^[A-Z]+$"}}, [{"AB": 1}, []], [{"ab": 1}]),
        (
            {"$defs": {"n": {"type": "number"}}, "items": {"$ref": "#/$defs/n"}},
            [[1, 2.5], {}],
            [[1, "x"], [True]],
        ),
        ({"not": {"pattern": "^-"}}, ["a"], ["-a", 1]),
    ],
)
def test_keywords_mean_what_jsonschema_says(
    schema: dict[str, Any], valid: list[Any], invalid: list[Any]
) -> None:
    check = compile_schema(schema)
    reference = Draft202012Validator(schema)
    for instance in valid:
        assert reference.is_valid(instance) and check(instance), instance
    for instance in invalid:
        assert not reference.is_valid(instance) and not check(instance), instance


@pytest.mark.parametrize(
    "schema", [{"multipleOf": 2}, {"contains": {}}, {"unevaluatedProperties": False}]
)
def test_an_unknown_keyword_is_refused_not_ignored(schema: dict[str, Any]) -> None:
    with pytest.raises(Unsupported):
        compile_schema(schema)


def test_a_file_whose_tables_are_valid_is_validated_without_jsonschema() -> None:
    import subprocess
    import sys

    demo = REPO  # the demo's prodserver.toml: every profile, many backends
    code = (
        "import sys; from pathlib import Path\n"
        "from prodserver.config.resolve import resolve_project\n"
        f"resolve_project(file=Path({str(demo / 'prodserver.toml')!r}), "
        "environ={'PATH': '/usr/bin'})\n"
        "print('jsonschema' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=demo
    )
    assert done.stdout == "False\n"
