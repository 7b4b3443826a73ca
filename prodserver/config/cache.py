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

**What else an entry keeps.** Beside the result, plain data computed from it and from prodserver's
code alone (``facts``; ``up`` keeps the audit hash of the configuration and what the built-in
backends require there), which a hit therefore reproduces exactly without computing it.

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

import io
import os
import sys
from pathlib import Path

from prodserver import fastpath
from prodserver.config.cache_store import (
    _SUFFIX,
    MAGIC,
    _HeadUnpickler,
    _open_vault,
    _read_entry,
    _Unpickler,
)
from prodserver.fastpath import unchanged as _unchanged

# A hit (every `up`, `run` and `exec` after the first) imports only what reads an entry: the
# recorder and the writing side (prodserver.config.cache_inputs, the rest of cache_store) are
# imported on a miss, which resolves the configuration anyway (issue 17).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from prodserver.config.cache_inputs import _Recorder
    from prodserver.config.model import ResolvedProject

    Resolve = Callable[[], tuple[ResolvedProject, frozenset[str]]]

__all__ = [
    "FORMAT",
    "MAGIC",
    "MAX_ENTRIES",
    "NO_CACHE_ENV",
    "cache_dir",
    "cached",
    "disabled",
    "request_key",
]

NO_CACHE_ENV = fastpath.NO_CACHE_ENV
#: entries kept; the oldest written are removed beyond this
MAX_ENTRIES = 64
#: bumped whenever what an entry holds changes shape
FORMAT = 4
# -- where -------------------------------------------------------------------------------------


def cache_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """The user's private cache directory, created 0700; None where it cannot be trusted."""
    found = fastpath.cache_dir(environ)
    return None if found is None else Path(found)


def disabled(no_cache: bool = False, environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``--no-cache`` or ``PRODSERVER_NO_CACHE`` turns the cache off."""
    return fastpath.disabled(no_cache, environ)


# -- the key -----------------------------------------------------------------------------------


def request_key(request: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """The hash naming an entry: the request, the environment, the interpreter, prodserver."""
    return fastpath.key_of((FORMAT, sorted(request.items())), environ)


# -- the entry point ---------------------------------------------------------------------------


def cached(
    resolve: Resolve,
    request: Mapping[str, Any],
    *,
    environ: Mapping[str, str] | None = None,
    no_cache: bool = False,
    debug: bool = False,
    inputs: list[Any] | None = None,
    facts: Callable[[ResolvedProject, frozenset[str]], dict[str, Any]] | None = None,
    facts_out: dict[str, Any] | None = None,
) -> tuple[ResolvedProject, frozenset[str]]:
    """``resolve()``'s result, from the cache when every input it read is unchanged.

    ``resolve`` must resolve for this machine (not an export) with ``environ`` (default:
    ``os.environ``) as the environment, from the arguments in ``request``; it returns the project
    and the names of the variables the configuration set (``Provenance.configured``).
    ``inputs``, when given, receives the entry's list of inputs if the result is cached (read
    from an entry, or written to one): what a fast record of ``run`` or ``exec`` must check.
    ``facts(project, configured)``, when given, is stored beside the result when an entry is
    written: plain data that is a function of the result and prodserver's own code alone (both
    of which a hit reproduces exactly), nothing secret. ``facts_out`` receives it whenever the
    result is cached: a hit then knows it without computing it or importing what computes it.
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
    found = None if body is None else _hit(body, env, debug, inputs, facts_out)
    if found is not None:
        return found
    from prodserver.config.cache_inputs import _recording, _Skip
    from prodserver.config.cache_store import _write_entry

    with _recording() as rec:
        result = resolve()
    try:
        body = _entry(result, rec, env, inputs, facts=facts, facts_out=facts_out)
        _write_entry(directory, name, body, keep=MAX_ENTRIES)
    except _Skip as why:
        _say(debug, env, f"configuration not cached: {why}")
    except Exception as exc:  # storing is best effort: it never fails the command
        _say(debug, env, f"configuration not cached: {type(exc).__name__}: {exc}")
    return result


def _hit(
    body: bytes,
    env: Mapping[str, str],
    debug: bool = False,
    inputs_out: list[Any] | None = None,
    facts_out: dict[str, Any] | None = None,
) -> tuple[ResolvedProject, frozenset[str]] | None:
    """The entry's result if every input it lists is unchanged; None for any damage."""
    try:
        inputs, origins, data, facts = _HeadUnpickler(io.BytesIO(body)).load()
        if not _unchanged(inputs):
            return None
        secrets = _open_vault(origins, env)
        project, configured = _Unpickler(io.BytesIO(data), secrets).load()
    except Exception as exc:  # an entry of another build, damaged or edited: rebuilt
        _say(debug, env, f"configuration cache entry ignored: {type(exc).__name__}: {exc}")
        return None
    if inputs_out is not None:
        inputs_out.extend(inputs)
    if facts_out is not None:
        facts_out.update(facts)
    return project, frozenset(configured)


def _entry(
    result: tuple[ResolvedProject, frozenset[str]],
    rec: _Recorder,
    env: Mapping[str, str],
    inputs_out: list[Any] | None = None,
    *,
    facts: Callable[[ResolvedProject, frozenset[str]], dict[str, Any]] | None = None,
    facts_out: dict[str, Any] | None = None,
) -> bytes:
    from prodserver.config.cache_inputs import _inputs, _Skip
    from prodserver.config.cache_store import _dump, _vault_for

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
    known = {} if facts is None else facts(project, configured)
    head = (inputs, tuple(vault.origins), data, known)
    import pickle  # nosec B403 - plain data: the head is read by a find_class that refuses all

    body = pickle.dumps(head, protocol=pickle.HIGHEST_PROTOCOL)
    if inputs_out is not None:
        inputs_out.extend(inputs)
    if facts_out is not None:
        facts_out.update(known)
    return body


def _say(debug: bool, env: Mapping[str, str], message: str) -> None:
    if debug or env.get("PRODSERVER_DEBUG") == "1":
        sys.stderr.write(f"prodserver: {message}\n")
