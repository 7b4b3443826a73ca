"""The dependency graph step: depends_on checked across the processes that run."""

from __future__ import annotations

from prodserver.config.graph import check_dependencies
from prodserver.config.model import Dependency
from tests.config.conftest import MakeContext, codes, make_spec

DEFINED = {n: ("processes", n) for n in ("web", "worker", "db", "beat")}


def deps(*names: str) -> tuple[Dependency, ...]:
    return tuple(Dependency(n) for n in names)


def test_a_dependency_on_a_disabled_process_is_dropped_with_a_warning(
    context: MakeContext,
) -> None:
    ctx = context()
    specs = {"web": make_spec("web", depends_on=deps("db", "beat")), "db": make_spec("db")}
    out = check_dependencies(ctx, specs, ["web", "db", "beat"], DEFINED)
    assert out["web"].depends_on == deps("db")
    assert specs["web"].depends_on == deps("db", "beat")  # the input is left as it was
    assert [w.code for w in ctx.out.warnings] == ["PS203"]
    assert ctx.out.problems == []


def test_self_and_unknown_dependencies_are_errors(context: MakeContext) -> None:
    ctx = context()
    specs = {
        "web": make_spec("web", depends_on=deps("web", "wroker")),
        "worker": make_spec("worker"),
    }
    check_dependencies(ctx, specs, ["web", "worker"], DEFINED)
    assert codes(ctx) == ["PS128", "PS128"]
    assert ctx.out.problems[1].hint == "did you mean 'worker'?"
    assert ctx.out.problems[0].location.key_path == "processes.web.depends_on"


def test_a_cycle_is_reported_with_its_path(context: MakeContext) -> None:
    ctx = context()
    specs = {
        "web": make_spec("web", depends_on=deps("worker")),
        "worker": make_spec("worker", depends_on=deps("db")),
        "db": make_spec("db", depends_on=deps("web")),
    }
    check_dependencies(ctx, specs, list(specs), DEFINED)
    assert codes(ctx) == ["PS129"]
    assert "web -> worker -> db -> web" in ctx.out.problems[0].message
