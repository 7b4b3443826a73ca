"""Environment step: the shared layers, lowest first, and each child's environment.

env files (``[project] env_files``, each profile's, ``--env-file``) < the shell (where the
target takes its values) < ``[env]`` < each profile's ``env`` along the chain. Every variable
set records its origin in the provenance; the configuration's own names are remembered in
the context (a reference to any other name stays a reference in an export).
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prodserver import codes
from prodserver.config.context import Context
from prodserver.config.expand import kept_in, placeholder_in, substitute_scalar
from prodserver.config.merge import ROOT, Layer, chain
from prodserver.config.provenance import SHELL_LAYER, EnvOrigin
from prodserver.config.secrecy import note_secret_value
from prodserver.config.sources import KeyPath
from prodserver.errors import ConfigError, Location, Problem

#: what a process still gets from the shell with ``inherit_env = false``
BASIC_ENV = re.compile(r"^(PATH|HOME|USER|LOGNAME|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TMPDIR)$")


@dataclass(frozen=True)
class SharedEnv:
    """The environment every process starts from, and the env files read for it."""

    values: dict[str, str]
    files: tuple[Path, ...]


@dataclass(frozen=True)
class EnvFileSpec:
    """One env file as named: the spec (``?.env``), where it was named, its base directory."""

    spec: str
    where: Location
    base: Path


def env_file_specs(ctx: Context, profile: str | None) -> list[EnvFileSpec]:
    """Every env file, in load order: the project's, each profile's, then ``--env-file``."""
    specs: list[EnvFileSpec] = []

    def add(files: Any, path: KeyPath) -> None:
        if isinstance(files, str):  # one file may be given without the brackets
            files = [files]
        for i, spec in enumerate(files if isinstance(files, list) else []):
            specs.append(EnvFileSpec(str(spec), ctx.source.location((*path, str(i))), ctx.root))

    add(ctx.project.get("env_files", ["?.env"]), ("project", "env_files"))
    for name in chain(ctx.source, profile):
        table = ctx.source.data["profiles"][name]
        add(table.get("env_files") or [], ("profiles", name, "env_files"))
    for path in ctx.cli_env_files:
        specs.append(EnvFileSpec(str(path), Location(key_path="--env-file"), ctx.cwd))
    return specs


def shared_environment(
    ctx: Context, chain_layers: Sequence[Layer], profile: str | None
) -> SharedEnv:
    """The shared layers merged, lowest first."""
    env: dict[str, str] = {}
    files: list[Path] = []
    for spec in env_file_specs(ctx, profile):
        found = _env_file_path(ctx, spec)
        if found is not None and not ctx.target.env_file_values:
            # an export names the file for the target to read; this machine's values never
            # reach it (issue 13)
            files.append(found[0])
        elif found is not None and _load_env_file(ctx, *found, spec.where, env):
            files.append(found[0])
    if ctx.target.shell_values:
        for key, value in ctx.environ.items():
            env[key] = value
            ctx.prov.env[key] = EnvOrigin(SHELL_LAYER, Location())
    for layer in chain_layers:
        _env_table(ctx, layer, env)
    return SharedEnv(env, tuple(files))


def _env_file_path(ctx: Context, spec: EnvFileSpec) -> tuple[Path, bool] | None:
    """(the file a spec names, whether it is optional); None after recording why not."""
    from prodserver.config.envfiles import parse_env_spec

    try:
        name, optional = parse_env_spec(spec.spec)
    except ConfigError as exc:
        ctx.out.problems.append(Problem(exc.code, exc.message, spec.where, exc.hint))
        return None
    path = Path(name)
    if path.is_absolute():
        return path, optional
    path = spec.base / path
    if spec.base == ctx.root and not _inside(path, ctx.root):
        ctx.out.problems.append(
            Problem(
                codes.ENV_FILE_OUTSIDE_ROOT,
                f"env file {name!r} is outside the project root {ctx.root}",
                spec.where,
                "name it by an absolute path to load it explicitly",
            )
        )
        return None
    return path, optional


def _load_env_file(
    ctx: Context, path: Path, optional: bool, where: Location, env: dict[str, str]
) -> bool:
    """One env file's values into ``env``; whether the file was read."""
    from prodserver.config.envfiles import read_env_file

    try:
        loaded = read_env_file(path, optional=optional)
    except ConfigError as exc:
        for found in exc.problems:
            if found.location.line is None:
                # the file itself is the problem (missing, a directory): say where it was listed
                named = where.render() or "the configuration"
                found = Problem(  # noqa: PLW2901 - the located copy replaces it
                    found.code,
                    f"{found.message} (listed at {named})",
                    where,
                    found.hint,
                    found.severity,
                )
            ctx.out.problems.append(found)
        return False
    if loaded is None:
        return False
    for key, value in loaded.values.items():
        at = Location(file=path, line=loaded.lines.get(key))
        # A .env value is literal text; a kept reference travels as a placeholder
        # character, which user text may not hold.
        if placeholder_in(ctx, value, at):
            continue
        env[key] = value
        note_secret_value(ctx, key, value)
        ctx.config_names.add(key)
        ctx.prov.env[key] = EnvOrigin("env file", at)
    return True


def _env_table(ctx: Context, layer: Layer, env: dict[str, str]) -> None:
    """One layer's ``env`` table, substituted against the layers below it."""
    table = layer.data.get("env", {})
    if not isinstance(table, dict):
        return
    label = "[env]" if layer.name == ROOT else f"profile {layer.name} env"
    below = dict(env)
    for key, raw in table.items():
        key_path = (*layer.path, "env", key)
        text = substitute_scalar(ctx, raw, below, key_path)
        if text is None:
            continue
        if kept_in(ctx, text):  # a reference to it stays one (the platform's chain)
            ctx.ref_names.add(key)
        note_secret_value(ctx, key, text)
        # later keys of the same table may refer to earlier ones, in file order
        below[key] = text
        env[key] = text
        ctx.config_names.add(key)
        ctx.prov.env[key] = EnvOrigin(label, ctx.source.location(key_path))


def without_shell(ctx: Context, env: Mapping[str, str], own: Mapping[str, str]) -> dict[str, str]:
    """``inherit_env = false``: drop what only the shell set, but for the basics."""
    return {
        key: value
        for key, value in env.items()
        if key in own or key == "PORT" or BASIC_ENV.match(key) or ctx.prov.from_configuration(key)
    }


def runtime_env(env: dict[str, str]) -> dict[str, str]:
    """The child environment at run time: prodserver's virtualenv first on PATH."""
    if sys.prefix != sys.base_prefix:
        path = _venv_path(env.get("PATH", os.defpath), sys.executable)
        if path is not None:
            env["PATH"] = path
            env.setdefault("VIRTUAL_ENV", sys.prefix)
    return env


@functools.lru_cache(maxsize=64)
def _venv_path(path: str, executable: str) -> str | None:
    """``path`` with the virtualenv's bin directory first; None when it is already on it.

    Memoised: every instance of every process asks with the same few values of PATH.
    """
    bindir = str(Path(executable).parent)
    if bindir in path.split(os.pathsep):
        return None
    return bindir + os.pathsep + path if path else bindir


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True
