"""The process step: a merged table built into a spec and its copies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prodserver.config.context import Context
from prodserver.config.instances import Shared
from prodserver.config.model import ProcessSpec
from prodserver.config.process import copies, key_paths, resolve_process
from prodserver.template import Ref, Template
from tests.config.conftest import MakeContext, codes


def build(
    ctx: Context, table: Mapping[str, Any], position: int = 0, **shared: str
) -> ProcessSpec | None:
    where = key_paths("web", {}, ("processes", "web"))
    return resolve_process(ctx, "web", table, where, position=position, shared=Shared(shared))


def test_a_key_is_located_in_the_layer_that_set_it() -> None:
    origins = {("web", "env"): ("profiles", "prod", "processes", "web", "env")}
    where = key_paths("web", origins, ("processes", "web"))
    assert where("env", "A") == ("profiles", "prod", "processes", "web", "env", "A")
    assert where("command") == ("processes", "web", "command")


def test_copies_get_consecutive_ports_and_their_own_identity(context: MakeContext) -> None:
    ctx = context()
    spec = build(ctx, {"command": "serve --port ${PORT}", "scale": 2}, position=1)
    assert spec is not None
    assert [i.port for i in spec.instances] == [5100, 5101]
    assert spec.instances[1].argv == ("serve", "--port", "5101")
    assert spec.instances[1].env["PRODSERVER_INSTANCE"] == "2"
    assert spec.instances[0].env["PRODSERVER_PROCESS"] == "web"
    assert spec.argv == ("serve", "--port", "5100")
    assert ctx.prov.process_env["web"]["PORT"].layer.startswith("assigned: default base 5000")


def test_the_process_env_layer_sees_the_port_and_is_recorded(context: MakeContext) -> None:
    ctx = context()
    spec = build(ctx, {"command": "serve", "env": {"URL": "http://x:${PORT}", "A": "${S}"}}, S="1")
    assert spec is not None
    assert dict(spec.env) == {"URL": "http://x:5000", "A": "1"}
    assert spec.instances[0].env["S"] == "1"
    assert ctx.prov.process_env["web"]["URL"].layer == "process env"
    assert {"URL", "A"} <= ctx.config_names


def test_a_process_that_does_not_run_gives_no_spec(context: MakeContext) -> None:
    ctx = context()
    assert build(ctx, {"command": "x", "enabled": False}) is None
    assert build(ctx, {"command": "x", "scale": 0}) is None
    assert build(ctx, {"command": "x", "scale": 100000}) is None
    assert build(ctx, {"command": "x", "backend": "nope"}) is None
    assert codes(ctx) == ["PS137", "PS120"]


def test_an_unknown_key_is_reported_with_a_guess(context: MakeContext) -> None:
    ctx = context()
    build(ctx, {"command": "x", "comand": "y"})
    assert codes(ctx) == ["PS122"]
    assert ctx.out.problems[0].hint == "did you mean 'command'?"


def test_scale_from_the_command_line_wins(context: MakeContext) -> None:
    ctx = context(scale={"web": 3})
    from prodserver.backends.registry import get_backend
    from prodserver.config.context import ProcessEntry

    proc = ProcessEntry("web", {"scale": 1}, get_backend("command"), lambda *k: k)
    assert copies(ctx, proc, {}) == 3


def test_an_export_numbers_copies_by_reference_and_keeps_port(context: MakeContext) -> None:
    ctx = context(export=True)
    spec = build(ctx, {"command": "work --port ${PORT}", "scale": 2})
    assert spec is not None
    assert spec.words[2] == Template((Ref("PORT"),))
    assert spec.instances[1].argv[2] == "5001"  # materialised for the copy's port
    assert "PORT" in ctx.kept_refs
    # a backend that names each copy (Celery's node name) gets the copy's number as a reference
    worker = build(ctx, {"backend": "celery-worker", "app": "shop", "scale": 2})
    assert worker is not None
    named = [w for w in worker.numbered_words if not w.is_literal]
    assert named == [Template(("web.", Ref("PRODSERVER_INSTANCE"), "@%h"))]
    assert not any("PRODSERVER_INSTANCE" in w for w in worker.argv)


def test_spec_fields_come_from_the_values(context: MakeContext) -> None:
    ctx = context()
    spec = build(
        ctx,
        {
            "command": "x",
            "stop_signal": "INT",
            "restart": "always",
            "depends_on": ["db"],
            "labels": {"team": "a"},
            "shell": True,
        },
    )
    assert spec is not None
    assert spec.stop_signal.name == "SIGINT"
    assert spec.restart.mode == "always"
    assert [d.name for d in spec.depends_on] == ["db"]
    assert dict(spec.labels) == {"team": "a"}
    assert spec.kill_mode == "group" and spec.shell
