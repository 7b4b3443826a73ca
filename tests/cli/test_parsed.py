"""``up``'s command line read back from its record instead of parsed again (cli/parsed.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from prodserver.cli import main as cli_main
from prodserver.cli import parsed

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no private cache on Windows")

COMMAND_LINES = [
    ["up"],
    ["up", "web", "worker"],
    ["up", "-f", "other.toml", "-p", "prod", "--env-file", "a.env", "--env-file", "?b.env"],
    ["up", "--no-color", "--no-timestamps", "--log-format", "json", "--stop-timeout", "1m30s"],
    ["up", "--scale", "web=3", "--port", "7000", "--log-file", "up.log"],
    ["up", "--log-file-max-size", "64KiB", "--log-file-backups", "3", "--skip-checks"],
    ["up", "--metrics", "9100", "--allow-root", "--debug"],
    ["start", "web"],  # honcho's and foreman's name for up
]


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PRODSERVER_NO_CACHE", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / "cache" / "prodserver"


def argparse_namespace(words: list[str]) -> dict[str, object]:
    words = cli_main.hoist_global_options(words)
    chosen = cli_main._chosen_command(words)
    args = cli_main.build_parser(only=chosen).parse_args(words)
    return dict(vars(args))


@pytest.mark.parametrize("words", COMMAND_LINES, ids=" ".join)
def test_a_record_gives_back_exactly_what_argparse_returned(private_cache, words):
    chosen = cli_main._chosen_command(words)
    assert parsed.read(words, chosen) is None  # nothing known yet: argparse parses
    expected = argparse_namespace(words)
    parsed.write(words, chosen, cli_main.build_parser(only=chosen).parse_args(words))
    known = parsed.read(words, chosen)
    assert known is not None
    assert vars(known) == expected
    assert {k: type(v) for k, v in vars(known).items()} == {k: type(v) for k, v in expected.items()}


def test_another_command_line_or_environment_is_another_record(private_cache, monkeypatch):
    words = ["up", "web"]
    parsed.write(words, "up", cli_main.build_parser(only="up").parse_args(words))
    assert parsed.read(words, "up") is not None
    assert parsed.read(["up", "worker"], "up") is None
    monkeypatch.setenv("PRODSERVER_SOME_VARIABLE", "1")  # a default may read the environment
    assert parsed.read(words, "up") is None


def test_only_up_and_never_without_the_cache(private_cache, monkeypatch):
    check = ["check"]
    parsed.write(check, "check", cli_main.build_parser(only="check").parse_args(check))
    assert parsed.read(check, "check") is None
    words = ["up", "--no-cache"]
    parsed.write(words, "up", cli_main.build_parser(only="up").parse_args(words))
    monkeypatch.setenv("PRODSERVER_NO_CACHE", "1")
    parsed.write(["up"], "up", cli_main.build_parser(only="up").parse_args(["up"]))
    assert not private_cache.exists() or not list(private_cache.glob("*.args"))


def test_a_damaged_foreign_or_open_record_is_ignored(private_cache):
    words = ["up", "web"]
    parsed.write(words, "up", cli_main.build_parser(only="up").parse_args(words))
    (record,) = private_cache.glob("*.args")
    body = record.read_bytes()
    assert record.stat().st_mode & 0o777 == 0o600
    record.chmod(0o644)  # open to others: not trusted
    assert parsed.read(words, "up") is None
    record.chmod(0o600)
    assert parsed.read(words, "up") is not None
    record.write_bytes(body[:-1] + bytes([body[-1] ^ 1]))  # its SHA-256 no longer matches
    assert parsed.read(words, "up") is None
    record.write_bytes(b"not a record at all")
    assert parsed.read(words, "up") is None


def test_code_in_a_record_is_never_returned(private_cache):
    import marshal

    from prodserver import fastpath

    words = ["up"]
    parsed.write(words, "up", cli_main.build_parser(only="up").parse_args(words))
    (record,) = private_cache.glob("*.args")
    body = marshal.dumps({"names": [], "_module": compile("1", "x", "eval")})
    record.write_bytes(parsed.MAGIC + fastpath.sha256(body).digest() + body)
    assert parsed.read(words, "up") is None


def test_a_value_that_is_not_plain_data_is_not_written(private_cache):
    words = ["up"]
    args = cli_main.build_parser(only="up").parse_args(words)
    args.where = Path("x")
    parsed.write(words, "up", args)
    assert not private_cache.exists() or not list(private_cache.glob("*.args"))


def test_the_console_script_writes_and_reads_records(private_cache, monkeypatch):
    # main() as the console script calls it: the second identical start is not parsed again
    monkeypatch.setattr(sys, "argv", ["prodserver", "up", "--no-timestamps", "web"])
    seen = []
    monkeypatch.setattr(cli_main, "dispatch", lambda args: seen.append(vars(args)) or 0)
    assert cli_main.main() == 0
    assert list(private_cache.glob("*.args"))
    monkeypatch.setattr(cli_main, "build_parser", lambda *a, **k: pytest.fail("parsed again"))
    assert cli_main.main() == 0
    assert seen[0] == seen[1]
    assert os.environ.get("PRODSERVER_NO_CACHE") is None


def test_a_record_naming_another_module_is_parsed_again(private_cache, monkeypatch):
    # the record decides nothing the parser did not: it cannot make `up` import another module
    monkeypatch.setattr(sys, "argv", ["prodserver", "up", "web"])
    seen = []
    monkeypatch.setattr(cli_main, "dispatch", lambda args: seen.append(vars(args)) or 0)
    assert cli_main.main() == 0
    words = ["up", "web"]
    for planted in ({"_module": "os"}, {"names": ["web"]}):
        known = vars(parsed.read(words, "up"))
        parsed.write(words, "up", SimpleNamespace(**{**known, "_module": None, **planted}))
        assert vars(parsed.read(words, "up")).get("_module") == planted.get("_module")
        assert cli_main.main() == 0
        assert seen[-1]["_module"] == "prodserver.cli.commands.up"  # argparse's, parsed again
