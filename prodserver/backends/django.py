"""Django awareness shared by the backends: which application to serve, which project to run.

When ``app`` is not given and ``DJANGO_SETTINGS_MODULE`` is set, web backends serve the
project's ``WSGI_APPLICATION`` / ``ASGI_APPLICATION`` and workers take the project package.

The settings module is **never imported**: importing it runs arbitrary project code (and often
needs secrets or a database) at ``check`` or ``export`` time. Its source file is read with
:mod:`ast` instead and only literal assignments are believed, following ``from x import *``
chains (the common ``settings/production.py`` importing ``settings/base.py`` layout). When that
finds nothing, the ``<package>.wsgi:application`` / ``<package>.asgi:application`` convention of
``django-admin startproject`` is used if its file exists.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from prodserver import codes
from prodserver.backends.base import BackendContext, Option
from prodserver.backends.common import positional
from prodserver.errors import ConfigError

SETTINGS_VARIABLE = "DJANGO_SETTINGS_MODULE"
#: how deep ``from x import *`` chains are followed; real projects use one or two levels
_MAX_STAR_DEPTH = 8

Interface = Literal["wsgi", "asgi"]


def settings_module(ctx: BackendContext) -> str | None:
    """The value of ``DJANGO_SETTINGS_MODULE`` if it is a usable dotted name, else None."""
    value = ctx.env.get(SETTINGS_VARIABLE, "").strip()
    # In exports an unset variable stays a reference (``${DJANGO_SETTINGS_MODULE}``): there is
    # nothing to read then.
    if not value or not all(part.isidentifier() for part in value.split(".")):
        return None
    return value


def search_path(ctx: BackendContext) -> list[Path]:
    """Directories a process imports its modules from, as Python would see them.

    The process's ``cwd`` first (Python puts the script's directory or ``''`` there), then the
    ``PYTHONPATH`` entries, then the project root.
    """
    base = ctx.cwd if ctx.cwd is not None else ctx.root
    dirs: list[Path] = [base]
    for entry in ctx.env.get("PYTHONPATH", "").split(os.pathsep):
        if entry and "$" not in entry:
            path = Path(entry)
            dirs.append(path if path.is_absolute() else base / path)
    dirs.append(ctx.root)
    unique: list[Path] = []
    for d in dirs:
        if d not in unique:
            unique.append(d)
    return unique


#: directories never searched for a project below the root (environments, caches, VCS)
_SKIP_DIRS = frozenset({"node_modules", "site-packages", "__pycache__", "venv", "env"})
_NEST_DEPTH = 2


def nested_roots(root: Path, module: str) -> list[Path]:
    """Directories up to two levels below ``root`` that hold ``module``'s source file.

    A fallback for a project kept in a subdirectory (``examples/demo``) when the process's
    ``cwd`` is not known: the answer is used only when it is unique, never guessed between two.
    """
    found: list[Path] = []
    level = [root]
    for _ in range(_NEST_DEPTH):
        below: list[Path] = []
        for d in level:
            try:
                children = sorted(p for p in d.iterdir() if p.is_dir())
            except OSError:
                continue
            for child in children:
                if child.name.startswith(".") or child.name in _SKIP_DIRS:
                    continue
                below.append(child)
                if module_file(module, [child]) is not None:
                    found.append(child)
        level = below
    return found


def module_file(module: str, dirs: Iterable[Path]) -> Path | None:
    """The source file of ``module`` (``a.b`` -> ``a/b.py`` or ``a/b/__init__.py``), or None."""
    parts = module.split(".")
    for d in dirs:
        stem = d.joinpath(*parts)
        for candidate in (stem.with_suffix(".py"), stem / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str | None:
    """The absolute name of ``from {'.' * level}{name} import *`` inside ``module``."""
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    if level > 1:
        if level - 1 > len(parts):
            return None
        parts = parts[: len(parts) - (level - 1)]
    if name:
        parts += name.split(".")
    return ".".join(parts) or None


def read_setting(module: str, name: str, dirs: Sequence[Path], _depth: int = 0) -> str | None:
    """The literal string assigned to ``name`` in ``module``'s source, or None.

    Statements are read in order like Python would run them: a later assignment (or a later
    star import that defines it) wins. Anything that is not a plain string literal (computed
    values, conditionals' branches, environment lookups) is ignored.
    """
    path = module_file(module, dirs)
    if path is None or _depth > _MAX_STAR_DEPTH:
        return None
    try:
        from prodserver.readfile import read_bounded

        text = read_bounded(path, what="settings module").decode("utf-8")
        tree = ast.parse(text, filename=str(path))
    except (ConfigError, SyntaxError, UnicodeDecodeError, ValueError, RecursionError, MemoryError):
        return None
    found: str | None = None
    for node in tree.body:
        if isinstance(node, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                found = _literal(node.value)
        elif isinstance(node, ast.AnnAssign):
            if isinstance(node.target, ast.Name) and node.target.id == name and node.value:
                found = _literal(node.value)
        elif isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            if node.level:
                target = _resolve_relative(
                    module, path.name == "__init__.py", node.level, node.module
                )
            else:
                target = node.module
            if target:
                inherited = read_setting(target, name, dirs, _depth + 1)
                if inherited is not None:
                    found = inherited
    return found


def _literal(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def as_target(dotted: str) -> str:
    """``"a.b.application"`` -> ``"a.b:application"`` (the form every server takes)."""
    if ":" in dotted:
        return dotted
    module, _, attribute = dotted.rpartition(".")
    if not module:
        return dotted
    return f"{module}:{attribute}"


def application(ctx: BackendContext, interface: Interface, option: str = "app") -> str:
    """The WSGI or ASGI application of the Django project, as ``module:attribute``.

    Raises :class:`ConfigError` (PS220) naming ``option`` when there is no way to know it.
    """
    setting = "WSGI_APPLICATION" if interface == "wsgi" else "ASGI_APPLICATION"
    settings = settings_module(ctx)
    if settings is None:
        raise ConfigError(
            f"process {ctx.process!r}: option {option!r} is required",
            hint=(
                f'set {option} = "package.{interface}:application" for this process, or set '
                f"{SETTINGS_VARIABLE} so that prodserver reads {setting} from the settings"
            ),
            code=codes.OPTION_REQUIRED,
        )
    dirs = search_path(ctx)
    if module_file(settings, dirs) is None:
        nested = nested_roots(ctx.root, settings)
        if len(nested) == 1:
            dirs.append(nested[0])
    value = read_setting(settings, setting, dirs)
    if value:
        return as_target(value)
    package = settings.split(".")[0]
    if module_file(f"{package}.{interface}", dirs) is not None:
        return f"{package}.{interface}:application"
    where = ", ".join(str(d) for d in dirs)
    raise ConfigError(
        f"process {ctx.process!r}: cannot tell which {interface.upper()} application to serve: "
        f"no literal {setting} in {settings!r} and no {package}/{interface}.py (looked in {where})",
        hint=f'set {option} = "package.{interface}:application" for this process',
        code=codes.OPTION_REQUIRED,
    )


def project_package(ctx: BackendContext, option: str = "app") -> str:
    """The Django project's top-level package (``shop`` for ``shop.settings``), for workers."""
    settings = settings_module(ctx)
    if settings is None:
        raise ConfigError(
            f"process {ctx.process!r}: option {option!r} is required",
            hint=(
                f'set {option} = "yourproject" for this process, or set {SETTINGS_VARIABLE} so '
                "that prodserver uses the Django project package"
            ),
            code=codes.OPTION_REQUIRED,
        )
    return settings.split(".")[0]


#: the ``manage`` option shared by the backends that run a management command
MANAGE_OPTION = Option(
    "manage",
    "string",
    "Path of the project's `manage.py`, relative to the process's `cwd`.",
    default="manage.py",
    positional=True,
)


def manage_command(values: Mapping[str, Any], ctx: BackendContext, command: str) -> list[str]:
    """``[python, manage.py, command]`` with the interpreter prodserver was told to use."""
    manage = positional("manage", values.get("manage") or MANAGE_OPTION.default)
    return [ctx.python, manage, command]
