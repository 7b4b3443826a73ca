"""Dependency graph step: ``depends_on`` checked across the resolved processes.

Input: the resolved specs, the names the merge produced (some disabled in this profile) and
where each process is defined. Output: the specs with dependencies on disabled processes
dropped (a warning each); a self, unknown or cyclic dependency is recorded as an error.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from prodserver import codes
from prodserver.config.context import Context
from prodserver.config.model import Dependency, ProcessSpec
from prodserver.config.sources import KeyPath


def check_dependencies(
    ctx: Context,
    specs: Mapping[str, ProcessSpec],
    merged: Collection[str],
    defined_at: Mapping[str, KeyPath],
) -> dict[str, ProcessSpec]:
    """The specs, each with only dependencies on processes that run; cycles reported."""
    out = dict(specs)
    for name, spec in specs.items():
        kept = _known(ctx, spec, specs, merged, (*defined_at[name], "depends_on"))
        if len(kept) != len(spec.depends_on):
            out[name] = spec._replace(depends_on=tuple(kept))
    _report_cycles(ctx, out, defined_at)
    return out


def _known(
    ctx: Context,
    spec: ProcessSpec,
    specs: Mapping[str, ProcessSpec],
    merged: Collection[str],
    path: KeyPath,
) -> list[Dependency]:
    from prodserver.suggest import did_you_mean

    name = spec.name
    kept: list[Dependency] = []
    for dep in spec.depends_on:
        if dep.name == name:
            ctx.out.error(codes.UNKNOWN_DEPENDENCY, f"{name!r} depends on itself", path)
        elif dep.name in specs:
            kept.append(dep)
        elif dep.name in merged:
            ctx.out.warn(
                codes.DEPENDENCY_DISABLED,
                f"{name!r} depends on {dep.name!r}, which is disabled in this profile; "
                "the dependency is ignored",
                path,
            )
        else:
            ctx.out.error(
                codes.UNKNOWN_DEPENDENCY,
                f"{name!r} depends on unknown process {dep.name!r}",
                path,
                did_you_mean(dep.name, list(specs)) or f"processes: {', '.join(specs)}",
            )
    return kept


def _report_cycles(
    ctx: Context, specs: Mapping[str, ProcessSpec], defined_at: Mapping[str, KeyPath]
) -> None:
    """One error per dependency cycle found by a depth-first walk, in file order."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for dep in specs[n].depends_on:
            if state.get(dep.name) == 1:
                cycle = [*stack[stack.index(dep.name) :], dep.name]
                ctx.out.error(
                    codes.DEPENDENCY_CYCLE,
                    f"dependency cycle: {' -> '.join(cycle)}",
                    (*defined_at[n], "depends_on"),
                    "remove one of these depends_on entries",
                )
            elif dep.name not in state:
                visit(dep.name)
        stack.pop()
        state[n] = 2

    for n in specs:
        if n not in state:
            visit(n)
