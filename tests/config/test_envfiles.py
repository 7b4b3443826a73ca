"""``.env`` files: every quoting style, strict errors with lines, and honcho compatibility."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prodserver.config.envfiles import EnvFile, parse_env, parse_env_spec, read_env_file
from prodserver.errors import ConfigError

CANARY = "CANARY-9f3b"


def write(tmp_path: Path, content: str | bytes, name: str = ".env") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode("utf-8"))
    return path


def values(tmp_path: Path, content: str | bytes) -> dict[str, str]:
    result = read_env_file(write(tmp_path, content))
    assert result is not None
    return dict(result.values)


# -- env_files entries ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (".env", (".env", False)),
        ("?.env.local", (".env.local", True)),
        ("config/prod.env", ("config/prod.env", False)),
        ("?config/dev.env", ("config/dev.env", True)),
    ],
)
def test_parse_env_spec(spec: str, expected: tuple[str, bool]) -> None:
    assert parse_env_spec(spec) == expected


@pytest.mark.parametrize("spec", ["", "?", "  ", "? "])
def test_empty_env_spec_is_an_error(spec: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_env_spec(spec)
    assert info.value.code == "PS140"


# -- the syntax, one style per test --------------------------------------------------------------


def test_plain_values(tmp_path: Path) -> None:
    assert values(tmp_path, "A=1\nB=hello world\nC=x=y\n") == {
        "A": "1",
        "B": "hello world",
        "C": "x=y",
    }


def test_export_prefix(tmp_path: Path) -> None:
    assert values(tmp_path, "export A=1\nexport  B=two\n") == {"A": "1", "B": "two"}


def test_spaces_around_equals_and_indentation(tmp_path: Path) -> None:
    assert values(tmp_path, "A = 1\n  B=2\n") == {"A": "1", "B": "2"}


def test_single_quotes_are_literal_except_escaped_quote(tmp_path: Path) -> None:
    content = "A='$HOME and ${X} and \\n'\nB='it\\'s'\n"
    assert values(tmp_path, content) == {"A": "$HOME and ${X} and \\n", "B": "it's"}


def test_double_quotes_understand_escapes(tmp_path: Path) -> None:
    content = 'A="line1\\nline2"\nB="tab\\there"\nC="say \\"hi\\""\nD="back\\\\slash"\n'
    assert values(tmp_path, content) == {
        "A": "line1\nline2",
        "B": "tab\there",
        "C": 'say "hi"',
        "D": "back\\slash",
    }


def test_multi_line_quoted_values(tmp_path: Path) -> None:
    content = "KEY=\"-----BEGIN KEY-----\nabc\n-----END KEY-----\"\nNEXT=1\nS='a\nb'\n"
    result = read_env_file(write(tmp_path, content))
    assert result is not None
    assert result.values == {
        "KEY": "-----BEGIN KEY-----\nabc\n-----END KEY-----",
        "NEXT": "1",
        "S": "a\nb",
    }
    assert result.lines == {"KEY": 1, "NEXT": 4, "S": 5}


def test_comments_and_blank_lines(tmp_path: Path) -> None:
    content = (
        "# a comment\n\n   \nA=1 # trailing comment\nB=a#b\nC='x # not a comment'\nD= # empty\n"
    )
    assert values(tmp_path, content) == {"A": "1", "B": "a#b", "C": "x # not a comment", "D": ""}


def test_empty_values(tmp_path: Path) -> None:
    assert values(tmp_path, "A=\nB=''\nC=\"\"\n") == {"A": "", "B": "", "C": ""}


def test_crlf_line_endings(tmp_path: Path) -> None:
    content = 'A=1\r\nB="two\r\nlines"\r\nC=3\r\n'
    assert values(tmp_path, content) == {"A": "1", "B": "two\nlines", "C": "3"}


def test_bom_is_ignored(tmp_path: Path) -> None:
    assert values(tmp_path, "\ufeffA=1\nB=2\n".encode()) == {"A": "1", "B": "2"}


def test_no_trailing_newline_and_unicode(tmp_path: Path) -> None:
    assert values(tmp_path, "GREETING=héllo wörld ✓") == {"GREETING": "héllo wörld ✓"}


def test_values_are_never_interpolated(tmp_path: Path) -> None:
    # Unlike python-dotenv's load_dotenv, and like honcho: ${...} is kept as text.
    content = 'A=1\nB=${A}\nC="${A:-x} $A"\nD=pa$$word\n'
    assert values(tmp_path, content) == {"A": "1", "B": "${A}", "C": "${A:-x} $A", "D": "pa$$word"}


def test_names_with_dots_and_dashes(tmp_path: Path) -> None:
    assert values(tmp_path, "spring.profile=dev\nMY-VAR=1\n_X=2\n") == {
        "spring.profile": "dev",
        "MY-VAR": "1",
        "_X": "2",
    }


def test_last_duplicate_wins_and_lines_point_at_it(tmp_path: Path) -> None:
    result = read_env_file(write(tmp_path, "A=1\nB=2\nA=3\n"))
    assert result is not None
    assert result.values == {"A": "3", "B": "2"}
    assert result.lines == {"A": 3, "B": 2}


def test_result_is_frozen(tmp_path: Path) -> None:
    path = write(tmp_path, "A=1\n")
    result = read_env_file(path)
    assert result == EnvFile(path=path, values={"A": "1"}, lines={"A": 1})
    with pytest.raises(AttributeError):
        result.path = tmp_path  # type: ignore[misc]


def test_empty_file_has_no_values(tmp_path: Path) -> None:
    assert values(tmp_path, "") == {}
    assert values(tmp_path, "# only a comment\n") == {}


# -- errors --------------------------------------------------------------------------------------


def test_missing_required_file_says_how_to_make_it_optional(tmp_path: Path) -> None:
    path = tmp_path / ".env.local"
    with pytest.raises(ConfigError) as info:
        read_env_file(path)
    err = info.value
    assert err.code == "PS101"
    assert str(path) in err.message
    assert err.location.file == path
    assert '"?.env.local"' in (err.hint or "")


def test_missing_optional_file_is_none(tmp_path: Path) -> None:
    assert read_env_file(tmp_path / ".env.local", optional=True) is None


def test_directory_instead_of_file(tmp_path: Path) -> None:
    (tmp_path / ".env").mkdir()
    for optional in (False, True):
        with pytest.raises(ConfigError, match="directory") as info:
            read_env_file(tmp_path / ".env", optional=optional)
        assert info.value.code == "PS101"


def test_dangling_symlink_is_an_error_even_when_optional(tmp_path: Path) -> None:
    link = tmp_path / ".env"
    link.symlink_to(tmp_path / "nowhere")
    with pytest.raises(ConfigError):
        read_env_file(link, optional=True)


@pytest.mark.parametrize("optional", [False, True])
def test_impossible_file_names_are_config_errors(tmp_path: Path, optional: bool) -> None:
    with pytest.raises(ConfigError):
        read_env_file(tmp_path / "a\x00b", optional=optional)
    with pytest.raises(ConfigError):
        read_env_file(tmp_path / ("x" * 5000), optional=optional)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, "A=1\n")
    path.chmod(0)
    with pytest.raises(ConfigError, match="permission denied"):
        read_env_file(path)


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, b"A=1\nB=caf\xe9\n")
    with pytest.raises(ConfigError, match="UTF-8") as info:
        read_env_file(path)
    assert info.value.location.line == 2
    assert info.value.location.file == path


def test_nul_byte_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        read_env_file(write(tmp_path, b"A=1\x00\n"))


def test_malformed_line_names_file_line_and_shows_it(tmp_path: Path) -> None:
    path = write(tmp_path, 'A=1\nB="a" trailing junk\nC=3\n')
    with pytest.raises(ConfigError) as info:
        read_env_file(path)
    err = info.value
    assert err.code == "PS141"
    assert err.location.file == path
    assert err.location.line == 2
    assert "'B=********'" in err.render()
    assert "trailing junk" not in err.render()  # a value is never shown, secret or not
    assert err.hint


def test_every_malformed_line_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "=novalue\nGOOD=1\nJUSTANAME\n'BAD KEY'=2\n")
    with pytest.raises(ConfigError) as info:
        read_env_file(path)
    problems = info.value.problems
    assert [(p.code, p.location.line) for p in problems] == [
        ("PS141", 1),
        ("PS142", 3),
        ("PS143", 4),
    ]
    assert "3 invalid lines" in info.value.message
    rendered = info.value.render()
    assert f"{path}:1" in rendered
    assert "write NAME= for an empty value" in rendered
    assert "JUSTANAME" not in rendered  # it may be a token pasted on a line of its own


def test_unterminated_quote_points_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, 'A=1\nB="never closed\nC=3\n')
    with pytest.raises(ConfigError) as info:
        read_env_file(path)
    err = info.value
    assert err.location.line == 2
    assert err.message == "cannot parse line 2: 'B=********'"
    assert "close every quote" in (err.hint or "")


def test_quote_closed_lines_later_by_mistake_names_the_span(tmp_path: Path) -> None:
    path = write(tmp_path, 'A=1\nB="never closed\nC=3\nD="x" y\nE=5\n')
    with pytest.raises(ConfigError) as info:
        read_env_file(path)
    assert info.value.location.line == 2
    assert "lines 2-4" in info.value.message


def test_a_long_malformed_line_is_not_shown(tmp_path: Path) -> None:
    path = write(tmp_path, "X" * 500 + ' "oops\n')
    with pytest.raises(ConfigError) as info:
        read_env_file(path)
    assert "XXXX" not in info.value.render()
    assert info.value.location.line == 1


def test_secret_on_a_malformed_line_is_masked(tmp_path: Path) -> None:
    path = write(tmp_path, f'SECRET_KEY="{CANARY}" oops\nDB=postgres://u:{CANARY}@h/d "x\n')
    with pytest.raises(ConfigError) as info:
        read_env_file(path)
    rendered = info.value.render()
    assert "SECRET_KEY" in rendered
    assert CANARY not in rendered


# -- properties ----------------------------------------------------------------------------------


@given(content=st.text(max_size=200))
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_only_config_errors_escape(tmp_path: Path, content: str) -> None:
    with contextlib.suppress(ConfigError):
        parse_env(content, path=tmp_path / ".env")


@given(raw=st.binary(max_size=100))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_arbitrary_bytes_only_raise_config_errors(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "fuzz.env"
    path.write_bytes(raw)
    with contextlib.suppress(ConfigError):
        read_env_file(path)


# -- compatibility with honcho --------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
# Characters both parsers read the same way in an unquoted value: no whitespace, quotes,
# backslashes or "#" (honcho's shlex treats those specially).
plain = st.text(alphabet=st.sampled_from("abcXYZ019_-./:@%+,="), min_size=1, max_size=15)
spaced = st.from_regex(r"[a-z0-9]([a-z0-9 ./:]{0,12}[a-z0-9])?", fullmatch=True)
styles = st.one_of(
    plain,  # A=value
    spaced.map(lambda v: f'"{v}"'),  # A="a value"
    spaced.map(lambda v: f"'{v}'"),  # A='a value'
    st.tuples(spaced, spaced).map(lambda p: f'"{p[0]}\\n{p[1]}"'),  # A="a\nb"
    plain.map(lambda v: f"{v} # comment"),  # A=value # comment
)
lines = st.one_of(
    st.tuples(names, styles).map(lambda p: f"{p[0]}={p[1]}"),
    st.just("# a comment"),
    st.just(""),
)


@given(content=st.lists(lines, max_size=8).map("\n".join))
def test_agrees_with_honcho_on_the_styles_both_accept(content: str) -> None:
    from honcho.environ import parse as honcho_parse

    ours = parse_env(content, path=Path(".env")).values
    assert dict(ours) == honcho_parse(content)


# -- errors say where (folded in from test_spec_review.py) ------------------------------------


def test_env_file_syntax_error_shows_the_offending_line(tmp_path):
    """Issue 2: ".env files ... an unparseable line is an error ... with its line number". The
    message for `B 2` on line 3 should say line 3, not "lines 2-3: ''". Issue 11 (3): the
    text of a line that cannot be parsed is not echoed (it may be a secret), only its line."""
    with pytest.raises(ConfigError) as exc:
        parse_env("A=1\n\nB 2\n", path=tmp_path / ".env")
    text = exc.value.render()
    assert ".env:3" in text
    assert "line 3" in text
    assert "B 2" not in text
