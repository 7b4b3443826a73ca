"""Helpers shared by the command modules."""

from __future__ import annotations

from pathlib import Path

from prodserver.errors import UsageError

TYPE_CHECKING = False  # not typing's: it costs milliseconds at every start (issue 17)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Mapping
    from typing import Any

    from prodserver.config.model import ResolvedProject


def add_allow_root(parser: argparse.ArgumentParser) -> None:
    """``--allow-root``, the same for ``up``, ``exec`` and ``run``."""
    parser.add_argument(
        "--allow-root",
        action="store_true",
        help="run as root in a production profile (refused by default; "
        "also PRODSERVER_ALLOW_ROOT=1 or [project] allow_root = true)",
    )


def parse_scale(values: list[str] | None) -> dict[str, int]:
    """``["web=3", "worker=2"]`` -> ``{"web": 3, "worker": 2}``."""
    if not values:
        return {}
    from prodserver.config.limits import MAX_SCALE

    out: dict[str, int] = {}
    for item in values or []:
        name, sep, count = item.partition("=")
        count = count.strip()
        # ASCII digits only: str.isdigit() also accepts "²", which int() refuses
        if not sep or not name or not count or not count.isascii() or not count.isdigit():
            raise UsageError(
                f"--scale expects NAME=COUNT, got {item!r}", hint="for example: --scale web=3"
            )
        if len(count) > len(str(MAX_SCALE)) + 1:  # never turn a million digits into an int
            raise UsageError(f"--scale {name.strip()}: a process runs 0 to {MAX_SCALE} instances")
        out[name.strip()] = int(count)
    return out


def load_project(
    args: argparse.Namespace,
    *,
    for_export: bool = False,
    include_secrets: bool = False,
    scale: Mapping[str, int] | None = None,
    port: int | None = None,
) -> ResolvedProject:
    """Resolve the configuration named by the common options of ``args``.

    A resolution for this machine goes through the configuration cache
    (:mod:`prodserver.config.cache`) unless ``--no-cache``; an export never does.
    """
    if not for_export:
        return resolve_here(args, scale=scale, port=port)[0]
    from prodserver.config.resolve import resolve_project

    file = getattr(args, "file", None)
    return resolve_project(
        file=Path(file) if file else None,
        profile=getattr(args, "profile", None),
        env_files=[Path(p) for p in getattr(args, "env_file", None) or []],
        scale=scale,
        port=port,
        for_export=for_export,
        include_secrets=include_secrets,
    )


def resolve_here(
    args: argparse.Namespace,
    *,
    scale: Mapping[str, int] | None = None,
    port: int | None = None,
    environ: Mapping[str, str] | None = None,
    cache: bool = True,
    up_facts: dict[str, Any] | None = None,
) -> tuple[ResolvedProject, frozenset[str]]:
    """The configuration resolved for this machine, and the names of the variables it sets
    (``Provenance.configured``): from the cache when nothing it read has changed.

    ``up_facts``: ``up``'s own entries, which also keep what ``up`` derives from the result
    before it starts (:func:`_facts`: ``backend_needs`` and ``config_sha256``); the dict receives
    them when the result is cached, and stays empty otherwise. ``run`` and ``exec`` do not pay
    for computing them on a miss."""
    from prodserver.config.cache import cached

    file = getattr(args, "file", None)
    profile = getattr(args, "profile", None)
    env_files = [str(p) for p in getattr(args, "env_file", None) or []]

    def resolve() -> tuple[ResolvedProject, frozenset[str]]:
        from prodserver.config.resolve import resolve_with_provenance
        from prodserver.fastpath import resume_collector

        # not from the cache: the collector, paused for the start, collects what resolving
        # leaves (it pauses itself while it resolves), and is not frozen with it
        resume_collector()

        project, prov = resolve_with_provenance(
            file=Path(file) if file else None,
            profile=profile,
            env_files=[Path(p) for p in env_files],
            scale=scale,
            port=port,
            environ=environ,
        )
        return project, frozenset(prov.configured)

    request = {
        "file": file,
        "profile": profile,
        "env_files": env_files,
        "scale": sorted((scale or {}).items()),
        "port": port,
    }
    if up_facts is not None:
        request["facts"] = True
    inputs: list[Any] = []
    result = cached(
        resolve,
        request,
        environ=environ,
        no_cache=not cache or bool(getattr(args, "no_cache", False)),
        debug=bool(getattr(args, "debug", False)),
        inputs=inputs,
        facts=_facts if up_facts is not None else None,
        facts_out=up_facts,
    )
    # what a fast record of `run` or `exec` must check again (empty: the result is not cached)
    args._cache_inputs = inputs
    return result


def _facts(project: ResolvedProject, configured: frozenset[str]) -> dict[str, Any]:
    """What a cache entry keeps beside the result, for ``up`` to start without computing it
    (:func:`prodserver.config.cache.cached`)."""
    from prodserver.checks.installed import backend_needs
    from prodserver.config.display import config_hash

    return {
        "backend_needs": backend_needs(project),
        "config_sha256": config_hash(project, configured),
    }
