"""Finding the configuration: ``--file``, ``$PRODSERVER_FILE``, else walking up the directories.

The first of ``prodserver.toml``, a ``pyproject.toml`` with a ``[tool.prodserver]`` table, or a
``Procfile`` (honcho's ``$PROCFILE`` is honoured in the starting directory) is the source.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from prodserver import codes
from prodserver.errors import ConfigError, Location
from prodserver.rawsource import SourceKind
from prodserver.readfile import read_bounded

CONFIG_NAME = "prodserver.toml"
PYPROJECT_NAME = "pyproject.toml"
PROCFILE_NAME = "Procfile"
FILE_ENV = "PRODSERVER_FILE"
#: honcho's variable naming the Procfile (in the environment or the .env of the directory)
PROCFILE_ENV = "PROCFILE"


def _working_directory() -> Path:
    try:
        return Path.cwd()
    except FileNotFoundError:
        raise ConfigError(
            "the current directory no longer exists",
            hint="cd to the project again (it was removed or replaced), or name the file "
            "with -f /path/to/prodserver.toml",
            code=codes.FILE_UNREADABLE,
        ) from None


def discover(
    file: Path | None = None, cwd: Path | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """The configuration file to use: ``file``, else ``$PRODSERVER_FILE``, else walk up."""
    env = os.environ if environ is None else environ
    base = _working_directory() if cwd is None else cwd
    explicit = file if file is not None else (Path(env[FILE_ENV]) if env.get(FILE_ENV) else None)
    if explicit is not None:
        path = explicit if explicit.is_absolute() else base / explicit
        origin = "--file" if file is not None else FILE_ENV
        if "\x00" in str(path) or len(path.name) > 255:
            raise ConfigError(
                f"{origin} names an impossible path",
                location=Location(file=path),
                code=codes.FILE_UNREADABLE,
            )
        if path.is_dir():
            raise ConfigError(
                f"{path} is a directory, not a configuration file ({origin})",
                hint=f"name the file itself, e.g. {path / CONFIG_NAME}",
                location=Location(file=path),
                code=codes.FILE_UNREADABLE,
            )
        if not path.exists():
            raise ConfigError(
                f"configuration file {path} does not exist ({origin})",
                location=Location(file=path),
                code=codes.FILE_UNREADABLE,
            )
        return path
    for directory in (base.resolve(), *base.resolve().parents):
        candidate = directory / CONFIG_NAME
        if candidate.is_file():
            return candidate
        pyproject = directory / PYPROJECT_NAME
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
        if directory == base.resolve():
            named = _procfile_variable(base, env)
            if named is not None:
                return named
        procfile = directory / PROCFILE_NAME
        if procfile.is_file():
            return procfile
    raise ConfigError(
        f"no {CONFIG_NAME} found in {base} or any parent directory",
        hint="create one with `prodserver init`, or name it with -f/--file or $PRODSERVER_FILE",
        code=codes.FILE_UNREADABLE,
    )


def _procfile_variable(base: Path, env: Mapping[str, str]) -> Path | None:
    """honcho's ``PROCFILE`` (the environment's, else the ``.env`` here) names the Procfile."""
    from prodserver.config.envfiles import read_env_file

    name = env.get(PROCFILE_ENV)
    origin = f"${PROCFILE_ENV}"
    if not name:
        try:
            dotenv = read_env_file(base / ".env", optional=True)
        except ConfigError:
            dotenv = None  # reported when (and if) the configuration loads it
        name = dotenv.values.get(PROCFILE_ENV) if dotenv is not None else None
        origin = f"{PROCFILE_ENV} in {base / '.env'}"
    if not name:
        return None
    path = base / name
    if not path.is_file():
        raise ConfigError(
            f"the Procfile {path} named by {origin} does not exist",
            hint=f"correct {PROCFILE_ENV}, or remove it to use ./{PROCFILE_NAME}",
            location=Location(file=path),
            code=codes.FILE_UNREADABLE,
        )
    return path


def _has_tool_table(pyproject: Path) -> bool:
    try:
        text = read_bounded(pyproject, what="pyproject.toml").decode("utf-8", "replace")
    except ConfigError:
        return False
    return re.search(r"^\s*\[\s*tool\s*\.\s*prodserver\s*[\].]", text, re.MULTILINE) is not None


def kind_of(path: Path) -> SourceKind:
    if path.name == PYPROJECT_NAME:
        return "pyproject"
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return "toml"
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    return "procfile"
