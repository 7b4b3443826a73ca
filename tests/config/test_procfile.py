"""Procfile parsing: foreman/honcho syntax, strict errors with line numbers, compatibility."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prodserver.config.procfile import (
    ProcfileEntry,
    ProcfileParse,
    parse_procfile,
    read_procfile,
)
from prodserver.config.shellline import unquoted
from prodserver.errors import ConfigError

PATH = Path("/app/Procfile")


def parse(text: str) -> ProcfileParse:
    return parse_procfile(text, path=PATH)


def error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(text)
    return info.value


# -- what is accepted ----------------------------------------------------------------------------


def test_entries_in_order_with_lines() -> None:
    text = "web: gunicorn app.wsgi --bind 0.0.0.0:$PORT\nworker: celery -A app worker\n"
    assert parse(text).entries == (
        ProcfileEntry("web", "gunicorn app.wsgi --bind 0.0.0.0:$PORT", 1),
        ProcfileEntry("worker", "celery -A app worker", 2),
    )
    assert parse(text).warnings == ()


def test_commands_as_mapping() -> None:
    assert parse("b: 2\na: 1\n").commands() == {"b": "2", "a": "1"}


def test_blank_lines_and_comments_are_ignored_and_lines_still_count() -> None:
    text = "# processes\n\n   \n  # indented comment\nweb: run\n#worker: disabled\nclock: tick\n"
    assert [(e.name, e.line) for e in parse(text).entries] == [("web", 5), ("clock", 7)]


def test_whitespace_after_colon_is_optional_and_not_part_of_the_command() -> None:
    assert parse("web:run\nworker:   \tgo now\n").commands() == {"web": "run", "worker": "go now"}


def test_command_is_kept_as_written() -> None:
    # Splitting into words is the resolver's job; colons, quotes and "#" belong to the command.
    command = """sh -c 'echo "a: b" # not a comment' && redis://h:1"""
    assert parse(f"web: {command}").commands() == {"web": command}


def test_names_may_use_letters_digits_underscore_and_dash() -> None:
    names = ["web", "Web2", "release_phase", "worker-high", "1st", "a"]
    text = "".join(f"{name}: run {name}\n" for name in names)
    assert list(parse(text).commands()) == names


def test_crlf_and_bom_are_accepted() -> None:
    assert parse("\ufeffweb: run\r\nworker: go\r\n").commands() == {"web": "run", "worker": "go"}


def test_no_final_newline() -> None:
    assert parse("web: run").commands() == {"web": "run"}


def test_names_that_differ_only_in_case_warn() -> None:
    result = parse("web: a\nWEB: b\n")
    assert result.commands() == {"web": "a", "WEB": "b"}
    (warning,) = result.warnings
    assert warning.code == "PS165"
    assert warning.severity == "warning"
    assert warning.location.line == 2
    assert "'web' (line 1)" in warning.message


# -- what is refused -----------------------------------------------------------------------------


def test_unparseable_line_names_its_number_and_shows_it() -> None:
    err = error("web: run\nthis is not a process\nworker: go\n")
    assert err.code == "PS160"
    assert err.location.file == PATH
    assert err.location.line == 2
    assert "'this is not a process'" in err.message
    assert "name: command" in (err.hint or "")


def test_indented_entry_is_an_error_not_silently_skipped() -> None:
    err = error("web: run\n  worker: go\n")
    assert err.code == "PS160"
    assert err.location.line == 2
    assert "indented" in err.message
    assert "leading whitespace" in (err.hint or "")


def test_space_before_colon() -> None:
    err = error("web : run\n")
    assert err.code == "PS160"
    assert "`web: <command>`" in (err.hint or "")


def test_duplicate_name_names_both_lines() -> None:
    err = error("web: a\nworker: b\nweb: c\n")
    assert err.code == "PS162"
    assert err.location.line == 3
    assert "lines 1 and 3" in err.message


def test_empty_procfile_is_an_error() -> None:
    for text in ("", "\n\n", "# nothing yet\n", "\ufeff"):
        err = error(text)
        assert err.code == "PS163"
        assert err.location.file == PATH
        assert "web:" in (err.hint or "")


@pytest.mark.parametrize("text", ["web:\n", "web:   \n", "web:\t\n"])
def test_entry_without_command(text: str) -> None:
    err = error(text)
    assert err.code == "PS164"
    assert "'web' has no command" in err.message


@pytest.mark.parametrize(
    ("line", "suggestion"),
    [
        ("web.1: run", "'web-1'"),
        ("api/v2: run", "'api-v2'"),
        ("../etc: run", "'etc'"),
        ("-web: run", "'web'"),
        ("--: run", "'web'"),
        ("wéb: run", "'w-b'"),
        ("a*b: run", "'a-b'"),
    ],
)
def test_name_unsafe_as_a_file_name_gets_a_suggestion(line: str, suggestion: str) -> None:
    err = error(line + "\n")
    assert err.code == "PS161"
    assert "not safe as a file name" in err.message
    assert suggestion in (err.hint or "")


def test_every_problem_is_reported_at_once() -> None:
    err = error("web.1: a\nweb: b\ngarbage here\nweb: c\nclock:\n")
    assert [(p.code, p.location.line) for p in err.problems] == [
        ("PS161", 1),
        ("PS160", 3),
        ("PS162", 4),
        ("PS164", 5),
    ]
    assert "4 invalid lines" in err.message
    rendered = err.render()
    assert "/app/Procfile:3" in rendered
    assert "4 errors" in rendered


def test_long_line_is_truncated_in_the_message() -> None:
    err = error("x " * 300 + "\n")
    assert "..." in err.message
    assert len(err.message) < 150


def test_url_password_in_a_bad_line_is_masked() -> None:
    err = error("  worker: celery --broker redis://:CANARY-9f3b@h/0 worker\n")
    assert "CANARY-9f3b" not in err.render()


# -- files ---------------------------------------------------------------------------------------


def test_read_procfile(tmp_path: Path) -> None:
    path = tmp_path / "Procfile"
    path.write_bytes(b"\xef\xbb\xbfweb: run\r\n")
    result = read_procfile(path)
    assert result.entries == (ProcfileEntry("web", "run", 1),)


def test_read_missing_procfile(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as info:
        read_procfile(tmp_path / "Procfile")
    assert info.value.location.file == tmp_path / "Procfile"


def test_read_directory_instead_of_procfile(tmp_path: Path) -> None:
    (tmp_path / "Procfile").mkdir()
    with pytest.raises(ConfigError, match="directory"):
        read_procfile(tmp_path / "Procfile")


def test_read_non_utf8_procfile_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "Procfile"
    path.write_bytes(b"web: run\nworker: caf\xe9\n")
    with pytest.raises(ConfigError, match="UTF-8") as info:
        read_procfile(path)
    assert info.value.location.line == 2


def test_impossible_procfile_names_are_config_errors(tmp_path: Path) -> None:
    for path in (tmp_path / "a\x00b", tmp_path / ("x" * 5000)):
        with pytest.raises(ConfigError):
            read_procfile(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_read_unreadable_procfile(tmp_path: Path) -> None:
    path = tmp_path / "Procfile"
    path.write_text("web: run\n")
    path.chmod(0)
    with pytest.raises(ConfigError, match="permission denied"):
        read_procfile(path)


# -- properties and compatibility with honcho ----------------------------------------------------


@given(text=st.text(max_size=200))
@settings(max_examples=300)
def test_only_config_errors_escape(text: str) -> None:
    with contextlib.suppress(ConfigError):
        parse(text)


@given(raw=st.binary(max_size=100))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_arbitrary_bytes_only_raise_config_errors(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "Procfile"
    path.write_bytes(raw)
    with contextlib.suppress(ConfigError):
        read_procfile(path)


def honcho_commands(text: str) -> dict[str, str]:
    from honcho.environ import parse_procfile as honcho_parse

    return dict(honcho_parse(text).processes)


names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,10}", fullmatch=True)  # PS161 otherwise
# Any command text on one line that does not start or consist of whitespace, and that sh can
# parse (an unterminated quote is PS104: tested on its own below).
commands = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Zl", "Zp", "Cc"]), min_size=1, max_size=30
).filter(lambda c: not c[0].isspace() and unquoted(c) is not None)
entry_lines = st.tuples(names, st.sampled_from(["", " ", "  ", "\t"]), commands)
other_lines = st.sampled_from(["", "   ", "# comment", "  # indented comment", "#web: off"])


@st.composite
def procfiles(draw: st.DrawFn) -> str:
    entries = draw(st.lists(entry_lines, min_size=1, max_size=6, unique_by=lambda e: e[0]))
    lines = [f"{name}:{space}{command}" for name, space, command in entries]
    for _ in range(draw(st.integers(0, 4))):
        lines.insert(draw(st.integers(0, len(lines))), draw(other_lines))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(lines) + draw(st.sampled_from(["", newline]))


@given(text=procfiles())
@settings(max_examples=300)
def test_every_valid_procfile_means_the_same_to_honcho(text: str) -> None:
    assert parse(text).commands() == honcho_commands(text)


@given(text=st.one_of(procfiles(), st.text(max_size=120)))
@settings(max_examples=300)
def test_whatever_we_accept_honcho_reads_the_same_way(text: str) -> None:
    try:
        ours = parse(text).commands()
    except ConfigError:
        return
    assert ours == honcho_commands(text)


@pytest.mark.parametrize(
    "command", ['echo "unterminated', "echo 'open", "echo $(date", "echo `date"]
)
def test_a_line_sh_cannot_parse_is_an_error(tmp_path: Path, command: str) -> None:
    """sh itself refuses these lines: check says so before anything runs (PS104)."""
    import subprocess

    assert subprocess.run(["/bin/sh", "-n", "-c", command], capture_output=True).returncode != 0
    path = tmp_path / "Procfile"
    path.write_text(f"web: {command}\nok: echo hi\n")
    with pytest.raises(ConfigError) as caught:
        parse_procfile(path.read_text(), path=path)
    assert caught.value.code == "PS104"
    assert str(caught.value) == (
        "the command of 'web' has an unterminated quote or substitution: sh cannot parse it"
    )
