"""django-prodserver's ``PRODUCTION_PROCESSES`` setting as a configuration source.

Users of django-prodserver migrate without rewriting anything: when a Django project has no
``prodserver.toml``, ``python manage.py prodserver ...`` reads the setting, translates each entry
into a process table of the equivalent built-in backend, and reports a deprecation warning
pointing at ``prodserver init --from-django``, which writes the same translation to a file.

The table of what each class becomes is :mod:`.django_targets`; the translation itself, a pure
function of the setting's value, is :mod:`.django_translate`. This module reads the setting out
of Django's settings, with the line of each key of the settings file.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodserver import codes
from prodserver.config.django_targets import PREFIX, TARGETS, Target
from prodserver.config.django_translate import SETTING, Translation, translate
from prodserver.errors import ConfigError, Location, Problem
from prodserver.rawsource import KeyPath, LineIndex, RawSource
from prodserver.readfile import read_bounded

__all__ = [
    "DEPRECATED",
    "PREFIX",
    "SETTING",
    "TARGETS",
    "DjangoSource",
    "Target",
    "Translation",
    "setting_lines",
    "source_from_settings",
    "translate",
]

#: warning code of the deprecation notice (one per source)
DEPRECATED = codes.DJANGO_SETTING_DEPRECATED


@dataclass(frozen=True)
class DjangoSource(RawSource):
    """A :class:`RawSource` read from settings: ``path`` is the settings file, ``root`` the
    project directory (where ``manage.py`` is), which is where the processes run."""

    base_dir: Path = Path()

    @property
    def root(self) -> Path:
        return self.base_dir


def setting_lines(settings_file: Path) -> dict[tuple[str, ...], int]:
    """Line of ``PRODUCTION_PROCESSES`` (key ``()``) and of each literal key inside it."""
    try:
        text = read_bounded(settings_file, what="settings file").decode("utf-8")
        tree = ast.parse(text)
    except (ConfigError, SyntaxError, UnicodeDecodeError, ValueError, RecursionError, MemoryError):
        return {}
    lines: dict[tuple[str, ...], int] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if not any(isinstance(t, ast.Name) and t.id == SETTING for t in targets):
            continue
        lines[()] = node.lineno
        value = getattr(node, "value", None)
        if isinstance(value, ast.Dict):
            _dict_lines(value, (), lines)
    return lines


def _dict_lines(node: ast.Dict, prefix: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    for key, value in zip(node.keys, node.values, strict=True):
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            path = (*prefix, key.value)
            out[path] = key.lineno
            if isinstance(value, ast.Dict) and len(path) < 3:
                _dict_lines(value, path, out)


def source_from_settings(
    settings: Any, *, base_dir: Path | None = None, lenient: bool = False
) -> DjangoSource | None:
    """The source for configured Django ``settings``; None without ``PRODUCTION_PROCESSES``.

    ``base_dir`` is the project directory (default: the nearest directory above the settings
    file that holds ``manage.py``, else ``settings.BASE_DIR``, else the working directory).
    """
    setting = getattr(settings, SETTING, None)
    if setting is None:
        return None
    module_name = getattr(settings, "SETTINGS_MODULE", None) or None
    settings_file = _module_file(module_name)
    path = settings_file or Path.cwd() / "settings.py"
    lines = setting_lines(settings_file) if settings_file else {}
    where = Location(path, lines.get(()), key_path=SETTING)
    translation = translate(
        setting,
        settings_module=module_name,
        wsgi_application=getattr(settings, "WSGI_APPLICATION", None) or None,
        asgi_application=getattr(settings, "ASGI_APPLICATION", None) or None,
        where=where,
        lines=lines,
        lenient=lenient,
    )
    index: dict[KeyPath, int] = {}
    for ours, theirs in translation.origins.items():
        line = lines.get(theirs) or lines.get(theirs[:1]) or lines.get(())
        if line is not None:
            index[ours] = line
    notice = Problem(
        DEPRECATED,
        f"the configuration comes from django-prodserver's {SETTING} setting, which is deprecated",
        where,
        "run `prodserver init --from-django` to write the equivalent prodserver.toml, then "
        f"remove {SETTING}",
        severity="warning",
    )
    root = base_dir or _project_dir(settings_file, settings)
    return DjangoSource(
        path=path,
        kind="django",
        data=translation.data,
        index=LineIndex(index),
        warnings=(notice, *translation.warnings),
        base_dir=root,
    )


def _module_file(module_name: str | None) -> Path | None:
    if not module_name:
        return None
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    return Path(file).resolve() if file else None


def _project_dir(settings_file: Path | None, settings: Any) -> Path:
    if settings_file is not None:
        for directory in settings_file.parents:
            if (directory / "manage.py").is_file():
                return directory
    base = getattr(settings, "BASE_DIR", None)
    if base:
        return Path(str(base)).resolve()
    return Path.cwd()
