"""honcho's and foreman's own Procfile and ``.env`` test vectors, run against prodserver and honcho.

The vectors are data taken from honcho's ``tests/test_environ.py`` and foreman's
``spec/foreman/procfile_spec.rb``, ``spec/foreman/engine_spec.rb`` and ``spec/spec_helper.rb``.
Each gives the same result in prodserver as in honcho (which runs here too), or is a documented
difference: its id is in ``DIFFERENCES`` with the reason, and the migration guide
(docs/guides/honcho-foreman.md) lists it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from honcho import environ as honcho

from prodserver.config.envfiles import parse_env
from prodserver.config.procfile import parse_procfile
from prodserver.config.resolve import resolve_project
from prodserver.errors import ConfigError

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "honcho-foreman.md"

#: id -> the anchor of the guide's section that explains the difference
DIFFERENCES = {
    "env-invalid-name": "env-malformed",
    "env-unicode-name": "env-malformed",
    "env-unquoted-backslash": "env-escapes",
    "env-single-quoted-escapes": "env-escapes",
    "procfile-invalid-name": "procfile-strict",
    "procfile-dash-name": "procfile-strict",
}

# (id, .env text, what honcho and foreman read)
ENV_VECTORS = [
    ("env-simple", "FOO=bar\n", {"FOO": "bar"}),
    ("env-two", "FOO=bar\nBAZ=qux\n", {"FOO": "bar", "BAZ": "qux"}),
    ("env-no-newline", "FOO=bar", {"FOO": "bar"}),
    ("env-comment", "#commented: command\n", {}),
    ("env-invalid-name", "-foo=command\n", {}),
    ("env-single-quoted", "MYVAR='hello\"world'\n", {"MYVAR": 'hello"world'}),
    ("env-double-quoted", 'MYVAR="hello\'world"\n', {"MYVAR": "hello'world"}),
    ("env-quotes-surrounded", "MYVAR='\"surrounded\"'\n", {"MYVAR": '"surrounded"'}),
    ("env-unquoted-backslash", 'MYVAR=\\"escaped\\"\n', {"MYVAR": '"escaped"'}),
    ("env-at-sign", "MYVAR=user@domain.com\n", {"MYVAR": "user@domain.com"}),
    ("env-punctuation", "MYVAR=~pun|u@|0n$=\n", {"MYVAR": "~pun|u@|0n$="}),
    ("env-unicode-value", "MYVAR=\u22c3\u00f1\u1d09\n", {"MYVAR": "\u22c3\u00f1\u1d09"}),
    ("env-unicode-name", "\u1e40\u1e8e=value\n", {}),
    ("env-quoted-space", "MYVAR='sp ace'\n", {"MYVAR": "sp ace"}),
    (
        "env-single-quoted-escapes",
        "TABS='foo\\tbar'\nNEWLINES='foo\\nbar'\nDOLLAR='foo\\$bar'\n",
        {"TABS": "foo\tbar", "NEWLINES": "foo\nbar", "DOLLAR": "foo\\$bar"},
    ),
    # foreman spec/foreman/engine_spec.rb
    (
        "foreman-quoted-values",
        'FOO=bar\nBAZ="qux"\nFRED=\'barney\'\nOTHER="escaped\\"quote"\n'
        'URL="http://example.com/api?foo=bar&baz=1"\n',
        {
            "FOO": "bar",
            "BAZ": "qux",
            "FRED": "barney",
            "OTHER": 'escaped"quote',
            "URL": "http://example.com/api?foo=bar&baz=1",
        },
    ),
    ("foreman-multiline", 'FOO="bar\\nbaz"\n', {"FOO": "bar\nbaz"}),
]

# what prodserver reads where it differs on purpose (None: an error naming the line)
OURS = {
    "env-invalid-name": None,
    "env-unicode-name": None,
    "env-unquoted-backslash": {"MYVAR": '\\"escaped\\"'},
    "env-single-quoted-escapes": {
        "TABS": "foo\\tbar",
        "NEWLINES": "foo\\nbar",
        "DOLLAR": "foo\\$bar",
    },
}

# (id, Procfile text, processes honcho and foreman read)
PROCFILE_VECTORS = [
    ("procfile-simple", "web: command\n", {"web": "command"}),
    (
        "procfile-two",
        "foo: python foo.py\nbar: python bar.py\n",
        {"foo": "python foo.py", "bar": "python bar.py"},
    ),
    ("procfile-no-newline", "web: command", {"web": "command"}),
    ("procfile-comment-only", "#commented: command\nweb: x\n", {"web": "x"}),
    ("procfile-invalid-name", "+foo: command\nweb: x\n", {"web": "x"}),
    ("procfile-dash-name", "-foo_bar: command\n", {"-foo_bar": "command"}),
    (
        "procfile-shell-metacharacters",
        'web: sh -c "echo $FOOBAR" >/dev/null 2>&1\n',
        {"web": 'sh -c "echo $FOOBAR" >/dev/null 2>&1'},
    ),
    (
        "procfile-ordered",
        "one: onecommand\ntwo: twocommand\nthree: twocommand\nfour: fourcommand\n",
        {"one": "onecommand", "two": "twocommand", "three": "twocommand", "four": "fourcommand"},
    ),
    # foreman spec/spec_helper.rb write_procfile and spec/resources/Procfile
    (
        "foreman-write-procfile",
        "alpha: ./alpha\n\nbravo:\t./bravo\nfoo_bar:\t./foo_bar\nfoo-bar:\t./foo-bar\n"
        "# baz:\t./baz\n",
        {"alpha": "./alpha", "bravo": "./bravo", "foo_bar": "./foo_bar", "foo-bar": "./foo-bar"},
    ),
    (
        "foreman-resources",
        "echo: bin/echo echoing\nenv:  bin/env  FOO\ntest: bin/test\nutf8: bin/utf8\n"
        "ps:   bin/echo PS env var is $PS\n",
        {
            "echo": "bin/echo echoing",
            "env": "bin/env  FOO",
            "test": "bin/test",
            "utf8": "bin/utf8",
            "ps": "bin/echo PS env var is $PS",
        },
    ),
]


def test_every_difference_is_in_the_migration_guide() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    for anchor in set(DIFFERENCES.values()):
        assert f"{{ #{anchor} }}" in guide, anchor
    ids = {v[0] for v in ENV_VECTORS} | {v[0] for v in PROCFILE_VECTORS}
    assert set(DIFFERENCES) <= ids


@pytest.mark.parametrize(("vid", "text", "expected"), ENV_VECTORS, ids=[v[0] for v in ENV_VECTORS])
def test_env_vector(vid: str, text: str, expected: dict[str, str]) -> None:
    if not vid.startswith("foreman"):
        assert honcho.parse(textwrap.dedent(text)) == expected  # the vector is honcho's
    path = Path("/project/.env")
    want = OURS.get(vid, expected) if vid in DIFFERENCES else expected
    if want is None:
        with pytest.raises(ConfigError) as exc:
            parse_env(text, path=path)
        assert exc.value.location is not None and exc.value.location.line == 1
        assert "is not a valid variable name" in exc.value.message
        return
    assert dict(parse_env(text, path=path).values) == want


@pytest.mark.parametrize(
    ("vid", "text", "expected"), PROCFILE_VECTORS, ids=[v[0] for v in PROCFILE_VECTORS]
)
def test_procfile_vector(vid: str, text: str, expected: dict[str, str]) -> None:
    assert dict(honcho.parse_procfile(text).processes) == expected  # honcho reads it so
    path = Path("/project/Procfile")
    if vid in DIFFERENCES:
        # honcho skips or accepts a name that cannot be a file name; prodserver says so
        with pytest.raises(ConfigError) as exc:
            parse_procfile(text, path=path)
        assert exc.value.code in ("PS160", "PS161")
        assert exc.value.location is not None and exc.value.location.line == 1
        return
    assert parse_procfile(text, path=path).commands() == expected


def test_an_empty_procfile_is_an_error_as_in_foreman() -> None:
    # foreman: "raises an error if Procfile is empty" (EmptyFileError)
    with pytest.raises(ConfigError) as exc:
        parse_procfile("\n", path=Path("Procfile"))
    assert exc.value.message == "the Procfile defines no processes"


# honcho's expand_processes port vectors: (processes, concurrency, base from, expected PORTs)
PORT_VECTORS = [
    ("one", {"foo": 1}, {}, [("foo", 1, 5000)]),
    ("port-flag", {"foo": 1, "bar": 1}, {"port": 8000}, [("foo", 1, 8000), ("bar", 1, 8100)]),
    ("env-port", {"foo": 1, "bar": 1}, {"dotenv": "8000"}, [("foo", 1, 8000), ("bar", 1, 8100)]),
    (
        "concurrency",
        {"foo": 3, "bar": 2},
        {"port": 4000},
        [("foo", 1, 4000), ("foo", 2, 4001), ("foo", 3, 4002), ("bar", 1, 4100), ("bar", 2, 4101)],
    ),
    # foreman engine_spec: "should set port from .env if specified"
    ("foreman-dotenv", {"web": 1}, {"dotenv": "9000"}, [("web", 1, 9000)]),
]


@pytest.mark.parametrize(
    ("vid", "scale", "base", "expected"), PORT_VECTORS, ids=[v[0] for v in PORT_VECTORS]
)
def test_port_vector(
    vid: str,
    scale: dict[str, int],
    base: dict[str, object],
    expected: list[tuple[str, int, int]],
    tmp_path: Path,
) -> None:
    (tmp_path / "Procfile").write_text("".join(f"{name}: run {name}\n" for name in scale))
    if "dotenv" in base:
        (tmp_path / ".env").write_text(f"PORT={base['dotenv']}\n")
    port = base.get("port")
    project = resolve_project(
        cwd=tmp_path,
        environ={"PATH": "/usr/bin:/bin"},
        scale=scale,
        port=port if isinstance(port, int) else None,
    )
    got = [
        (name, inst.number, int(inst.env["PORT"]))
        for name, spec in project.processes.items()
        for inst in spec.instances
    ]
    assert got == expected
    concurrency = {k: v for k, v in scale.items() if v > 1}
    env = {"PORT": base["dotenv"]} if "dotenv" in base else {}
    theirs = honcho.expand_processes(
        {name: f"run {name}" for name in scale},
        concurrency=concurrency,
        env=env,
        port=port if port or env else 5000,  # `honcho start` defaults the base to 5000
    )
    assert [int(p.env["PORT"]) for p in theirs] == [p for _, _, p in expected]
