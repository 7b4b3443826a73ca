"""Every backend option is typed and range-checked before it reaches an argv, and no value can
become an extra argument: a value starting with ``-`` where a positional is expected is refused,
and elsewhere it stays the value of its own flag.

The values arrive through ``${INJECT}`` from the environment, the way an attacker who controls
only the environment (not the configuration) would try it.
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
from tests.security.helpers import NOT_ARGV, base_table, write

BENIGN = "zbenignz"
HOSTILE = ("-injected", "--injected=1", "--reload")


def toml_value(value: Any) -> str:
    return json.dumps(value)


def resolve(tmp_path: Path, table: dict[str, Any], environ: dict[str, str]) -> list[str]:
    body = "\n".join(f"{k} = {toml_value(v)}" for k, v in table.items())
    path = write(tmp_path, f"[processes.p]\n{body}\n")
    project = resolve_project(file=path, cwd=tmp_path, environ={"PATH": "/usr/bin", **environ})
    return list(project.processes["p"].argv)


def text_options() -> list[tuple[str, Option]]:
    out = []
    for name in BUILTINS:
        for opt in get_backend(name).options:
            if opt.type in ("string", "list") and opt.name not in NOT_ARGV:
                out.append((name, opt))
    return out


TEXT_OPTIONS = text_options()


def test_the_generic_test_covers_the_positionals() -> None:
    positionals = {(n, o.name) for n, o in TEXT_OPTIONS if o.positional}
    # every backend that takes an application, a manage.py or a broker as a positional
    assert ("gunicorn", "app") in positionals
    assert ("runserver", "bind") in positionals
    assert ("dramatiq", "broker") in positionals
    assert ("rq-worker", "queues") in positionals
    assert len(TEXT_OPTIONS) > 60


@pytest.mark.parametrize(
    ("backend", "opt"), TEXT_OPTIONS, ids=[f"{n}.{o.name}" for n, o in TEXT_OPTIONS]
)
def test_an_environment_value_never_becomes_another_argument(
    tmp_path: Path, backend: str, opt: Option
) -> None:
    table = base_table(backend)
    reference = ["${INJECT}"] if opt.type == "list" else "${INJECT}"
    table[opt.name] = reference
    try:
        benign = resolve(tmp_path, table, {"INJECT": BENIGN})
    except ConfigError:
        pytest.skip(f"{backend}.{opt.name} has a format a plain word does not match")
    for hostile in HOSTILE:
        try:
            argv = resolve(tmp_path, table, {"INJECT": hostile})
        except ConfigError as exc:
            assert exc.problems, exc
            continue
        assert not opt.positional, f"{backend}.{opt.name} accepted {hostile!r} as a positional"
        # the same words, with the value in the same place: nothing was added or split
        assert argv == [w.replace(BENIGN, hostile) for w in benign]
        for i, word in enumerate(argv):
            if word == hostile:
                # a whole word equal to the value must be the value of the flag before it
                assert i > 0 and argv[i - 1].startswith("-"), argv


@pytest.mark.parametrize(
    ("backend", "opt"),
    [(n, o) for n, o in TEXT_OPTIONS if o.positional],
    ids=[f"{n}.{o.name}" for n, o in TEXT_OPTIONS if o.positional],
)
def test_a_positional_starting_with_a_dash_is_refused_with_its_path(
    tmp_path: Path, backend: str, opt: Option
) -> None:
    table = base_table(backend)
    table[opt.name] = ["-x"] if opt.type == "list" else "-x"
    with pytest.raises(ConfigError) as info:
        resolve(tmp_path, table, {})
    # the message names the option, so the user knows which value to fix
    assert any(
        f"processes.p.{opt.name}" in (p.location.key_path or "") or repr(opt.name) in p.message
        for p in info.value.problems
    ), [p.message for p in info.value.problems]


def test_a_positional_refusal_names_the_key_path(tmp_path: Path) -> None:
    table = base_table("gunicorn")
    table["app"] = "-x"
    with pytest.raises(ConfigError) as info:
        resolve(tmp_path, table, {})
    assert [p.location.key_path for p in info.value.problems] == ["processes.p.app"]


def typed_options() -> list[tuple[str, Option, Any]]:
    """(backend, option, a value of the wrong type or out of range) for every typed option."""
    out: list[tuple[str, Option, Any]] = []
    for name in BUILTINS:
        for opt in get_backend(name).options:
            if opt.type == "integer":
                out.append((name, opt, "many"))
                if opt.minimum is not None:
                    out.append((name, opt, int(opt.minimum) - 1))
                if opt.maximum is not None:
                    out.append((name, opt, int(opt.maximum) + 1))
            elif opt.type == "number":
                out.append((name, opt, "fast"))
                if opt.minimum is not None:
                    out.append((name, opt, opt.minimum - 1))
            elif opt.type == "boolean":
                out.append((name, opt, "maybe"))
            elif opt.type == "duration":
                out.append((name, opt, "soon"))
                out.append((name, opt, -1))
            elif opt.type == "size":
                out.append((name, opt, "big"))
            elif opt.type == "enum":
                out.append((name, opt, "--" + opt.choices[0]))
    return out


TYPED = typed_options()


@pytest.mark.parametrize(
    ("backend", "opt", "bad"), TYPED, ids=[f"{n}.{o.name}={b!r}" for n, o, b in TYPED]
)
def test_a_wrong_type_or_range_is_refused_before_any_argv(
    tmp_path: Path, backend: str, opt: Option, bad: Any
) -> None:
    table = base_table(backend)
    # through the environment as well as written in the file
    table[opt.name] = "${BAD}" if isinstance(bad, str) else bad
    with pytest.raises(ConfigError) as info:
        resolve(tmp_path, table, {"BAD": str(bad)})
    assert any(opt.name in (p.location.key_path or "") for p in info.value.problems), [
        p.message for p in info.value.problems
    ]


def test_every_typed_option_is_covered() -> None:
    kinds = {o.type for _, o, _ in TYPED}
    assert {"integer", "boolean", "duration", "enum"} <= kinds
    assert len({(n, o.name) for n, o, _ in TYPED}) > 80
