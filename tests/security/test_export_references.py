"""In an export, a number the platform fills in stays a ``${REFERENCE}`` all the way into the
argv, whatever unit the program wants; a reference that cannot be converted is a configuration
error. Found by fuzz/fuzz_resolve.py: ``prodserver export`` crashed with ``ValueError`` on
``timeout = "${WEB_TIMEOUT:-30}"``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from prodserver.backends.base import Option
from prodserver.backends.registry import BUILTINS, get_backend
from prodserver.config.resolve import resolve_project
from prodserver.errors import ConfigError
from tests.security.helpers import base_table, write

REFERENCE = "${PLATFORM_VALUE:-30}"


def numeric_options() -> list[tuple[str, Option]]:
    return [
        (name, opt)
        for name in BUILTINS
        for opt in get_backend(name).options
        if opt.type in ("duration", "size", "integer", "number") and opt.flag is not None
    ]


NUMERIC = numeric_options()


def export_argv(tmp_path: Path, backend: str, key: str, value: Any) -> list[str]:
    table = {**base_table(backend), key: value}
    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in table.items())
    path = write(tmp_path, f"[processes.p]\n{body}\n")
    project = resolve_project(
        file=path, cwd=tmp_path, environ={"PATH": "/usr/bin"}, for_export=True
    )
    return [word.compose_text() for word in project.processes["p"].argv_words()]


def _id(item: tuple[str, Option]) -> str:
    return f"{item[0]}.{item[1].name}"


@pytest.mark.parametrize(("backend", "opt"), NUMERIC, ids=[_id(x) for x in NUMERIC])
def test_a_reference_reaches_the_argv_as_it_is(tmp_path: Path, backend: str, opt: Option) -> None:
    argv = export_argv(tmp_path, backend, opt.name, REFERENCE)
    assert any(REFERENCE in word for word in argv), argv


@pytest.mark.parametrize("value", ["${PLATFORM_VALUE:-30}s", "2${PLATFORM_VALUE}"])
def test_a_reference_that_cannot_be_converted_is_a_config_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        export_argv(tmp_path, "gunicorn", "timeout", value)
    assert "PLATFORM_VALUE" in str(info.value.problems[0].message)
    assert info.value.problems[0].code == "PS405"  # its own code, no longer PS124's


def test_the_generic_flag_translation_keeps_a_reference() -> None:
    from prodserver.backends.base import flag_args
    from prodserver.template import Deferred

    opt = Option("timeout", "duration", "", flag="--timeout")
    assert flag_args(opt, Deferred("\U000f0000")) == ["--timeout", "\U000f0000"]


def test_the_local_value_is_used_when_not_exporting(tmp_path: Path) -> None:
    table = {**base_table("gunicorn"), "timeout": REFERENCE}
    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in table.items())
    path = write(tmp_path, f"[processes.p]\n{body}\n")
    argv = (
        resolve_project(file=path, cwd=tmp_path, environ={"PATH": "/usr/bin"}).processes["p"].argv
    )
    assert argv[argv.index("--timeout") + 1] == "30"
