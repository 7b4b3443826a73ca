"""The package's layers, checked on its source: what may import what.

- ``config/`` turns files into the model and never opens a socket or runs a program (the checks
  that do are ``checks/``);
- ``backends/`` and ``schema/`` do not import ``config/`` at all (they share the declarations in
  ``options.py`` and ``declarations/``, and the source types in ``rawsource.py``), and
  ``declarations/`` imports nothing of ``config``, ``schema`` or ``backends``;
- no module imports, at import time, a module that imports it back;
- the modules of ``config/`` and ``runtime/`` stay under 400 lines, their functions under 60.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "prodserver"


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(REPO).with_suffix("").parts)
    return name.removesuffix(".__init__")


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    """Every module ``path`` imports (``from a.b import c`` counts as ``a.b`` and ``a.b.c``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_config_opens_no_socket_and_runs_no_program():
    forbidden = {"socket", "subprocess", "urllib.request", "http.client", "asyncio"}
    offenders = {
        str(path.relative_to(REPO)): sorted(_imports(path, top_level_only=False) & forbidden)
        for path in (PACKAGE / "config").rglob("*.py")
    }
    assert not {k: v for k, v in offenders.items() if v}, "move such checks to prodserver/checks/"


def _reaching(packages: tuple[str, ...], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    offenders: dict[str, list[str]] = {}
    for package in packages:
        for path in (PACKAGE / package).rglob("*.py"):
            reached = {
                name
                for name in _imports(path, top_level_only=False)
                if any(name == f or name.startswith(f"{f}.") for f in forbidden)
            }
            if reached:
                offenders[str(path.relative_to(REPO))] = sorted(reached)
    return offenders


def test_backends_and_schema_do_not_import_config():
    assert not _reaching(("backends", "schema"), ("prodserver.config",))


def test_declarations_import_only_the_declaration_type():
    forbidden = ("prodserver.config", "prodserver.schema", "prodserver.backends")
    assert not _reaching(("declarations",), forbidden)


def test_no_import_cycle_between_modules_at_import_time():
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {
        name: {dep for dep in _imports(path, top_level_only=True) if dep in modules} - {name}
        for name, path in modules.items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, cycles


#: the size at which a module of the resolver or the runtime is doing more than one thing
MAX_MODULE_LINES = 400
#: ... and a function more than one step
MAX_FUNCTION_LINES = 60


def test_resolver_and_runtime_modules_and_functions_stay_small():
    too_big: list[str] = []
    for package in ("config", "runtime"):
        for path in sorted((PACKAGE / package).glob("*.py")):
            source = path.read_text(encoding="utf-8")
            name = path.relative_to(REPO)
            lines = len(source.splitlines())
            if lines > MAX_MODULE_LINES:
                too_big.append(f"{name}: {lines} lines")
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length > MAX_FUNCTION_LINES:
                        too_big.append(f"{name}:{node.lineno} {node.name}(): {length} lines")
    assert too_big == []
