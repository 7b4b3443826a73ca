"""Errors say what was expected: the type or the allowed values, the key path and the line.

One root cause gives one error, and no JSON-schema internals (regular expressions, ``$ref``)
ever reach the user, whatever the wrong value of whatever option.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from prodserver.backends.base import Backend
from prodserver.backends.registry import BUILTINS, get_backend
from prodserver.cli.main import main
from prodserver.config.resolve import resolve_project
from prodserver.declarations.keys import COMMON_OPTIONS
from prodserver.errors import ConfigError

ENV = {"PATH": "/usr/bin:/bin"}


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "prodserver.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        resolve_project(file=path, environ=ENV)
    return [p.render().replace(str(path), "FILE") for p in exc.value.problems]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            'workers = "two"',
            "error PS124: FILE:4: processes.web.workers: expected an integer (at least 1), "
            "found 'two'",
        ),
        (
            'timeout = "abc"',
            "error PS124: FILE:4: processes.web.timeout: expected a number (at least 0) or a "
            'duration such as "10s", "500ms" or "2m", found \'abc\'',
        ),
        (
            'scale = "many"',
            "error PS124: FILE:4: processes.web.scale: expected an integer from 0 to 1000, "
            "found 'many'",
        ),
        (
            'stop_timeout = "abc"',
            "error PS124: FILE:4: processes.web.stop_timeout: expected a number (at least 0) or "
            'a duration such as "10s", "500ms" or "2m", found \'abc\'',
        ),
        (
            'max_memory = "lots"',
            "error PS124: FILE:4: processes.web.max_memory: expected an integer (at least 0) or "
            'a size such as "512MB" or "1GiB", found \'lots\'',
        ),
        (
            'log_level = "loud"',
            "error PS138: FILE:4: processes.web.log_level: 'loud' is not one of 'debug', 'info', "
            "'warning', 'error', 'critical'",
        ),
    ],
)
def test_a_type_error_names_what_was_expected(tmp_path: Path, line: str, message: str) -> None:
    text = f'[processes.web]\nbackend = "gunicorn"\napp = "shop.wsgi"\n{line}\n'
    [problem] = _problems(tmp_path, text)
    first, _, hint = problem.partition("\n")
    assert first == message
    if "PS124" in message:
        assert hint == '  hint: or write a ${VAR} expression, e.g. "${VAR:-default}"'


def test_an_enum_error_suggests_the_closest_choice(tmp_path: Path) -> None:
    text = '[processes.w]\nbackend = "celery-worker"\napp = "shop"\npool = "gevnet"\n'
    assert _problems(tmp_path, text) == [
        "error PS138: FILE:4: processes.w.pool: 'gevnet' is not one of 'prefork', 'eventlet', "
        "'gevent', 'solo', 'processes', 'threads'\n  hint: did you mean 'gevent'?"
    ]


@pytest.mark.parametrize(("value", "passed"), [("INFO", "info"), ("Warning", "warning")])
def test_an_enum_takes_what_the_tool_takes(tmp_path: Path, value: str, passed: str) -> None:
    path = tmp_path / "prodserver.toml"
    path.write_text(
        f'[processes.w]\nbackend = "celery-worker"\napp = "shop"\nloglevel = "{value}"\n'
        f'[processes.web]\nbackend = "gunicorn"\napp = "shop.wsgi"\nlog_level = "{value}"\n'
    )
    project = resolve_project(file=path, environ=ENV)
    assert project.processes["w"].argv[-2:] == ("--loglevel", passed)
    assert ("--log-level", passed) in zip(
        project.processes["web"].argv, project.processes["web"].argv[1:], strict=False
    )


def test_an_unknown_backend_is_one_error(tmp_path: Path) -> None:
    text = '[processes.web]\nbackend = "mywsgi"\nthreads_per_core = 3\nbind = "x"\n'
    [problem] = _problems(tmp_path, text)
    assert problem.startswith(
        "error PS120: FILE:2: processes.web.backend: unknown backend 'mywsgi'\n"
    )


def _wrong(value_type: str, choices: tuple[str, ...]) -> list[Any]:
    if value_type in ("integer", "number", "duration", "size"):
        return ["zzz", [1], {"a": 1}, True]
    if value_type == "boolean":
        return ["zzz", 3, [1]]
    if value_type == "enum":
        return ["zzz", 3]
    if value_type == "string":
        return [3, [1], {"a": 1}, "-x"]
    if value_type in ("list", "argv"):
        return [3, {"a": 1}, [1, 2]]
    return [3, "zzz"]  # table


def _cases() -> list[tuple[str, str, Any]]:
    out = []
    for name in BUILTINS:
        backend: Backend = get_backend(name)
        for opt in (*COMMON_OPTIONS, *backend.options):
            if opt.name in ("backend", "enabled"):
                continue
            for value in _wrong(opt.type, opt.choices):
                out.append((name, opt.name, value))
    return out


def _toml(value: Any) -> str:
    import json

    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


#: jsonschema's own wording and the schema's internals
BAD_PHRASES = (
    "does not match",
    "$ref",
    "\\$",
    "^\\",
    "$defs",
    "was expected",
    "is not valid under",
    "False",
    "True",
)


def test_no_schema_internals_ever_reach_the_user(tmp_path: Path) -> None:
    leaks = []
    for backend, key, value in _cases():
        path = tmp_path / "prodserver.toml"
        required = {"command": 'command = "run"', "dramatiq": 'broker = "x"'}.get(backend, "")
        if key == "command":
            required = ""
        path.write_text(
            f'[processes.p]\nbackend = "{backend}"\n{required}\n{key} = {_toml(value)}\n',
            encoding="utf-8",
        )
        try:
            resolve_project(file=path, environ=ENV)
        except ConfigError as exc:
            text = exc.render()
            if any(bad in text for bad in BAD_PHRASES):
                leaks.append((backend, key, value, text))
    assert not leaks, leaks[:5]


def _missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """granian is not installed: the import system does not find it (a cached `up` checks the
    package without importing the backend, so the pretence is made where Python looks)."""
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "granian" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


GRANIAN = '[processes.web]\nbackend = "granian"\napp = "shop.asgi:app"\n'


def test_check_warns_once_about_a_missing_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _missing(monkeypatch)
    (tmp_path / "prodserver.toml").write_text(GRANIAN)
    monkeypatch.chdir(tmp_path)
    assert main(["check"]) == 0
    out, err = capsys.readouterr()
    assert err == (
        "profile (root): warning PS145: "
        f"{tmp_path / 'prodserver.toml'}: backend 'granian' (used by web) needs granian, "
        "which is not installed\n  hint: pip install 'prodserver[granian]'\n"
    )
    assert out == "ok: profile (root): 1 processes (web)\n"


def test_check_deploy_and_up_refuse_a_missing_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _missing(monkeypatch)
    (tmp_path / "prodserver.toml").write_text(GRANIAN)
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--deploy"]) == 69
    err = capsys.readouterr().err
    assert err.count("PS145") == 2  # the problem, then the summary
    assert "error PS145" in err and "PS146" not in err
    assert main(["up"]) == 69
    assert capsys.readouterr().err == (
        "prodserver: error PS145: backend 'granian' (used by web) needs granian, which is not "
        "installed\n  hint: pip install 'prodserver[granian]'\n"
    )
