"""Writing the fast record of a ``run`` or ``exec`` (read back by :mod:`prodserver.fastpath`).

The record is never computed beside the tested code: while ``exec_process`` or ``run_oneoff``
runs, ``os.execve`` or ``subprocess.Popen`` is watched, and what the tested code passes to it
(the program, its argv, its environment, its working directory) is what is written, after the
root rule, the program lookup and every other check of the normal path have passed. The file
system calls of that stretch (the program looked up on ``PATH``, the working directory) are
recorded like the resolution's, and join the configuration cache entry's inputs in the record.

A record is written only when the configuration came from the cache or was written to it (so
every reason the cache has to refuse a configuration, a secret written in the TOML, ``user =``,
Django's settings, refuses the record too), and never with ``--no-cache``.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from prodserver import fastpath

if TYPE_CHECKING:
    import argparse

    from prodserver.config.cache_inputs import _Recorder
    from prodserver.config.model import ResolvedProject


@contextlib.contextmanager
def recording_launch(
    args: argparse.Namespace, project: ResolvedProject, kind: Literal["run", "exec"]
) -> Iterator[None]:
    """Inside the block, the launch of ``run``'s command or ``exec``'s program is written as a
    fast record for this start's command line (if it may have one)."""
    entry = fastpath.ENTRY
    inputs: list[Any] = list(getattr(args, "_cache_inputs", None) or [])
    if entry is None or not inputs or getattr(args, "no_cache", False):
        yield
        return
    from prodserver.config.cache_inputs import _recording

    debug = bool(getattr(args, "debug", False))
    with _recording() as rec:

        def write(program: str, argv: Sequence[str], env: Mapping[str, str], cwd: str) -> None:
            rec.active = False  # from here on the file work is the record's own
            try:
                _write(
                    entry, inputs, rec, kind=kind, project=project, launch=(program, argv, env, cwd)
                )
            except Exception as exc:  # best effort: never fails the command
                _say(debug, entry[1], f"fast record not written: {exc}")

        with _watching(kind, write):
            yield


@contextlib.contextmanager
def _watching(kind: str, write: Any) -> Iterator[None]:
    """``os.execve`` (exec) or ``subprocess.Popen`` (run), reporting their arguments."""
    if kind == "exec":
        real_execve = os.execve

        def execve(path: Any, argv: Any, env: Any) -> Any:
            write(os.fsdecode(path), [os.fsdecode(a) for a in argv], dict(env), os.getcwd())
            return real_execve(path, argv, env)

        os.execve = execve
        try:
            yield
        finally:
            os.execve = real_execve
        return
    import subprocess

    real_popen = subprocess.Popen

    def popen(cmd: Any, **kw: Any) -> Any:
        child = real_popen(cmd, **kw)
        # anything but the argv list, env and cwd run_oneoff passes: not understood, not written
        if isinstance(cmd, list) and cmd and set(kw) == {"env", "cwd"}:
            cwd = os.path.abspath(os.fspath(kw["cwd"]))
            write(os.fsdecode(cmd[0]), [os.fsdecode(a) for a in cmd], dict(kw["env"]), cwd)
        return child

    subprocess.Popen = popen  # type: ignore[misc, assignment]
    try:
        yield
    finally:
        subprocess.Popen = real_popen  # type: ignore[misc]


def _write(
    entry: tuple[tuple[str, ...], dict[str, str], str, str],
    cache_inputs: list[Any],
    rec: _Recorder,
    *,
    kind: str,
    project: ResolvedProject,
    launch: tuple[str, Sequence[str], Mapping[str, str], str],
) -> None:
    from prodserver.config.cache import MAX_ENTRIES
    from prodserver.config.cache_inputs import _inputs, _Skip
    from prodserver.config.cache_store import _prove_secret_free, _vault_for, _write_entry

    _words, start_env, key, directory = entry
    if rec.unsupported:
        raise _Skip(rec.unsupported)
    inputs = [*cache_inputs, *_inputs(rec)]
    vault = _vault_for(project, start_env)
    sources: list[tuple[Any, ...]] = []
    index: dict[tuple[Any, ...], int] = {}

    def source(origin: tuple[Any, ...]) -> int:
        if origin not in index:
            index[origin] = len(sources)
            sources.append(origin)
        return index[origin]

    refs = {
        value: source(_origin(origin, value))
        for value, origin in zip(vault.values, vault.origins, strict=True)
    }
    find = vault.pattern() if vault.values else None

    def text(value: str) -> str | tuple[str | int, ...]:
        if find is None or find.search(value) is None:
            return value
        parts: list[str | int] = []
        pos = 0
        for match in find.finditer(value):
            parts += [value[pos : match.start()], refs[match.group()]]
            pos = match.end()
        parts.append(value[pos:])
        return tuple(parts)

    program, argv, env, cwd = launch
    environment = [
        (
            text(name),
            (source(("env", name)),) if value and start_env.get(name) == value else text(value),
        )
        for name, value in env.items()
    ]
    record = (
        fastpath.FAST_FORMAT,
        kind,
        inputs,
        sources,
        text(program),
        [text(word) for word in argv],
        environment,
        text(cwd),
    )
    body = marshal.dumps(record)
    _prove_secret_free(project, body)
    _write_entry(
        Path(directory),
        key + fastpath.FAST_SUFFIX,
        body,
        keep=MAX_ENTRIES,
        magic=fastpath.FAST_MAGIC,
        suffix=fastpath.FAST_SUFFIX,
    )


def _origin(origin: tuple[str, ...], value: str) -> tuple[Any, ...]:
    """A vault's origin as a record refers to it: an env file's value as its byte range (the
    file's SHA-256 is checked before the range is read), so that no secret is copied."""
    from prodserver.config.cache_inputs import _Skip

    if origin[0] == "env":
        return origin
    path = origin[1]
    data = Path(path).read_bytes()
    wanted = value.encode("utf-8", "surrogateescape")
    start = data.find(wanted)
    if start < 0:
        raise _Skip(f"a secret of {path} is not written there as it is read")
    digest = str(fastpath.sha256(data).hexdigest())
    return ("file", path, digest, start, start + len(wanted))


def _say(debug: bool, env: Mapping[str, str], message: str) -> None:
    if debug or env.get("PRODSERVER_DEBUG") == "1":
        sys.stderr.write(f"prodserver: {message}\n")
