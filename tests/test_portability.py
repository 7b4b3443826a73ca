"""Every module loads on every system: at import time, only signals every system has.

Python on Windows has no ``signal.SIGHUP``, ``SIGQUIT``, ``SIGKILL``, ``SIGUSR1``... A module that
names one at import time (a module constant, a class attribute, a default argument) cannot even
be imported there, so ``prodserver export`` or ``check`` would crash on a Windows laptop that
writes files for a Linux server. Inside a function that runs only on POSIX it is fine.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

#: the signals Python defines on Windows (``signal.valid_signals()`` there, plus SIGBREAK)
EVERYWHERE = {"SIGABRT", "SIGBREAK", "SIGFPE", "SIGILL", "SIGINT", "SIGSEGV", "SIGTERM"}


def _import_time_nodes(tree: ast.Module) -> list[ast.AST]:
    """What runs when the module is imported: its body and its classes' bodies, and default
    values of functions, but not the functions' own bodies."""
    found: list[ast.AST] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found += [*node.args.defaults, *node.args.kw_defaults, *node.decorator_list]
        elif isinstance(node, ast.ClassDef):
            pending += node.body
            found += [*node.bases, *node.decorator_list]
        elif isinstance(node, ast.If) and _posix_only(node.test):
            pending += node.orelse
        else:
            found.append(node)
    return [n for n in found if n is not None]


def _posix_only(test: ast.expr) -> bool:
    """``if sys.platform != "win32":`` (and the like): a branch Windows never runs."""
    text = ast.unparse(test)
    return ("win32" in text and "!=" in text) or "TYPE_CHECKING" in text


def test_no_module_names_a_posix_only_signal_at_import_time():
    offenders = []
    for path in sorted((REPO / "prodserver").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for top in _import_time_nodes(tree):
            for node in ast.walk(top):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "signal"
                    and node.attr.startswith("SIG")
                    and node.attr not in EVERYWHERE
                    and not node.attr.startswith("SIG_")
                ):
                    offenders.append(f"{Path(path).relative_to(REPO)}:{node.lineno} {node.attr}")
    assert not offenders
