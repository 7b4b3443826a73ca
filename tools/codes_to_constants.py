"""Replace every ``"PSnnn"`` string literal in the package by its constant in prodserver/codes.py.

.venv/bin/python tools/codes_to_constants.py          # rewrite the files, then ruff them
.venv/bin/python tools/codes_to_constants.py --check  # exit 1 if a literal is left

Idempotent: a file without such a literal is not touched, so it can run again after merges.
Only a string token that is exactly a code is replaced (``code="PS122"``); a code inside longer
text (a docstring, a message, a regular expression) stays text. Each changed file gets
``from prodserver import codes`` (``codes as error_codes`` where the module binds ``codes``
itself, as an exporter's exit-code list does), then ``ruff check --fix`` (import order) and
``ruff format`` (line length) run on the changed files.
"""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "prodserver"
sys.path.insert(0, str(ROOT))

_LITERAL = re.compile(r"""^(?:"(PS\d{3})"|'(PS\d{3})')$""")
_SKIP = {PACKAGE / "codes.py"}


def constant_names() -> dict[str, str]:
    """Code -> the name of its constant in prodserver/codes.py."""
    from prodserver import codes

    names: dict[str, str] = {}
    for name, value in vars(codes).items():
        if name.isupper() and isinstance(value, str) and value in codes.CATALOGUE:
            names[value] = name
    return names


def _binds_codes(tree: ast.AST) -> bool:
    """Whether the module binds the name ``codes`` itself (a variable, an argument)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "codes" and isinstance(node.ctx, ast.Store):
            return True
        if isinstance(node, ast.arg) and node.arg == "codes":
            return True
    return False


def _replacements(
    text: str, names: dict[str, str]
) -> list[tuple[tuple[int, int], tuple[int, int], str]]:
    found = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type != tokenize.STRING:
            continue
        match = _LITERAL.match(token.string)
        if match:
            code = match.group(1) or match.group(2)
            if code not in names:
                raise SystemExit(f"{code} is not in prodserver/codes.py: add it first")
            found.append((token.start, token.end, names[code]))
    return found


def _offset(lines: list[str], position: tuple[int, int]) -> int:
    row, column = position
    return sum(len(line) for line in lines[: row - 1]) + column


def _add_import(text: str, alias: str) -> str:
    statement = "from prodserver import codes" + (" as error_codes" if alias != "codes" else "")
    if re.search(rf"^{re.escape(statement)}$", text, re.MULTILINE):
        return text
    tree = ast.parse(text)
    last = None
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            last = node
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        else:
            break
    lines = text.splitlines(keepends=True)
    at = last.end_lineno if last is not None and last.end_lineno is not None else 0
    lines.insert(at, statement + "\n")
    return "".join(lines)


def convert(path: Path, names: dict[str, str]) -> bool:
    """Rewrite ``path``; whether it changed."""
    text = path.read_text(encoding="utf-8")
    found = _replacements(text, names)
    if not found:
        return False
    alias = "error_codes" if _binds_codes(ast.parse(text)) else "codes"
    lines = text.splitlines(keepends=True)
    for start, end, name in reversed(found):
        a, b = _offset(lines, start), _offset(lines, end)
        text = text[:a] + f"{alias}.{name}" + text[b:]
        lines = text.splitlines(keepends=True)
    path.write_text(_add_import(text, alias), encoding="utf-8")
    return True


def main(argv: list[str]) -> int:
    names = constant_names()
    files = sorted(p for p in PACKAGE.rglob("*.py") if p not in _SKIP)
    if "--check" in argv:
        left = [
            str(p.relative_to(ROOT)) for p in files if _replacements(p.read_text("utf-8"), names)
        ]
        for name in left:
            print(f"literal codes left: {name}")
        return 1 if left else 0
    changed = [p for p in files if convert(p, names)]
    if changed:
        ruff = ROOT / ".venv" / "bin" / "ruff"
        command = str(ruff) if ruff.exists() else "ruff"
        paths = [str(p) for p in changed]
        subprocess.run([command, "check", "--fix", "-q", "--select", "I,F401", *paths], check=False)
        subprocess.run([command, "format", "-q", *paths], check=False)
    for path in changed:
        print(f"converted: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
