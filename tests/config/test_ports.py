"""The port step: a process's first port by the rule, and where its base came from."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from prodserver.backends.registry import get_backend
from prodserver.config.context import Context, ProcessEntry
from prodserver.config.ports import (
    PortChoice,
    is_port,
    port_for,
    port_from_env,
    port_or_none,
    references_port,
)
from tests.config.conftest import MakeContext, codes


def entry(table: Mapping[str, Any], name: str = "web") -> ProcessEntry:
    return ProcessEntry(name, table, get_backend("command"), lambda *key: ("processes", name, *key))


def first_port(ctx: Context, table: Mapping[str, Any], position: int = 0) -> PortChoice:
    return port_for(ctx, entry(table), position, {})


def test_the_default_base_plus_100_per_position(context: MakeContext) -> None:
    ctx = context()
    assert first_port(ctx, {}, 2) == PortChoice(5200, "default base 5000")


def test_a_process_port_wins(context: MakeContext) -> None:
    ctx = context(environ={"PORT": "7000"}, port=9000)
    assert first_port(ctx, {"port": 8080}, 3) == PortChoice(8080, "")


def test_the_command_line_base_then_the_shell_then_the_file(context: MakeContext) -> None:
    toml = "[project]\nbase_port = 6000\n"
    assert first_port(context(toml, environ={"PORT": "7000"}, port=9000), {}, 1) == PortChoice(
        9100, "--port 9000"
    )
    assert first_port(context(toml, environ={"PORT": "07000"}), {}, 1) == PortChoice(
        7100, "shell PORT 7000"
    )
    shown = first_port(context(toml), {}, 1)
    assert shown.port == 6100 and shown.origin.startswith("base_port 6000 (")


def test_an_export_ignores_the_shells_port(context: MakeContext) -> None:
    assert first_port(context(export=True, environ={"PORT": "7000"}), {}).port == 5000


@pytest.mark.parametrize(
    ("inputs", "table", "position"),
    [
        ({"port": 70000}, {}, 0),
        ({"environ": {"PORT": "http"}}, {}, 0),
        ({}, {"port": 0}, 0),
        ({"port": 65500}, {}, 1),
    ],
)
def test_a_port_out_of_range_is_an_error(
    context: MakeContext, inputs: dict[str, Any], table: dict[str, Any], position: int
) -> None:
    ctx = context(**inputs)
    assert first_port(ctx, table, position).port is None
    assert codes(ctx) == ["PS123"]


def test_a_port_set_in_the_process_env_serves_one_copy(context: MakeContext) -> None:
    ctx = context()
    where = entry({}).where
    assert port_from_env(ctx, "8000", 1, where) == (True, 8000)
    assert port_from_env(ctx, "8000", 2, where) == (True, None)
    assert port_from_env(ctx, "x", 1, where) == (True, None)
    assert codes(ctx) == ["PS123", "PS123"]


def test_references_to_port_are_found_outside_env() -> None:
    assert references_port({"command": ["serve", "--port=${PORT:-1}"]})
    assert references_port({"healthcheck": {"http": "http://x:$PORT/"}})
    assert not references_port({"env": {"A": "${PORT}"}, "command": "${PORTAL}"})
    assert not references_port({"command": "${"})


def test_port_numbers() -> None:
    assert is_port("65535") and not is_port("65536") and not is_port("0")
    assert not is_port("9" * 5000) and not is_port("١٢")
    assert port_or_none("80") == 80 and port_or_none(None) is None and port_or_none("x") is None
