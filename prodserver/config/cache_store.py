"""How a cache entry is stored: secrets kept out of it, a restricted pickle, its file.

Part of :mod:`prodserver.config.cache` (whose docstring says where entries live and why no
secret is written): :func:`_vault_for` replaces every secret value by where it is read from
again, :class:`_Pickler`/:class:`_Unpickler` write and read the model's classes alone, and
:func:`_read_entry`/:func:`_write_entry` keep the files private to the user.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path
from types import MappingProxyType

from prodserver.fastpath import read_entry, sha256

# entries are read only from the user's own 0700 directory, hash-checked, and unpickled with a
# find_class that allows the configuration model's classes alone. The classes are pickle's own
# (pickle.Pickler is _pickle.Pickler), taken from its C module: reading an entry does not need
# pickle.py and what it imports (issue 17).
try:
    from _pickle import Pickler, Unpickler, UnpicklingError  # nosec B403
except ImportError:  # pragma: no cover - an interpreter without pickle's accelerator
    from pickle import Pickler, Unpickler, UnpicklingError  # nosec B403

# read on every cache hit: no dataclass, no `typing`; the writing side's imports are in its
# functions (issue 17)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from prodserver.config.model import ResolvedProject

MAGIC = b"prodserver-config-cache\x00"
_SUFFIX = ".entry"
#: the only classes an entry may name besides the model's own dataclasses (anything else: the
#: entry is ignored)
_ALLOWED = {
    "prodserver.config.model": {"frozen_map"},
    "pathlib": {"PosixPath", "WindowsPath", "PurePosixPath", "PureWindowsPath"},
    # Python 3.13 moved them there (pathlib pickles a path by its class's own module)
    "pathlib._local": {"PosixPath", "WindowsPath", "PurePosixPath", "PureWindowsPath"},
    "signal": {"Signals"},
    "copyreg": {"_reconstructor"},
    "builtins": {"frozenset", "set", "object", "tuple", "dict", "list"},
}
#: modules whose dataclasses an entry may hold: the configuration model and its templates
_MODEL_MODULES = ("prodserver.config.model", "prodserver.template")


# -- secrets -----------------------------------------------------------------------------------


class _Vault:
    """Secret values, each with where it is read from again: ("env", NAME) or ("file", PATH,
    NAME)."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self.origins: list[tuple[str, ...]] = []

    def pattern(self) -> Any:
        import re

        order = sorted(range(len(self.values)), key=lambda i: -len(self.values[i]))
        return re.compile("|".join(re.escape(self.values[i]) for i in order))


def _secret_values(project: ResolvedProject) -> dict[str, set[str]]:
    """Every value each secret variable has anywhere in the project."""
    found: dict[str, set[str]] = {}

    def add(env: Mapping[str, str]) -> None:
        for name in project.secret_names:
            value = env.get(name)
            if value:
                found.setdefault(name, set()).add(value)

    add(project.env)
    for spec in project.processes.values():
        add(spec.env)
        for instance in spec.instances:
            add(instance.env)
    return found


def _vault_for(project: ResolvedProject, environ: Mapping[str, str]) -> _Vault:
    """Where each secret value comes from, as far as it is read from somewhere again.

    A value is found in the shell's environment or in an env file that was read, under its
    own name or any other (``API_TOKEN = "${UPSTREAM_TOKEN}"`` is read from UPSTREAM_TOKEN).
    """
    vault = _Vault()
    shell: dict[str, str] | None = None
    files: dict[Path, Mapping[str, str]] | None = None
    for name, values in sorted(_secret_values(project).items()):
        for value in sorted(values):
            if value in vault.values:
                continue
            origin: tuple[str, ...] | None = None
            if environ.get(name) == value:
                origin = ("env", name)
            else:
                if shell is None:
                    shell = {v: k for k, v in sorted(environ.items(), reverse=True)}
                if value in shell:
                    origin = ("env", shell[value])
            if origin is None:
                if files is None:
                    files = _env_files(project.env_files)
                origin = next(
                    (
                        ("file", str(path), key)
                        for path, loaded in files.items()
                        for key, found in loaded.items()
                        if found == value
                    ),
                    None,
                )
            if origin is None:
                # put together from pieces (a URL around a password): the pieces that are
                # secrets are in the vault; _dump proves that nothing secret is left
                continue
            vault.values.append(value)
            vault.origins.append(origin)
    return vault


def _env_files(paths: Sequence[Path]) -> dict[Path, Mapping[str, str]]:
    from prodserver.config.envfiles import read_env_file

    out: dict[Path, Mapping[str, str]] = {}
    for path in paths:
        loaded = read_env_file(path, optional=True)
        if loaded is not None:
            out[path] = loaded.values
    return out


def _open_vault(origins: Sequence[tuple[str, ...]], environ: Mapping[str, str]) -> list[str]:
    """The secret values again, from where they came from (KeyError/ValueError: gone)."""
    values: list[str] = []
    files: dict[Path, Mapping[str, str]] = {}
    for origin in origins:
        if origin[0] == "env":
            values.append(environ[origin[1]])
            continue
        if origin[0] != "file":
            raise ValueError(origin[0])
        path = Path(origin[1])
        if path not in files:
            files.update(_env_files([path]))
        values.append(files[path][origin[2]])
    return values


def _url_passwords(value: str) -> list[str]:
    """The password of every ``scheme://user:password@host`` in ``value``."""
    out: list[str] = []
    pos = value.find("://")
    while pos >= 0:
        rest = value[pos + 3 :]
        end = next((i for i, c in enumerate(rest) if c.isspace() or c in "'\"<>"), len(rest))
        token = rest[:end]
        at = token.rfind("@")
        colon = token.find(":", 0, max(at, 0))
        if colon >= 0 and token[colon + 1 : at]:
            out.append(token[colon + 1 : at])
        pos = value.find("://", pos + 3)
    return out


def _reduce_mapping(mapping: Any) -> Any:
    from prodserver.config.model import frozen_map

    return (frozen_map, (dict(mapping),))


class _Pickler(Pickler):
    def __init__(self, file: io.BytesIO, vault: _Vault) -> None:
        from pickle import HIGHEST_PROTOCOL  # nosec B403 - writing: a miss, which resolved

        super().__init__(file, protocol=HIGHEST_PROTOCOL)
        self.dispatch_table = {MappingProxyType: _reduce_mapping}
        self.index = {v: i for i, v in enumerate(vault.values)}
        self.find = vault.pattern() if vault.values else None

    def persistent_id(self, obj: Any) -> Any:
        if self.find is None or type(obj) is not str or self.find.search(obj) is None:
            return None
        parts: list[str | int] = []
        pos = 0
        for match in self.find.finditer(obj):
            parts.append(obj[pos : match.start()])
            parts.append(self.index[match.group()])
            pos = match.end()
        parts.append(obj[pos:])
        return ("secret", tuple(parts))


class _Unpickler(Unpickler):
    def __init__(self, file: io.BytesIO, secrets: Sequence[str]) -> None:
        super().__init__(file)
        self.secrets = secrets

    def find_class(self, module: str, name: str) -> Any:
        if name in _ALLOWED.get(module, ()):
            return super().find_class(module, name)
        if module in _MODEL_MODULES and not name.startswith("_"):
            __import__(module)  # importlib.import_module, without importing importlib
            found = getattr(sys.modules[module], name, None)
            # a model record (prodserver.records), not any other class of those modules
            if isinstance(found, type) and issubclass(found, tuple) and "_fields" in vars(found):
                return found
        raise UnpicklingError(f"{module}.{name} is not part of the model")

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 2 and pid[0] == "secret"):
            raise UnpicklingError("unknown reference")
        return "".join(p if isinstance(p, str) else self.secrets[p] for p in pid[1])


def _dump(project: ResolvedProject, configured: frozenset[str], vault: _Vault) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, vault).dump((project, configured))
    data = buffer.getvalue()
    _prove_secret_free(project, data)
    return data


def _prove_secret_free(project: ResolvedProject, data: bytes) -> None:
    """The proof: no secret value, nor any URL password, is in what would be written."""
    from prodserver.config.cache_inputs import _Skip

    for name, values in sorted(_secret_values(project).items()):
        for value in values:
            for piece in (value, *_url_passwords(value)):
                if piece.encode("utf-8", "surrogateescape") in data:
                    raise _Skip(
                        f"the value of the secret {name} is written in the configuration "
                        "itself (not read from the environment or an env file)"
                    )


# -- entries -----------------------------------------------------------------------------------


def _read_entry(path: Path) -> bytes | None:
    """The entry's verified body, or None (missing, foreign, open to others, corrupt)."""
    return read_entry(str(path), MAGIC)


def _write_entry(
    directory: Path,
    name: str,
    body: bytes,
    *,
    keep: int,
    magic: bytes = MAGIC,
    suffix: str = _SUFFIX,
) -> None:
    """Write an entry (or, with ``magic`` and ``suffix``, a fast record) privately and whole."""
    import tempfile
    from contextlib import suppress

    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=suffix)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(magic + sha256(body).digest() + body)
        os.replace(tmp, directory / name)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    _prune(directory, keep, suffix)


def _prune(directory: Path, keep: int, suffix: str = _SUFFIX) -> None:
    """Remove the oldest entries beyond ``keep``."""
    from contextlib import suppress

    with suppress(OSError):
        entries = [e for e in os.scandir(directory) if e.name.endswith(suffix)]
        if len(entries) <= keep:
            return
        entries.sort(key=lambda e: e.stat(follow_symlinks=False).st_mtime_ns)
        for entry in entries[: len(entries) - keep]:
            with suppress(OSError):
                os.unlink(entry.path)


class _HeadUnpickler(Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise UnpicklingError(f"{module}.{name} in an entry's head")
