"""The configuration package's modules: each imports alone, in a fresh interpreter, and none
imports another back at import time.

Module-level imports only: an import inside a function is deliberate (it keeps the CLI's
import path short) and cannot form a cycle at import time.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "prodserver" / "config"
MODULES = sorted(
    f"prodserver.config.{p.stem}" for p in PACKAGE.glob("*.py") if p.stem != "__init__"
)


def module_imports(path: Path) -> set[str]:
    """The prodserver modules ``path`` imports at module level (not under TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle a depth-first walk of ``graph`` meets, each as its path."""
    state: dict[str, int] = {}
    found: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                found.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_module_level_import_cycle_in_the_package() -> None:
    graph = {m: module_imports(PACKAGE / f"{m.rsplit('.', 1)[1]}.py") for m in MODULES}
    assert cycles(graph) == []


def test_the_check_reads_imports_and_finds_cycles(tmp_path: Path) -> None:
    source = "from prodserver.config import expand\nfrom prodserver.config.resolve import x\n"
    (tmp_path / "a.py").write_text(source, encoding="utf-8")
    found = module_imports(tmp_path / "a.py")
    assert found == {"prodserver.config.expand", "prodserver.config.resolve"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_alone(module: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
