"""Property-based tests of everything that reads untrusted text: only prodserver's own
``ConfigError`` may ever escape the loading path, and the merge and substitution promises hold
for any input.

The generated configurations are structure-aware: real top-level tables, real backends and
their real option names, values of every TOML type (expressions included), profiles that
extend each other (cycles included), disabled processes and dependencies between processes,
so that most examples get deep into the resolver rather than stopping at the first key.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import string
import tempfile
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prodserver.backends.base import Option
from prodserver.backends.registry import BUILTINS, get_backend
from prodserver.config.display import project_data
from prodserver.config.envfiles import parse_env
from prodserver.config.merge import ROOT, Layer, merge_processes
from prodserver.config.procfile import parse_procfile
from prodserver.config.resolve import resolve_project
from prodserver.errors import ConfigError

SETTINGS = settings(
    max_examples=int(os.environ.get("PRODSERVER_PROPERTY_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
RARELY = st.sampled_from([False] * 9 + [True])
ENVIRON = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "SET": "value", "NUM": "3"}

# -- strategies ------------------------------------------------------------------------------

NAMES = st.sampled_from(["web", "worker", "beat", "migrate", "a", "b", "Web", "x-y", "1"])
PROFILE_NAMES = st.sampled_from(["dev", "prod", "staging", "p", "q"])
VAR = st.sampled_from(["SET", "UNSET", "NUM", "PORT", "SECRET_KEY", "A"])
EXPRESSIONS = st.one_of(
    VAR.map(lambda v: f"${v}"),
    VAR.map(lambda v: f"${{{v}}}"),
    st.tuples(VAR, st.sampled_from([":-", "-", ":+", "+", ":?", "?"]), st.text(max_size=5)).map(
        lambda t: f"${{{t[0]}{t[1]}{t[2]}}}"
    ),
    st.sampled_from(["$$", "${", "${}", "${ A}", "$1", "${A:x}", "${A:-${B:-${C}}}", "$"]),
)
TEXT = st.one_of(
    st.text(alphabet=string.printable, max_size=12),
    st.lists(st.one_of(EXPRESSIONS, st.text(max_size=4)), max_size=4).map("".join),
    st.sampled_from(["10s", "500ms", "2m", "512MB", "0.0.0.0:8000", "shop.wsgi:app", "-x", ""]),
)
SCALARS = st.one_of(
    TEXT,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
)


def nested(
    leaves: st.SearchStrategy[Any], keys: st.SearchStrategy[str], size: int
) -> st.SearchStrategy[Any]:
    """Leaves, or arrays and tables of them, two levels deep.

    Written out rather than with ``st.recursive``, whose argument check misfires now and then
    on these strategies (a deprecation warning, which the suite turns into an error).
    """

    def level(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            leaves,
            st.lists(inner, max_size=size),
            st.dictionaries(keys, inner, max_size=size),
        )

    return level(level(leaves))


VALUES = nested(SCALARS, st.text(string.ascii_lowercase, min_size=1, max_size=6), 3)
COMMON_KEYS = (
    "command",
    "shell",
    "args",
    "cwd",
    "scale",
    "port",
    "depends_on",
    "healthcheck",
    "restart",
    "oneshot",
    "stop_signal",
    "stop_timeout",
    "enabled",
    "user",
    "labels",
    "kill_mode",
    "max_memory",
)


def typed_value(opt: Option) -> st.SearchStrategy[Any]:
    """Mostly a value of the option's own type (so resolution goes deep), sometimes anything."""
    lo = int(opt.minimum) if opt.minimum is not None else -3
    hi = int(opt.maximum) if opt.maximum is not None else 1000
    good: st.SearchStrategy[Any] = {
        "integer": st.one_of(st.integers(lo - 1, hi + 1), st.just("${NUM}")),
        "number": st.floats(lo - 1, hi + 1, allow_nan=False),
        "boolean": st.one_of(st.booleans(), st.just("${SET:+true}")),
        "duration": st.sampled_from(["10s", "500ms", "2m", 3, "-1s", "${NUM}s", "soon"]),
        "size": st.sampled_from(["512MB", "1GiB", 1024, "big"]),
        "list": st.lists(TEXT, max_size=3),
        "enum": st.sampled_from([*opt.choices, "nope"]) if opt.choices else TEXT,
        "argv": st.one_of(TEXT, st.lists(TEXT, min_size=1, max_size=3)),
    }.get(opt.type, TEXT)
    return st.one_of(good, good, good, VALUES)


@st.composite
def process_tables(draw: st.DrawFn) -> dict[str, Any]:
    table: dict[str, Any] = {}
    backend = draw(st.sampled_from([*sorted(BUILTINS), "command", "command", "nope"]))
    if backend != "command" or draw(st.booleans()):
        table["backend"] = backend
    options = {o.name: o for o in get_backend(backend).options} if backend in BUILTINS else {}
    names = sorted(options) + list(COMMON_KEYS)
    if backend == "command" and draw(st.integers(0, 4)):
        table["command"] = draw(st.one_of(TEXT, st.lists(TEXT, min_size=1, max_size=3)))
    for key in draw(st.lists(st.sampled_from(names), max_size=4, unique=True)):
        if key in options:
            table[key] = draw(typed_value(options[key]))
        elif key == "depends_on":
            table[key] = draw(
                st.one_of(
                    st.lists(NAMES, max_size=2),
                    st.dictionaries(
                        NAMES, st.sampled_from(["started", "healthy", "completed", "x"])
                    ),
                )
            )
        elif key == "healthcheck":
            table[key] = draw(
                st.dictionaries(
                    st.sampled_from(["http", "tcp", "cmd", "interval", "retries", "timeout"]),
                    SCALARS,
                    max_size=3,
                )
            )
        elif key == "restart":
            table[key] = draw(
                st.one_of(
                    st.sampled_from(["no", "on-failure", "always", "sometimes"]),
                    st.fixed_dictionaries(
                        {"policy": st.sampled_from(["always", "on-failure"])},
                        optional={"max_restarts": st.integers(-1, 5), "backoff": TEXT},
                    ),
                )
            )
        elif key in ("shell", "oneshot", "enabled"):
            table[key] = draw(st.one_of(st.booleans(), VALUES))
        elif key in ("scale", "port"):
            table[key] = draw(st.one_of(st.integers(-1, 70000), TEXT))
        else:
            table[key] = draw(st.one_of(TEXT, VALUES))
    if draw(RARELY):
        table[draw(st.sampled_from(["wrkers", "comand", "x"]))] = draw(VALUES)
    return table


@st.composite
def configurations(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if draw(st.booleans()):
        data["project"] = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "name": st.one_of(st.sampled_from(["shop", "my-app"]), TEXT),
                    "default_profile": PROFILE_NAMES,
                    "env_files": st.lists(
                        st.sampled_from(["?.env", ".env", "?../x.env", "/etc/hostname"]),
                        max_size=2,
                    ),
                    "base_port": st.one_of(st.integers(1024, 60000), st.integers(-5, 70000), TEXT),
                },
            )
        )
    if draw(st.booleans()):
        data["env"] = draw(st.dictionaries(VAR, st.one_of(TEXT, SCALARS), max_size=3))
    data["processes"] = draw(st.dictionaries(NAMES, process_tables(), min_size=1, max_size=3))
    profiles: dict[str, Any] = {}
    for name in draw(st.lists(PROFILE_NAMES, max_size=3, unique=True)):
        profile: dict[str, Any] = {}
        if draw(st.booleans()):
            profile["extends"] = draw(st.one_of(PROFILE_NAMES, st.lists(PROFILE_NAMES, max_size=2)))
        if draw(st.booleans()):
            profile["env"] = draw(st.dictionaries(VAR, TEXT, max_size=2))
        if draw(st.booleans()):
            profile["processes"] = draw(st.dictionaries(NAMES, process_tables(), max_size=2))
        profiles[name] = profile
    if profiles:
        data["profiles"] = profiles
    if draw(RARELY):
        data[draw(st.sampled_from(["proccesses", "tool", "x"]))] = draw(VALUES)
    return data


def resolve_everything(path: Path) -> None:
    """Resolve ``path`` for its default profile and each profile, locally and for export."""
    for export in (False, True):
        try:
            project = resolve_project(
                file=path, cwd=path.parent, environ=ENVIRON, for_export=export
            )
        except ConfigError as exc:
            assert exc.problems or str(exc)
            continue
        # the same input always gives the same model
        again = resolve_project(file=path, cwd=path.parent, environ=ENVIRON, for_export=export)
        assert project_data(again) == project_data(project)
        for profile in project.profiles:
            with contextlib.suppress(ConfigError):
                resolve_project(
                    file=path, cwd=path.parent, environ=ENVIRON, profile=profile, for_export=export
                )


@pytest.fixture(scope="module")
def workdir() -> Any:
    with tempfile.TemporaryDirectory(prefix="prodserver-props-") as directory:
        yield Path(directory)


# -- the loading path ------------------------------------------------------------------------


@SETTINGS
@given(data=configurations())
def test_any_generated_toml_resolves_or_is_a_config_error(workdir: Path, data: Any) -> None:
    path = workdir / "prodserver.toml"
    path.write_text(tomlkit.dumps(data), encoding="utf-8")
    resolve_everything(path)


@SETTINGS
@given(data=configurations())
def test_any_generated_json_resolves_or_is_a_config_error(workdir: Path, data: Any) -> None:
    path = workdir / "prodserver.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    resolve_everything(path)


@SETTINGS
@given(
    data=configurations(),
    cut=st.integers(min_value=0),
    junk=st.text(alphabet=string.printable + "\x00é\u2028", max_size=8),
)
def test_damaged_toml_is_a_config_error(workdir: Path, data: Any, cut: int, junk: str) -> None:
    text = tomlkit.dumps(data)
    at = cut % (len(text) + 1)
    path = workdir / "prodserver.toml"
    path.write_text(text[:at] + junk + text[at:], encoding="utf-8", errors="surrogatepass")
    resolve_everything(path)


@pytest.mark.parametrize(
    "yaml_text",
    [
        "~: 1\n",
        "processes: {1: {command: x}}\n",
        "processes: {w: {command: x, 2: 3}}\n",
        "processes: {w: {command: x, env: {0: a}}}\n",
        "profiles: {a: {extends: b}, 0: {}}\n",
    ],
)
def test_yaml_keys_that_are_not_strings_are_a_config_error(tmp_path: Path, yaml_text: str) -> None:
    path = tmp_path / "prodserver.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError):
        for profile in (None, "a"):
            resolve_project(file=path, cwd=tmp_path, environ=ENVIRON, profile=profile)


# -- substitution: a value is one word, inserted verbatim ------------------------------------


@SETTINGS
@given(
    value=st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=40,
    )
)
def test_a_variable_is_always_exactly_one_argument(workdir: Path, value: str) -> None:
    path = workdir / "prodserver.toml"
    path.write_text('[processes.p]\ncommand = "prog --opt ${A} end"\n', encoding="utf-8")
    project = resolve_project(file=path, cwd=workdir, environ={**ENVIRON, "A": value})
    argv = project.processes["p"].argv
    assert list(argv[1:]) == ["--opt", value, "end"]


# -- merging ---------------------------------------------------------------------------------

PLAIN_VALUES = nested(
    st.one_of(st.integers(), st.text(max_size=5), st.booleans()),
    st.sampled_from(["a", "b", "c"]),
    2,
)
PLAIN_TABLES = st.dictionaries(
    NAMES,
    st.dictionaries(st.sampled_from(["cwd", "env", "labels", "scale", "x", "y"]), PLAIN_VALUES),
    max_size=3,
)


def deep_merge(below: Any, above: Any) -> Any:
    if isinstance(below, dict) and isinstance(above, dict):
        out = dict(below)
        for key, value in above.items():
            out[key] = deep_merge(below[key], value) if key in below else value
        return out
    return above


@SETTINGS
@given(tables=st.lists(PLAIN_TABLES, min_size=1, max_size=4))
def test_merging_is_a_deep_merge_that_never_changes_its_inputs(tables: list[Any]) -> None:
    layers = [
        Layer(
            ROOT if i == 0 else f"p{i}", () if i == 0 else ("profiles", f"p{i}"), {"processes": t}
        )
        for i, t in enumerate(tables)
    ]
    before = copy.deepcopy(tables)
    merged = merge_processes(layers)
    assert tables == before, "the parent layers changed"
    expected: dict[str, Any] = {}
    for table in tables:
        expected = deep_merge(expected, table)
    assert merged.processes == expected
    # every merged key names the layer it came from
    for name, table in merged.processes.items():
        for key in table:
            assert (name, key) in merged.origins


# -- the other parsers -----------------------------------------------------------------------

ANY_TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("=:#'\"\\$ {}\n\r\t-_ab")),
        st.characters(blacklist_categories=("Cs",)),
    ),
    max_size=200,
)


@SETTINGS
@given(text=ANY_TEXT)
def test_a_dotenv_file_parses_or_is_a_config_error(text: str) -> None:
    try:
        parsed = parse_env(text, path=Path(".env"))
    except ConfigError:
        return
    for key, value in parsed.values.items():
        assert isinstance(key, str) and key and "=" not in key
        assert isinstance(value, str)


@SETTINGS
@given(text=ANY_TEXT)
def test_a_procfile_parses_or_is_a_config_error(text: str) -> None:
    try:
        parsed = parse_procfile(text, path=Path("Procfile"))
    except ConfigError:
        return
    assert parsed is not None
