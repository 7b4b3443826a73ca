"""Resolution: from a configuration file to one frozen :class:`ResolvedProject`.

The steps, each a module with explicit inputs and outputs, all sharing one
:class:`~prodserver.config.context.Context` (inputs, problem sink, substitution memory,
provenance):

1. read: ``discover`` and ``read_source`` (sources.py), or a registered fallback source;
2. validate the file's structure (schema/validate.py), every problem at once;
3. profiles: the profile chosen and its chain of layers (profiles.py, merge.py);
4. merge the processes along the chain (merge.py);
5. secrets: which names hold secrets, before any value is substituted (secrecy.py);
6. environment: env files < shell < [env] < profile env (environment.py);
7. processes (process.py), each: its copies and port (ports.py), its env layer, then per
   copy the option values (values.py: substituted by expand.py, typed by coerce.py), argv
   (commands.py), probe (probes.py) and policies (policies.py);
8. dependency graph (graph.py), and the ``[export]`` table (deploy.py);
9. the model, or every error found in steps 6 to 8 at once, secrets masked.

Which variables stay references (an export's ``${PORT}``, secrets, what the deploying machine
provides) is decided in one place: :meth:`Context.keeps <prodserver.config.context.Context.keeps>`.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypedDict, Unpack

from prodserver import codes
from prodserver.config import expand
from prodserver.config.context import Context
from prodserver.config.deploy import resolve_deploy
from prodserver.config.environment import SharedEnv, shared_environment
from prodserver.config.graph import check_dependencies
from prodserver.config.instances import Shared
from prodserver.config.merge import ROOT, Merged, merge_processes, profile_names
from prodserver.config.model import DeploySettings, ProcessSpec, ResolvedProject, frozen_map
from prodserver.config.process import key_paths, resolve_process
from prodserver.config.profiles import PROFILE_ENV, Chosen, inherit_env, linearise, production
from prodserver.config.provenance import EnvOrigin, Provenance
from prodserver.config.secrecy import mask_problem, masker, secret_names, taint_secret_sources
from prodserver.config.sources import FILE_ENV, RawSource, discover, read_source
from prodserver.config.target import Target
from prodserver.errors import ConfigError, Location, unique_problems

__all__ = [
    "PROFILE_ENV",
    "EnvOrigin",
    "Provenance",
    "ResolveOptions",
    "add_source_fallback",
    "load_source",
    "resolve_project",
    "resolve_source",
    "resolve_with_provenance",
]


class ResolveOptions(TypedDict, total=False):
    """What one resolution is asked for; every key may be left out."""

    #: the configuration file (default: ``$PRODSERVER_FILE``, else found from ``cwd`` up)
    file: Path | None
    #: where discovery starts and ``--env-file`` paths are relative to (default: the cwd)
    cwd: Path | None
    #: ``--profile`` (default: ``$PRODSERVER_PROFILE``, else ``[project] default_profile``)
    profile: str | None
    #: ``--env-file``, loaded above the configuration's own env files
    env_files: Sequence[Path]
    #: ``--scale name=N``
    scale: Mapping[str, int] | None
    #: ``--port``: the base port
    port: int | None
    #: the shell environment (default: ``os.environ``)
    environ: Mapping[str, str] | None
    #: resolve for another machine (an export): see :class:`~prodserver.config.target.Target`
    for_export: bool
    #: with ``for_export``: write secret values instead of references
    include_secrets: bool


def resolve_project(**options: Unpack[ResolveOptions]) -> ResolvedProject:
    """Find, read, validate and resolve the configuration for one profile."""
    project, _ = resolve_with_provenance(**options)
    return project


def resolve_with_provenance(
    *, source: RawSource | None = None, **options: Unpack[ResolveOptions]
) -> tuple[ResolvedProject, Provenance]:
    """:func:`resolve_project`, with where each value came from (``config --explain``).

    ``source``: an already loaded source (``check`` loads it first); else it is loaded.
    """
    environ = options.get("environ")
    env = dict(os.environ if environ is None else environ)
    cwd = options.get("cwd")
    with _collector_paused():
        if source is None:
            source = load_source(options.get("file"), cwd, env)
        for_export = options.get("for_export", False)
        include_secrets = options.get("include_secrets", False)
        ctx = Context(
            source,
            environ=env,
            cwd=cwd or Path.cwd(),
            target=(
                Target.elsewhere(include_secrets=include_secrets) if for_export else Target.here()
            ),
            cli_env_files=tuple(options.get("env_files", ())),
            scale=dict(options.get("scale") or {}),
            port=options.get("port"),
        )
        return resolve_source(ctx, options.get("profile")), ctx.prov


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while a configuration is read and resolved.

    Both build a large tree of new, live objects: every few hundred allocations the collector
    walked the young ones, and every so often the whole heap, and found next to nothing to
    free (about one cycle per process: 15,000 objects for 10,000 processes), for a quarter of
    the time of `check` at that size. What little they leave is collected once the collector
    runs again; reference counting frees everything else as before.
    """
    if not gc.isenabled():
        yield  # paused by a caller (or by the program): left as it is
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


#: consulted when discovery finds no file (the Django app registers PRODUCTION_PROCESSES)
_source_fallbacks: list[Callable[[], RawSource | None]] = []


def add_source_fallback(fallback: Callable[[], RawSource | None]) -> Callable[[], None]:
    """Register a source used when no configuration file is found; returns its remover."""
    _source_fallbacks.append(fallback)
    return lambda: _source_fallbacks.remove(fallback)


def load_source(
    file: Path | None = None, cwd: Path | None = None, environ: Mapping[str, str] | None = None
) -> RawSource:
    """Steps 1 and 2: the file, read and structurally validated."""
    with _collector_paused():
        return _load_source(file, cwd, environ)


def _load_source(
    file: Path | None, cwd: Path | None, environ: Mapping[str, str] | None
) -> RawSource:
    from prodserver.schema.validate import validate_file

    try:
        path = discover(file, cwd, environ)
    except ConfigError as exc:
        found = None
        named = file is not None or bool((os.environ if environ is None else environ).get(FILE_ENV))
        if not named and exc.code == codes.FILE_UNREADABLE:
            found = next((s for s in (f() for f in _source_fallbacks) if s is not None), None)
        if found is None:
            raise
        source = found
    else:
        source = read_source(path)
    validate_file(source)
    return source


def resolve_source(ctx: Context, requested: str | None) -> ResolvedProject:
    """Steps 3 to 9 for the context's source; raises with every error found."""
    chosen = linearise(ctx, requested)
    merged = merge_processes(chosen.layers)
    taint_secret_sources(ctx, _env_tables(chosen, merged))
    shared = shared_environment(ctx, chosen.layers, chosen.profile)
    _check_scale_names(ctx, merged)
    specs = _processes(ctx, merged, Shared(shared.values, inherit_env(ctx, chosen.layers)))
    specs = check_dependencies(ctx, specs, merged.processes, merged.defined_at)
    deploy = resolve_deploy(ctx.source, chosen.layers, merged.processes, ctx.out.problems)
    _raise_errors(ctx, shared.values)
    return _project(ctx, chosen, shared, specs, deploy)


def _env_tables(chosen: Chosen, merged: Merged) -> list[Mapping[str, object]]:
    """Every env table of the chain and of each merged process."""
    tables = (
        *(layer.data.get("env") for layer in chosen.layers),
        *(t.get("env") for t in merged.processes.values() if isinstance(t, dict)),
    )
    return [table for table in tables if isinstance(table, dict)]


def _check_scale_names(ctx: Context, merged: Merged) -> None:
    from prodserver.suggest import did_you_mean

    names = list(merged.processes)
    for name in ctx.scale:
        if name not in merged.processes:
            raise ConfigError(
                f"--scale names unknown process {name!r}",
                hint=did_you_mean(name, names) or f"processes: {', '.join(names)}",
                code=codes.SCALE_UNKNOWN_PROCESS,
            )


def _processes(ctx: Context, merged: Merged, shared: Shared) -> dict[str, ProcessSpec]:
    """Each merged process resolved; its position is its place in the file."""
    specs: dict[str, ProcessSpec] = {}
    for position, (name, table) in enumerate(merged.processes.items()):
        where = key_paths(name, merged.origins, merged.defined_at[name])
        spec = resolve_process(ctx, name, table, where, position=position, shared=shared)
        if spec is not None:
            specs[name] = spec
    return specs


def _raise_errors(ctx: Context, shared_env: Mapping[str, str]) -> None:
    """Every error found, at once, secret values masked."""
    errors = unique_problems([p for p in ctx.out.problems if p.severity == "error"])
    if errors:
        hide = masker(ctx, shared_env)
        raise ConfigError(
            f"the configuration in {ctx.source.path} is not valid",
            problems=[mask_problem(p, hide) for p in errors],
            location=Location(ctx.source.path),
        )


def _project(
    ctx: Context,
    chosen: Chosen,
    shared: SharedEnv,
    specs: Mapping[str, ProcessSpec],
    deploy: DeploySettings,
) -> ResolvedProject:
    env = shared.values
    secrets = secret_names(ctx, env, specs)
    project_name = ctx.project.get("name") or ctx.source.fallback_name
    ctx.prov.configured = set(ctx.config_names)
    hide = masker(ctx, env)
    return ResolvedProject(
        name=str(project_name) if project_name else _default_name(ctx.root),
        root=ctx.root,
        source=ctx.source.path,
        profile=chosen.profile or ROOT,
        profiles=tuple(profile_names(ctx.source)),
        processes=frozen_map(specs),
        env=frozen_map({k: expand.text(ctx, v) for k, v in env.items()}),
        env_values=frozen_map({k: ctx.placeholders.decode(v) for k, v in env.items()}),
        secret_names=frozenset(secrets),
        env_files=shared.files,
        warnings=tuple(hide.text(w.render()) for w in unique_problems(ctx.out.warnings)),
        runtime_refs=frozenset(ctx.kept_refs),
        production=production(chosen.layers),
        allow_root=ctx.project.get("allow_root") is True,
        deploy=deploy,
    )


def _default_name(root: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", root.name).strip("-")
    return name or "app"
