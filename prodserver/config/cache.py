"""A private cache of resolved configurations, so that ``up``, ``run`` and ``exec`` start fast.

Resolving a configuration (reading TOML, validating it against the schema, merging profiles,
substituting and coercing every value) costs far more than starting the processes. When
nothing the resolution read has changed, its result is read back from a per-user cache instead.

**What the key covers.** An entry is found by a hash of the request (the command line's
``-f``, ``-p``, ``--env-file``, ``--scale``, ``--port``), the whole environment (the shell's
variables are a layer of the resolved environment, so every one of them is an input), the
working directory, the user, the interpreter (version, executable, prefix) and prodserver
itself (its version and the size and time of every module of the package). An entry then lists
every file the resolution read, with the SHA-256 of its content, and every path it only looked
at (``exists``/``is_file``, the walk up to ``prodserver.toml``, a ``?.env`` that was missing),
with what was there; all of them are checked again before the entry is used. They are recorded
while resolving, by watching the file system calls the resolver makes (``open``, ``stat``,
``listdir``), so that a new input read by a future step is covered without being named here.

**Where and how it is stored.** ``$XDG_CACHE_HOME/prodserver`` (else ``~/.cache/prodserver``),
a directory of mode 0700 owned by the user; each entry a file of mode 0600, written to a
temporary file and renamed into place. A directory or file owned by someone else, or open to
others, is never read; an entry that is corrupt (its SHA-256 does not match), of another
format or version, or names a class outside the model is ignored and rebuilt.

**Secrets are never written.** Every secret value (a variable prodserver treats as secret,
:mod:`prodserver.config.secrets`) is replaced by a reference to where it came from, the
shell's environment or an env file, and is read from there again when the entry is used. A
configuration holding a secret that comes from neither (a secret written in the TOML itself, or
put together from pieces) is not cached at all, nor is one that names a ``user`` (the account
database is an input the cache does not watch) or one that comes from Django's settings. With
``--debug`` (or ``PRODSERVER_DEBUG=1``) prodserver says on stderr why a configuration was not
cached.

``--no-cache`` or ``PRODSERVER_NO_CACHE=1`` resolves without reading or writing the cache.
"""

from __future__ import annotations

import builtins
import hashlib
import io
import os

# entries are read only from the user's own 0700 directory, hash-checked, and unpickled with a
# find_class that allows the configuration model's classes alone
import pickle  # nosec B403
import stat
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prodserver.config.model import ResolvedProject

NO_CACHE_ENV = "PRODSERVER_NO_CACHE"
#: bumped whenever what an entry holds changes shape
FORMAT = 1
MAGIC = b"prodserver-config-cache\x00"
#: entries kept; the oldest written are removed beyond this
MAX_ENTRIES = 64
_SUFFIX = ".entry"
_WRITE_FLAGS = ("w", "a", "x", "+")
#: the only classes an entry may name besides the model's own dataclasses (anything else: the
#: entry is ignored)
_ALLOWED = {
    "prodserver.config.model": {"frozen_map"},
    "pathlib": {"PosixPath", "WindowsPath", "PurePosixPath", "PureWindowsPath"},
    "signal": {"Signals"},
    "copyreg": {"_reconstructor"},
    "builtins": {"frozenset", "set", "object", "tuple", "dict", "list"},
}
#: modules whose dataclasses an entry may hold: the configuration model and its templates
_MODEL_MODULES = ("prodserver.config.model", "prodserver.template")


class _Skip(Exception):
    """This resolution is not cached (the message says why)."""


# -- where -------------------------------------------------------------------------------------


def cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """The user's private cache directory, created 0700; None where it cannot be trusted."""
    env = os.environ if environ is None else environ
    if not hasattr(os, "geteuid"):
        return None  # Windows: no owner and mode to check the directory and entries by
    base = env.get("XDG_CACHE_HOME", "")
    if not base or not os.path.isabs(base):
        home = env.get("HOME") or os.path.expanduser("~")
        if not home or not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    path = os.path.join(base, "prodserver")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        return None  # a symbolic link, a file, or another user's directory
    if st.st_mode & 0o077:
        try:
            os.chmod(path, 0o700)
        except OSError:
            return None
    return Path(path)


def disabled(no_cache: bool = False, environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``--no-cache`` or ``PRODSERVER_NO_CACHE`` turns the cache off."""
    env = os.environ if environ is None else environ
    return no_cache or env.get(NO_CACHE_ENV, "").strip().lower() not in ("", "0", "false", "no")


# -- the key -----------------------------------------------------------------------------------


def _package_fingerprint() -> list[tuple[str, int, int]]:
    """Every module of the installed prodserver, by size and time: code is an input too."""
    root = Path(__file__).resolve().parents[1]
    out: list[tuple[str, int, int]] = []
    stack = [str(root)]
    while stack:
        current = stack.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        stack.append(entry.path)
                elif entry.name.endswith(".py"):
                    st = entry.stat()
                    out.append((entry.path, st.st_size, st.st_mtime_ns))
    out.sort()
    return out


def request_key(request: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """The hash naming an entry: the request, the environment, the interpreter, prodserver."""
    from prodserver import __version__

    parts = (
        FORMAT,
        __version__,
        sys.version,
        sys.executable,
        sys.prefix,
        sys.base_prefix,
        os.geteuid(),
        os.getcwd(),
        sorted(request.items()),
        sorted(environ.items()),
        _package_fingerprint(),
    )
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogateescape")).hexdigest()


# -- recording what the resolution reads ------------------------------------------------------


@dataclass
class _Recorder:
    #: path -> (os.stat signature when opened) for files opened to read
    opened: dict[str, tuple[int, ...] | None] = field(default_factory=dict)
    #: (path, follow symlinks) looked at without being read
    looked: set[tuple[str, bool]] = field(default_factory=set)
    listed: set[str] = field(default_factory=set)
    unsupported: str = ""

    def _refuse(self, why: str) -> None:
        """Keep the first reason this resolution cannot be cached."""
        self.unsupported = self.unsupported or why

    def look(self, path: Any, follow: bool, kw: Mapping[str, Any]) -> None:
        name = _path_of(path)
        if name is None or kw.get("dir_fd") is not None:
            self._refuse("a file looked at through a descriptor")
        else:
            self.looked.add((name, follow))

    def read(self, path: Any, writing: bool, kw: Mapping[str, Any]) -> None:
        name = _path_of(path)
        if writing:
            self._refuse(f"a file written while resolving: {path!r}")
        elif name is None or kw.get("dir_fd") is not None:
            self._refuse("a file read through a descriptor")
        elif name not in self.opened:
            self.opened[name] = _change_marks(name)

    def list(self, path: Any) -> None:
        name = _path_of(path)
        if name is None:
            self._refuse("a directory listed through a descriptor")
        else:
            self.listed.add(name)


def _path_of(path: Any) -> str | None:
    if isinstance(path, int):
        return None
    try:
        return os.path.abspath(os.fsdecode(path))
    except (TypeError, ValueError):
        return None


def _change_marks(path: str) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


@contextmanager
def _recording() -> Iterator[_Recorder]:
    """Watch the file system calls made inside the block (the resolution runs in one thread)."""
    rec = _Recorder()
    real_stat: Callable[..., Any] = os.stat
    real_lstat: Callable[..., Any] = os.lstat
    real_open: Callable[..., Any] = os.open
    real_listdir: Callable[..., Any] = os.listdir
    real_scandir: Callable[..., Any] = os.scandir

    def stat_(path: Any, *a: Any, **kw: Any) -> Any:
        rec.look(path, kw.get("follow_symlinks", True), kw)
        return real_stat(path, *a, **kw)

    def lstat_(path: Any, *a: Any, **kw: Any) -> Any:
        rec.look(path, False, kw)
        return real_lstat(path, *a, **kw)

    def open_(path: Any, flags: int, *a: Any, **kw: Any) -> Any:
        writing = bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC))
        rec.read(path, writing, kw)
        return real_open(path, flags, *a, **kw)

    def listdir_(path: Any = ".") -> Any:
        rec.list(path)
        return real_listdir(path)

    def scandir_(path: Any = ".") -> Any:
        rec.list(path)
        return real_scandir(path)

    def make_open(original: Callable[..., Any]) -> Callable[..., Any]:
        def open_file(file: Any, mode: str = "r", *a: Any, **kw: Any) -> Any:
            rec.read(file, any(c in mode for c in _WRITE_FLAGS), kw)
            return original(file, mode, *a, **kw)

        return open_file

    patches: dict[tuple[Any, str], Callable[..., Any]] = {
        (os, "stat"): stat_,
        (os, "lstat"): lstat_,
        (os, "open"): open_,
        (os, "listdir"): listdir_,
        (os, "scandir"): scandir_,
        (io, "open"): make_open(io.open),
        (builtins, "open"): make_open(builtins.open),
    }
    saved = {key: getattr(*key) for key in patches}
    for (module, attr), function in patches.items():
        setattr(module, attr, function)
    try:
        yield rec
    finally:
        for (module, attr), function in saved.items():
            setattr(module, attr, function)


def _content(path: str) -> str | None:
    """SHA-256 of a file's bytes (None: it cannot be read now)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        digest = hashlib.sha256()
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return None
    finally:
        os.close(fd)


def _looked_at(path: str, follow: bool) -> tuple[Any, ...] | None:
    """What a look at ``path`` saw: its kind, and for a regular file its size and time."""
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except (OSError, ValueError):
        return None
    kind = stat.S_IFMT(st.st_mode)
    if stat.S_ISREG(st.st_mode):
        return (kind, st.st_size, st.st_mtime_ns)
    if stat.S_ISLNK(st.st_mode):
        try:
            return (kind, os.readlink(path))
        except OSError:
            return (kind,)
    return (kind,)  # a directory: what matters is that it is one (its time moves constantly)


def _listing(path: str) -> str | None:
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return None
    return hashlib.sha256("\x00".join(names).encode("utf-8", "surrogateescape")).hexdigest()


Input = tuple[str, str, Any]


def _inputs(rec: _Recorder) -> list[Input]:
    """Every input with what it holds now; raises _Skip if a file changed while it was read."""
    out: list[Input] = []
    for path, marks in sorted(rec.opened.items()):
        out.append(("file", path, _content(path)))
        if marks is not None and _change_marks(path) != marks:
            raise _Skip(f"{path} changed while it was read")
    for path, follow in sorted(rec.looked):
        if path not in rec.opened:
            out.append(("stat" if follow else "lstat", path, _looked_at(path, follow)))
    for path in sorted(rec.listed):
        out.append(("list", path, _listing(path)))
    return out


def _unchanged(inputs: Sequence[Input]) -> bool:
    for kind, path, seen in inputs:
        if kind == "file":
            now: Any = _content(path)
        elif kind == "list":
            now = _listing(path)
        else:
            now = _looked_at(path, kind == "stat")
        if now != seen:
            return False
    return True


# -- secrets -----------------------------------------------------------------------------------


@dataclass
class _Vault:
    """Secret values, each with where it is read from again: ("env", NAME) or ("file", PATH,
    NAME)."""

    values: list[str] = field(default_factory=list)
    origins: list[tuple[str, ...]] = field(default_factory=list)

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


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, vault: _Vault) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
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


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, secrets: Sequence[str]) -> None:
        super().__init__(file)
        self.secrets = secrets

    def find_class(self, module: str, name: str) -> Any:
        if name in _ALLOWED.get(module, ()):
            return super().find_class(module, name)
        if module in _MODEL_MODULES and not name.startswith("_"):
            import dataclasses
            import importlib

            found = getattr(importlib.import_module(module), name, None)
            if isinstance(found, type) and dataclasses.is_dataclass(found):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not part of the model")

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 2 and pid[0] == "secret"):
            raise pickle.UnpicklingError("unknown reference")
        return "".join(p if isinstance(p, str) else self.secrets[p] for p in pid[1])


def _dump(project: ResolvedProject, configured: frozenset[str], vault: _Vault) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, vault).dump((project, configured))
    data = buffer.getvalue()
    # the proof: no secret value, nor any URL password, is in what would be written
    for name, values in sorted(_secret_values(project).items()):
        for value in values:
            for piece in (value, *_url_passwords(value)):
                if piece.encode("utf-8", "surrogateescape") in data:
                    raise _Skip(
                        f"the value of the secret {name} is written in the configuration "
                        "itself (not read from the environment or an env file)"
                    )
    return data


# -- entries -----------------------------------------------------------------------------------


def _read_entry(path: Path) -> bytes | None:
    """The entry's verified body, or None (missing, foreign, open to others, corrupt)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    head = len(MAGIC) + 32
    if len(raw) < head or not raw.startswith(MAGIC):
        return None
    body = raw[head:]
    if hashlib.sha256(body).digest() != raw[len(MAGIC) : head]:
        return None
    return body


def _write_entry(directory: Path, name: str, body: bytes) -> None:
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=_SUFFIX)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(MAGIC + hashlib.sha256(body).digest() + body)
        os.replace(tmp, directory / name)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    _prune(directory)


def _prune(directory: Path) -> None:
    with suppress(OSError):
        entries = [e for e in os.scandir(directory) if e.name.endswith(_SUFFIX)]
        if len(entries) <= MAX_ENTRIES:
            return
        entries.sort(key=lambda e: e.stat(follow_symlinks=False).st_mtime_ns)
        for entry in entries[: len(entries) - MAX_ENTRIES]:
            with suppress(OSError):
                os.unlink(entry.path)


class _HeadUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"{module}.{name} in an entry's head")


# -- the entry point ---------------------------------------------------------------------------


Resolve = Callable[[], tuple["ResolvedProject", frozenset[str]]]


def cached(
    resolve: Resolve,
    request: Mapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
    no_cache: bool = False,
    debug: bool = False,
) -> tuple[ResolvedProject, frozenset[str]]:
    """``resolve()``'s result, from the cache when every input it read is unchanged.

    ``resolve`` must resolve for this machine (not an export) with ``environ`` (default:
    ``os.environ``) as the environment, from the arguments in ``request``; it returns the project
    and the names of the variables the configuration set (``Provenance.configured``).
    """
    env = dict(os.environ if environ is None else environ)
    directory = None if disabled(no_cache, env) else cache_dir(env)
    if directory is None:
        return resolve()
    try:
        name = request_key(request, env) + _SUFFIX
    except (OSError, ValueError):  # the working directory is gone, the package is zipped...
        return resolve()
    body = _read_entry(directory / name)
    found = None if body is None else _hit(body, env, debug)
    if found is not None:
        return found
    with _recording() as rec:
        result = resolve()
    try:
        body = _entry(result, rec, env)
        _write_entry(directory, name, body)
    except _Skip as why:
        _say(debug, env, f"configuration not cached: {why}")
    except Exception as exc:  # storing is best effort: it never fails the command
        _say(debug, env, f"configuration not cached: {type(exc).__name__}: {exc}")
    return result


def _hit(
    body: bytes, env: Mapping[str, str], debug: bool = False
) -> tuple[ResolvedProject, frozenset[str]] | None:
    """The entry's result if every input it lists is unchanged; None for any damage."""
    try:
        inputs, origins, data = _HeadUnpickler(io.BytesIO(body)).load()
        if not _unchanged(inputs):
            return None
        secrets = _open_vault(origins, env)
        project, configured = _Unpickler(io.BytesIO(data), secrets).load()
    except Exception as exc:  # an entry of another build, damaged or edited: rebuilt
        _say(debug, env, f"configuration cache entry ignored: {type(exc).__name__}: {exc}")
        return None
    return project, frozenset(configured)


def _entry(
    result: tuple[ResolvedProject, frozenset[str]], rec: _Recorder, env: Mapping[str, str]
) -> bytes:
    project, configured = result
    if rec.unsupported:
        raise _Skip(rec.unsupported)
    if str(project.source) not in rec.opened:
        raise _Skip("the configuration does not come from a file")
    if any(spec.user for spec in project.processes.values()):
        raise _Skip("a process sets `user` (the account database is not watched)")
    inputs = _inputs(rec)
    vault = _vault_for(project, env)
    data = _dump(project, configured, vault)
    return pickle.dumps((inputs, tuple(vault.origins), data), protocol=pickle.HIGHEST_PROTOCOL)


def _say(debug: bool, env: Mapping[str, str], message: str) -> None:
    if debug or env.get("PRODSERVER_DEBUG") == "1":
        sys.stderr.write(f"prodserver: {message}\n")
