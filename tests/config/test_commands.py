"""The command step: one copy's argv, built by its backend or by /bin/sh."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prodserver.backends.registry import get_backend
from prodserver.config.commands import backend_context, build_argv, cwd_for, numbered_argv
from prodserver.config.context import ProcessEntry
from prodserver.config.target import INSTANCE
from prodserver.template import Ref, Template
from tests.config.conftest import MakeContext, codes


def entry(table: Mapping[str, Any], backend: str = "command") -> ProcessEntry:
    return ProcessEntry("web", table, get_backend(backend), lambda *k: ("processes", "web", *k))


def test_a_command_gets_its_args_appended(context: MakeContext) -> None:
    ctx = context()
    values = {"command": ["serve", "--fast"], "args": ["-v", 2]}
    assert build_argv(ctx, entry(values), values, {}) == ["serve", "--fast", "-v", "2"]


def test_a_shell_command_runs_under_sh_with_exec(context: MakeContext) -> None:
    ctx = context()
    values = {"command": "serve --port $PORT", "shell": True, "args": ["a b"]}
    argv = build_argv(ctx, entry(values), values, {})
    assert argv == ["/bin/sh", "-c", "exec serve --port $PORT 'a b'"]


def test_a_shell_without_a_command_or_an_empty_command_is_an_error(
    context: MakeContext,
) -> None:
    ctx = context()
    assert build_argv(ctx, entry({"shell": True}), {"shell": True}, {}) is None
    assert build_argv(ctx, entry({}), {"command": [""]}, {}) is None
    assert codes(ctx) == ["PS126", "PS126"]


def test_a_backend_builds_argv_from_the_copys_facts(context: MakeContext) -> None:
    ctx = context()
    values = {"app": "shop.wsgi", "workers": 2}
    argv = build_argv(ctx, entry(values, "gunicorn"), values, {"PORT": "5100"})
    assert argv is not None and "shop.wsgi" in argv
    assert any("5100" in word for word in argv)
    facts = backend_context(ctx, entry(values), values, {"PORT": "5100", "A": "1"})
    assert facts.env["A"] == "1"
    assert (facts.port, facts.process, facts.root) == (5100, "web", ctx.root)


def test_an_export_numbers_copies_by_reference(context: MakeContext) -> None:
    ctx = context(export=True)
    table = {"command": "worker --name w${PRODSERVER_INSTANCE}"}
    argv = numbered_argv(ctx, entry(table), {})
    assert argv is not None
    assert argv[:2] == ("worker", "--name")
    assert ctx.placeholders.decode(argv[2]) == Template(("w", Ref(INSTANCE)))


def test_the_working_directory_is_relative_to_the_root(context: MakeContext) -> None:
    ctx = context()
    assert cwd_for(ctx, {}) == ctx.root
    assert cwd_for(ctx, {"cwd": "src"}) == ctx.root / "src"
    assert cwd_for(ctx, {"cwd": "/srv"}) == Path("/srv")
