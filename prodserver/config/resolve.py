"""Resolution as a pipeline of named steps, ending in one frozen :class:`ResolvedProject`.

1. ``discover`` and ``read_source`` (sources.py): the file, with line numbers;
2. ``validate_file`` (schema/validate.py): the file's structure, every problem at once;
3. ``chain``/``merge_processes`` (merge.py): profile chain, merge rules;
4. ``layer_environment``: env_files < shell < [env] < profile env(s) < process env;
5. per process: substitute, coerce, validate strictly, build argv and instances.

Every problem found in steps 4 and 5 is collected, and all are reported together.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from prodserver import codes
from prodserver.backends.base import Backend, BackendContext
from prodserver.config.display import Masker
from prodserver.config.keys import COMMON_NAMES, COMMON_OPTIONS, PROJECT_KEYS
from prodserver.config.limits import MAX_SCALE
from prodserver.config.merge import ROOT, Layer, chain, layers, merge_processes, unknown_profile
from prodserver.config.model import (
    DEFAULT_BASE_PORT,
    DEFAULT_STOP_TIMEOUT,
    Dependency,
    HealthCheck,
    Instance,
    ProbeKind,
    ProcessSpec,
    ResolvedProject,
    RestartPolicy,
    assigned_port,
    frozen_map,
)
from prodserver.config.sources import FILE_ENV, KeyPath, RawSource, discover, read_source
from prodserver.config.target import INSTANCE, RUNTIME_VARIABLES, Target
from prodserver.errors import ConfigError, Location, Problem, unique_problems
from prodserver.options import Option, OptionType
from prodserver.template import Deferred, Placeholders, Ref, Template

PROFILE_ENV = "PRODSERVER_PROFILE"
_COMMON_BY_NAME = {o.name: o for o in COMMON_OPTIONS}
#: what a process still gets from the shell with ``inherit_env = false``
_BASIC_ENV = re.compile(r"^(PATH|HOME|USER|LOGNAME|LANG|LANGUAGE|LC_[A-Z_]+|TZ|TMPDIR)$")
#: typed members of the table-valued common keys (coerced like options before validation)
_SUBKEY_TYPES: dict[str, dict[str, OptionType]] = {
    "healthcheck": {
        "interval": "duration",
        "timeout": "duration",
        "start_period": "duration",
        "watchdog": "duration",
        "retries": "integer",
    },
    "restart": {
        "backoff": "duration",
        "backoff_max": "duration",
        "window": "duration",
        "max_restarts": "integer",
    },
    "autoscale": {"min": "integer", "max": "integer", "cpu": "integer"},
}
_PROJECT_BY_NAME = {o.name: o for o in PROJECT_KEYS}


@dataclass
class EnvOrigin:
    """Where one environment variable's value came from (for ``config --explain``)."""

    layer: str
    location: Location

    def render(self) -> str:
        where = self.location.render()
        return f"{self.layer} ({where})" if where else self.layer


@dataclass
class Provenance:
    """Which layer set each resolved value."""

    env: dict[str, EnvOrigin] = field(default_factory=dict)
    #: process name -> env var -> origin (process env layer and assigned PORT)
    process_env: dict[str, dict[str, EnvOrigin]] = field(default_factory=dict)
    #: process name -> key -> location in the file
    keys: dict[str, dict[str, Location]] = field(default_factory=dict)
    profile_origin: str = ""
    #: variables set by one of the configuration's own layers (env files, [env], profiles,
    #: process env): what `config` shows, even where the shell overrides the value
    configured: set[str] = field(default_factory=set)


@dataclass
class _Collector:
    source: RawSource
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    #: how a message shows a value that passes through as a placeholder (the resolver's)
    shown: Callable[[str], str] = str

    def error(self, code: str, message: str, path: KeyPath, hint: str | None = None) -> None:
        hint = self.shown(hint) if hint else hint
        self.problems.append(Problem(code, self.shown(message), self.source.location(path), hint))

    def warn(self, code: str, message: str, path: KeyPath, hint: str | None = None) -> None:
        hint = self.shown(hint) if hint else hint
        location = self.source.location(path)
        # repeats (one per instance) are dropped once, by unique_problems, at the end
        self.warnings.append(Problem(code, self.shown(message), location, hint, severity="warning"))


# -- the entry point ---------------------------------------------------------------------------


def resolve_project(
    *,
    file: Path | None = None,
    cwd: Path | None = None,
    profile: str | None = None,
    env_files: Sequence[Path] = (),
    scale: Mapping[str, int] | None = None,
    port: int | None = None,
    environ: Mapping[str, str] | None = None,
    for_export: bool = False,
    include_secrets: bool = False,
) -> ResolvedProject:
    """Find, read, validate and resolve the configuration for one profile."""
    project, _ = resolve_with_provenance(
        file=file,
        cwd=cwd,
        profile=profile,
        env_files=env_files,
        scale=scale,
        port=port,
        environ=environ,
        for_export=for_export,
        include_secrets=include_secrets,
    )
    return project


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


def resolve_with_provenance(
    *,
    file: Path | None = None,
    cwd: Path | None = None,
    profile: str | None = None,
    env_files: Sequence[Path] = (),
    scale: Mapping[str, int] | None = None,
    port: int | None = None,
    environ: Mapping[str, str] | None = None,
    for_export: bool = False,
    include_secrets: bool = False,
    source: RawSource | None = None,
) -> tuple[ResolvedProject, Provenance]:
    env = dict(os.environ if environ is None else environ)
    if source is None:
        source = load_source(file, cwd, env)
    return Resolver(
        source,
        environ=env,
        cwd=cwd or Path.cwd(),
        cli_env_files=env_files,
        scale=dict(scale or {}),
        port=port,
        for_export=for_export,
        include_secrets=include_secrets,
    ).resolve(profile)


# -- the resolver ------------------------------------------------------------------------------


class Resolver:
    """Runs steps 3 to 5 for one source; create one per resolution."""

    def __init__(
        self,
        source: RawSource,
        *,
        environ: Mapping[str, str],
        cwd: Path,
        cli_env_files: Sequence[Path] = (),
        scale: Mapping[str, int] | None = None,
        port: int | None = None,
        for_export: bool = False,
        include_secrets: bool = False,
    ) -> None:
        self.source = source
        self.environ = environ
        self.cwd = cwd
        self.cli_env_files = list(cli_env_files)
        self.scale = dict(scale or {})
        self.port = port
        self.target = (
            Target.elsewhere(include_secrets=include_secrets) if for_export else Target.here()
        )
        self.out = _Collector(source)
        self.out.warnings.extend(source.warnings)
        self.prov = Provenance()
        project = source.data.get("project", {})
        self.project: Mapping[str, Any] = project if isinstance(project, dict) else {}
        self.root = source.root.resolve()
        self.config_names: set[str] = set()
        self.secret_patterns = [str(s) for s in self.project.get("secrets", []) or []]
        self.kept_refs: set[str] = set()
        self.env_files_read: list[Path] = []
        #: every process env layer seen, for masking secrets in messages
        self.process_envs: dict[str, str] = {}
        self.inherit_env = True
        #: export mode: configured variables whose value still holds a reference, so that a
        #: reference to them stays a reference too (the platform resolves the chain)
        self.ref_names: set[str] = set()
        #: kept references travel through text (lookups, backends) as placeholders
        self.placeholders = Placeholders()
        self.out.shown = self.placeholders.shown
        #: names that hold a secret though their own name does not say so: a URL with a
        #: password, or a variable a secret's definition refers to
        self.secret_values: set[str] = set()
        #: characters substitution produced so far, against MAX_SUBSTITUTED_TOTAL
        self.substituted = 0
        self.over_total = False

    # step 3 ---------------------------------------------------------------------------------

    def choose_profile(self, requested: str | None) -> tuple[str | None, str]:
        from prodserver.config.merge import profile_names

        known = profile_names(self.source)
        if requested == ROOT:
            return None, "the root processes, asked for explicitly"
        if requested:
            return requested, "--profile"
        if self.environ.get(PROFILE_ENV):
            return self.environ[PROFILE_ENV], f"${PROFILE_ENV}"
        default = self.project.get("default_profile")
        if isinstance(default, str) and default:
            if default not in known:
                raise ConfigError(
                    f"default_profile {default!r} is not a profile of this file",
                    hint=unknown_profile(default, known),
                    location=self.source.location(("project", "default_profile")),
                    code=codes.UNKNOWN_PROFILE,
                )
            return default, "[project] default_profile"
        return None, "no profile chosen: the root processes"

    def resolve(self, requested: str | None) -> tuple[ResolvedProject, Provenance]:
        from prodserver.config.merge import profile_names

        profile, why = self.choose_profile(requested)
        self.prov.profile_origin = why
        try:
            chain_layers = layers(self.source, profile)
        except ConfigError as exc:
            if exc.code == codes.UNKNOWN_PROFILE and why != "--profile":
                raise ConfigError(
                    f"{exc.message} (chosen by {why})",
                    hint=exc.hint,
                    location=exc.location,
                    code=exc.code,
                ) from None
            raise
        merged = merge_processes(chain_layers)
        self.inherit_env = self.project.get("inherit_env", True) is not False
        for layer in chain_layers:
            if isinstance(layer.data.get("inherit_env"), bool):
                self.inherit_env = bool(layer.data["inherit_env"])
        self.taint_secret_sources(
            [
                table
                for table in (
                    *(layer.data.get("env") for layer in chain_layers),
                    *(t.get("env") for t in merged.processes.values() if isinstance(t, dict)),
                )
                if isinstance(table, dict)
            ]
        )
        shared_env = self.layer_environment(chain_layers, profile)
        names = list(merged.processes)
        for name in self.scale:
            if name not in merged.processes:
                guess = _guess(name, names)
                raise ConfigError(
                    f"--scale names unknown process {name!r}",
                    hint=guess or f"processes: {', '.join(names)}",
                    code=codes.SCALE_UNKNOWN_PROCESS,
                )
        specs: dict[str, ProcessSpec] = {}
        # Like foreman, a process's position is its place in the file: scaling or disabling
        # one process never moves the ports of the others.
        for position, (name, table) in enumerate(merged.processes.items()):
            spec = self.resolve_process(
                name, table, merged.origins, merged.defined_at[name], position, shared_env
            )
            if spec is not None:
                specs[name] = spec
        self.check_dependencies(specs, merged.processes, merged.defined_at)
        from prodserver.config.deploy import resolve_deploy  # the [export] table

        deploy = resolve_deploy(self.source, chain_layers, merged.processes, self.out.problems)
        errors = unique_problems([p for p in self.out.problems if p.severity == "error"])
        if errors:
            masker = self.masker(shared_env)
            raise ConfigError(
                f"the configuration in {self.source.path} is not valid",
                problems=[_mask_problem(p, masker) for p in errors],
                location=Location(self.source.path),
            )
        secret_names = self.secret_names(shared_env, specs)
        project_name = self.project.get("name") or self.source.fallback_name
        self.prov.configured = set(self.config_names)
        masker = self.masker(shared_env)
        project = ResolvedProject(
            name=str(project_name) if project_name else _default_name(self.root),
            root=self.root,
            source=self.source.path,
            profile=profile or ROOT,
            profiles=tuple(profile_names(self.source)),
            processes=frozen_map(specs),
            env=frozen_map({k: self.text(v) for k, v in shared_env.items()}),
            env_values=frozen_map({k: self.placeholders.decode(v) for k, v in shared_env.items()}),
            secret_names=frozenset(secret_names),
            env_files=tuple(self.env_files_read),
            warnings=tuple(masker.text(w.render()) for w in unique_problems(self.out.warnings)),
            runtime_refs=frozenset(self.kept_refs),
            production=self.production(chain_layers),
            allow_root=self.project.get("allow_root") is True,
            deploy=deploy,
        )
        return project, self.prov

    # step 4 ---------------------------------------------------------------------------------

    def production(self, chain_layers: Sequence[Layer]) -> bool:
        """Whether the chosen profile is production: the nearest layer of the chain that says
        so wins, and a profile named prod or production says so unless it sets the mark.

        So a profile that extends a production profile is production unless it (or a
        profile between them) says ``production = false``.
        """
        from prodserver.config.model import PRODUCTION_NAMES

        marked = False
        for layer in chain_layers:
            value = layer.data.get("production")
            if isinstance(value, bool):
                marked = value
            elif layer.name != ROOT and layer.name.lower() in PRODUCTION_NAMES:
                marked = True
        return marked

    def env_file_specs(self, profile: str | None) -> list[tuple[str, Location, Path]]:
        """(spec, where it was named, base directory) for every env file, in load order."""
        specs: list[tuple[str, Location, Path]] = []

        def add(files: Any, path: KeyPath) -> None:
            if isinstance(files, str):  # one file may be given without the brackets
                files = [files]
            for i, spec in enumerate(files if isinstance(files, list) else []):
                specs.append((str(spec), self.source.location((*path, str(i))), self.root))

        add(self.project.get("env_files", ["?.env"]), ("project", "env_files"))
        for name in chain(self.source, profile):
            table = self.source.data["profiles"][name]
            add(table.get("env_files") or [], ("profiles", name, "env_files"))
        for path in self.cli_env_files:
            specs.append((str(path), Location(key_path="--env-file"), self.cwd))
        return specs

    def layer_environment(
        self, chain_layers: Sequence[Layer], profile: str | None
    ) -> dict[str, str]:
        from prodserver.config.envfiles import parse_env_spec, read_env_file

        env: dict[str, str] = {}
        for spec, where, base in self.env_file_specs(profile):
            try:
                name, optional = parse_env_spec(spec)
            except ConfigError as exc:
                self.out.problems.append(Problem(exc.code, exc.message, where, exc.hint))
                continue
            path = Path(name)
            if not path.is_absolute():
                path = base / path
                if base == self.root and not _inside(path, self.root):
                    self.out.problems.append(
                        Problem(
                            codes.ENV_FILE_OUTSIDE_ROOT,
                            f"env file {name!r} is outside the project root {self.root}",
                            where,
                            "name it by an absolute path to load it explicitly",
                        )
                    )
                    continue
            if not self.target.env_file_values:
                # an export names the file for the target to read; this machine's values
                # never reach it (issue 13)
                self.env_files_read.append(path)
                continue
            try:
                loaded = read_env_file(path, optional=optional)
            except ConfigError as exc:
                for found in exc.problems:
                    if found.location.line is None:
                        # the file itself is the problem (missing, a directory): say where
                        # it was listed
                        named = where.render() or "the configuration"
                        found = Problem(  # noqa: PLW2901 - the located copy replaces it
                            found.code,
                            f"{found.message} (listed at {named})",
                            where,
                            found.hint,
                            found.severity,
                        )
                    self.out.problems.append(found)
                continue
            if loaded is None:
                continue
            self.env_files_read.append(path)
            for key, value in loaded.values.items():
                # A .env value is literal text; a kept reference travels as a placeholder
                # character, which user text may not hold.
                if self.placeholder_in(value, Location(file=path, line=loaded.lines.get(key))):
                    continue
                env[key] = value
                self.note_secret_value(key, value)
                self.config_names.add(key)
                self.prov.env[key] = EnvOrigin(
                    "env file", Location(file=path, line=loaded.lines.get(key))
                )
        if self.target.shell_values:
            for key, value in self.environ.items():
                env[key] = value
                self.prov.env[key] = EnvOrigin("shell environment", Location())
        for layer in chain_layers:
            table = layer.data.get("env", {})
            if not isinstance(table, dict):
                continue
            label = "[env]" if layer.name == ROOT else f"profile {layer.name} env"
            below = dict(env)
            for key, raw in table.items():
                key_path = (*layer.path, "env", key)
                text = self.substitute_scalar(raw, below, key_path)
                if text is None:
                    continue
                if self.kept_in(text):  # a reference to it stays one (the platform's chain)
                    self.ref_names.add(key)
                self.note_secret_value(key, text)
                # later keys of the same table may refer to earlier ones, in file order
                below[key] = text
                env[key] = text
                self.config_names.add(key)
                self.prov.env[key] = EnvOrigin(label, self.source.location(key_path))
        return env

    # substitution helpers ---------------------------------------------------------------------

    def keep(self) -> Callable[[str], bool] | None:
        """Which variables stay references instead of local values (None: none do)."""
        if not self.target.keeps_references:
            return None

        def keep(name: str) -> bool:
            kept = (
                name in RUNTIME_VARIABLES
                or (not self.target.include_secrets and self.is_secret(name))
                or name not in self.config_names
                or name in self.ref_names
            )
            if kept:
                self.kept_refs.add(name)
            return kept

        return keep

    def masker(self, shared_env: Mapping[str, str]) -> Masker:
        """Hides secret values in messages, whatever layer they came from."""
        env = {**shared_env, **self.process_envs}
        return Masker([n for n in env if self.is_secret(n)], env, show=False)

    def is_secret(self, name: str) -> bool:
        from prodserver.config.secrets import is_secret_name

        return name in self.secret_values or is_secret_name(name, self.secret_patterns)

    def runtime_value(self, name: str, local: str) -> str:
        """``local``, or a reference to ``name`` where the target keeps it as one."""
        keep = self.keep()
        if keep is not None and keep(name):
            return self.placeholders.encode(Template((Ref(name),)))
        return local

    def shown(self, value: Any) -> Any:
        """An option value for the model: a kept reference in it shown as ``${NAME}``.

        Options are read as values (``prodserver config``, pre-start checks); argv, env and
        probes carry the references as templates.
        """
        if isinstance(value, list):
            return [self.shown(v) for v in value]
        if isinstance(value, str) and self.kept_in(value):
            return str(self.placeholders.decode(value).compose_text())
        return value

    def passed_through(self, value: Any) -> Any:
        """A table exporters write as given (labels, ``export.<format>``), references and all.

        Where references are kept, such a table is written in interpolation syntax (a kept
        reference as ``${NAME}``, a literal ``$`` as ``$$``), as the user wrote it for the
        export; here every value is literal.
        """
        if isinstance(value, dict):
            return {k: self.passed_through(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.passed_through(v) for v in value]
        if isinstance(value, str) and self.target.keeps_references:
            return str(self.placeholders.decode(value).compose_text())
        return value

    def kept_in(self, text: str) -> bool:
        """Whether ``text`` holds a kept reference (as its placeholder)."""
        return not self.placeholders.decode(text).is_literal

    def text(self, value: str, port: int | None = None) -> str:
        """Placeholder text materialised: what a kept reference gives without the platform.

        A resolution for ``up`` keeps no reference, so this is its text unchanged.
        """
        template = self.placeholders.decode(value)
        if template.is_literal:
            return value
        env = {} if port is None else {"PORT": str(port)}
        return template.materialise(env)

    def probe(self, check: HealthCheck | None, port: int | None) -> HealthCheck | None:
        """A probe whose target may hold kept references: as templates, and materialised."""
        if check is None:
            return None
        words = check.target if isinstance(check.target, tuple) else (check.target,)
        templates = tuple(self.placeholders.decode(w) for w in words)
        if all(t.is_literal for t in templates):
            return check
        import dataclasses

        texts = tuple(self.text(w, port) for w in words)
        target = texts if isinstance(check.target, tuple) else texts[0]
        return dataclasses.replace(check, target=target, template=templates)

    def note_secret_value(self, name: str, value: str) -> None:
        """A value holding a URL with a password makes its variable a secret."""
        from prodserver.config.secrets import mask_url_passwords

        if "://" in value and mask_url_passwords(value) != value:
            self.secret_values.add(name)

    def taint_secret_sources(self, tables: Iterable[Mapping[str, Any]]) -> None:
        """A variable a secret is defined from is a secret too (``SECRET_KEY = "${SK}"``)."""
        from prodserver.config.substitute import references

        definitions: dict[str, set[str]] = {}
        for table in tables:
            for key, raw in table.items():
                if isinstance(raw, str) and "$" in raw:
                    try:
                        definitions.setdefault(key, set()).update(references(raw))
                    except ConfigError:
                        continue  # reported with its key path when substituted
        changed = True
        while changed:
            changed = False
            for key, names in definitions.items():
                if self.is_secret(key) and not names <= self.secret_values:
                    self.secret_values.update(names)
                    changed = True

    def placeholder_in(self, text: str, where: Location) -> bool:
        """Refuse text holding the private-use characters that stand for references."""
        found = Placeholders.check(text)
        if found is None:
            return False
        self.out.problems.append(
            Problem(
                codes.PRIVATE_USE_CHARACTER,
                f"the character U+{ord(found):05X} (private use) cannot be used in a value",
                where,
                "remove it: prodserver uses these characters internally",
            )
        )
        return True

    def deferred(self, text: str, whole: bool, t: str, raw: str, path: KeyPath) -> Deferred | None:
        """A typed value left to the platform: only one whole reference can stand there."""
        if whole:
            return Deferred(text)
        self.out.error(
            codes.REFERENCE_NOT_ALONE,
            f"expected {_article(t)}, found {raw!r}: only a value that is one ${{VARIABLE}} "
            "reference can be left for the platform to fill in",
            path,
            f'write the reference alone, its value in the unit wanted: "${{VAR:-{_example(t)}}}"',
        )
        return None

    def substitute(
        self, text: str, lookup: Mapping[str, str], path: KeyPath
    ) -> tuple[str, bool] | None:
        """(result, was-one-whole-expression) or None after recording the problem."""
        from prodserver.config.substitute import substitute

        if self.placeholder_in(text, self.source.location(path)):
            return None
        if "$" not in text:
            return text, False
        try:
            result = substitute(text, lookup, keep=self.keep(), where=self.source.location(path))
        except ConfigError as exc:
            self.out.problems.extend(exc.problems)
            return None
        if not self.within_total(len(result.text), path):
            return None
        for name in result.unset:
            self.out.warn(
                codes.VARIABLE_UNSET,
                f"variable {name} is not set; substituted an empty string",
                path,
                f"set {name} in the environment or an env file, or give a default: "
                f"${{{name}:-value}}",
            )
        # the value as text, each kept reference a placeholder (see Deferred for typed keys)
        return self.placeholders.encode(result.template), result.whole

    def within_total(self, produced: int, path: KeyPath) -> bool:
        """Count substitution's output against one limit for the whole resolution.

        Each string has its own limit (substitute.py); this one stops many strings, or one
        string for each of many instances, from adding up to gigabytes.
        """
        from prodserver.config.limits import MAX_SUBSTITUTED_TOTAL

        self.substituted += produced
        if self.substituted <= MAX_SUBSTITUTED_TOTAL:
            return True
        if not self.over_total:
            self.over_total = True
            self.out.error(
                codes.SUBSTITUTION_TOO_LONG,
                f"substitution produces more than {MAX_SUBSTITUTED_TOTAL} characters in all",
                path,
                "variables are repeated too often or hold huge values; check the expressions "
                "that use them (and `scale`, which repeats them per instance)",
            )
        return False

    def substitute_scalar(self, raw: Any, lookup: Mapping[str, str], path: KeyPath) -> str | None:
        if isinstance(raw, bool):
            return "true" if raw else "false"
        if isinstance(raw, (int, float)):
            return str(raw)
        if not isinstance(raw, str):
            self.out.error(codes.NOT_TEXT, f"expected a string, found {_kind(raw)}", path)
            return None
        done = self.substitute(raw, lookup, path)
        return None if done is None else done[0]

    # step 5 ---------------------------------------------------------------------------------

    def resolve_process(
        self,
        name: str,
        table: Mapping[str, Any],
        origins: Mapping[KeyPath, KeyPath],
        defined_at: KeyPath,
        position: int,
        shared_env: Mapping[str, str],
    ) -> ProcessSpec | None:
        from prodserver.backends.registry import get_backend

        def where(*key: str) -> KeyPath:
            full = (name, *key)
            while full:
                if full in origins:
                    return (*origins[full], *key[len(full) - 1 :])
                full = full[:-1]
            return (*defined_at, *key)

        self.prov.keys[name] = {key: self.source.location(where(key)) for key in table}
        backend_name = table.get("backend", "command")
        if not isinstance(backend_name, str):
            self.out.error(codes.NOT_TEXT, "backend must be a string", where("backend"))
            return None
        try:
            backend = get_backend(backend_name)
        except ConfigError as exc:
            self.out.error(codes.UNKNOWN_BACKEND, exc.message, where("backend"), exc.hint)
            return None
        options = {o.name: o for o in backend.options}
        known = {*COMMON_NAMES, *options}
        for key in table:
            if key not in known:
                guess = _guess(key, sorted(known))
                self.out.error(
                    codes.UNKNOWN_KEY,
                    f"unknown key {key!r} for a {backend_name} process",
                    where(key),
                    guess or f"`prodserver backends {backend_name}` lists its options",
                )
        # process env layer and PORT
        lookup = dict(shared_env)
        process_env: dict[str, str] = {}
        env_origin: dict[str, EnvOrigin] = {}
        enabled = self._coerce(
            _COMMON_BY_NAME["enabled"], table.get("enabled", True), lookup, where("enabled")
        )
        if enabled is False or self.left_to_platform("enabled", enabled, where):
            return None
        scale_value = self.scale.get(name, table.get("scale", 1))
        scale = self._coerce(_COMMON_BY_NAME["scale"], scale_value, lookup, where("scale"))
        if self.left_to_platform("scale", scale, where):
            return None
        if isinstance(scale, int) and not 0 <= scale <= MAX_SCALE:
            # checked here, not only by the schema: --scale and a ${VAR} reach this point
            # without it, and the instances are built before it would run
            given = f"--scale {name}={scale}" if name in self.scale else f"scale {scale}"
            self.out.error(
                codes.OUT_OF_RANGE,
                f"{given} is out of range: a process runs 0 to {MAX_SCALE} instances",
                where("scale"),
            )
            return None
        if not isinstance(scale, int) or scale == 0:
            return None  # scale 0 runs nothing; a bad scale was reported
        listens = backend.listens or "port" in table or _references_port(table)
        base_port, port_origin = self.port_for(name, table, position, lookup, where)
        env_table = table.get("env", {})
        if isinstance(env_table, dict):
            for key, raw in env_table.items():
                path = where("env", key)
                # a kept PORT is never looked up: the platform assigns it
                below = {**lookup, **({"PORT": str(base_port)} if listens and base_port else {})}
                value = self.substitute_scalar(raw, below, path)
                if value is not None:
                    if self.kept_in(value):
                        self.ref_names.add(key)
                    self.note_secret_value(key, value)
                    process_env[key] = value
                    self.config_names.add(key)
                    env_origin[key] = EnvOrigin("process env", self.source.location(path))
        self.process_envs.update(process_env)
        if "PORT" in process_env:
            listens, base_port = self.port_from_env(process_env["PORT"], scale, where)
            if base_port is None and not self.kept_in(process_env["PORT"]):
                return None
        elif listens and base_port is not None:
            if "port" in table:
                env_origin["PORT"] = EnvOrigin("process port", self.source.location(where("port")))
            else:
                env_origin["PORT"] = EnvOrigin(
                    f"assigned: {port_origin} + 100 x position {position}", Location()
                )
        self.prov.process_env[name] = env_origin
        instances: list[Instance] = []
        first_values: dict[str, Any] | None = None
        first_argv: tuple[str, ...] = ()
        numbered_argv: tuple[str, ...] = ()
        for number in range(1, scale + 1):
            inst_port = base_port + number - 1 if (listens and base_port is not None) else None
            inst_lookup = dict(lookup)
            if inst_port is not None and "PORT" not in process_env:
                # in an export the platform assigns PORT: a backend's default bind must say
                # ${PORT}, not the port this machine would have used
                inst_lookup["PORT"] = self.runtime_value("PORT", str(inst_port))
            inst_lookup.update(process_env)
            if scale > 1 and self.target.local_environment:
                # each copy's identity is known when its argv is built (celery node names);
                # an export writes one argv for every copy
                inst_lookup[INSTANCE] = str(number)
            values = self.option_values(
                table, backend, options, inst_lookup, where, report=number == 1
            )
            if values is None:
                return None
            argv = self.build_argv(name, backend, values, table, inst_lookup, where)
            if argv is None:
                return None
            child_env = dict(inst_lookup)
            if not values.get("inherit_env", self.inherit_env):
                child_env = self.without_shell(child_env, process_env)
            if self.target.local_environment:
                child_env = self.runtime_env(child_env)
            child_env["PRODSERVER_PROCESS"] = name
            child_env["PRODSERVER_INSTANCE"] = str(number)
            health = self.healthcheck(backend, values, inst_lookup, name, where)
            if number == 1:
                first_values, first_argv = values, tuple(argv)
                if scale > 1 and not self.target.local_environment:
                    numbered = self.numbered_argv(name, backend, table, options, inst_lookup, where)
                    if numbered is not None and numbered != first_argv:
                        numbered_argv = numbered
            instances.append(
                Instance(
                    process=name,
                    number=number,
                    argv=tuple(self.text(w, inst_port) for w in argv),
                    env=frozen_map({k: self.text(v, inst_port) for k, v in child_env.items()}),
                    port=inst_port,
                    healthcheck=self.probe(health, inst_port),
                )
            )
        assert first_values is not None
        values = first_values
        shell = bool(values.get("shell", False))
        return ProcessSpec(
            name=name,
            backend=backend.name,
            position=position,
            options=frozen_map({k: self.shown(v) for k, v in values.items() if k in options}),
            argv=tuple(self.text(w) for w in first_argv),
            words=tuple(self.placeholders.decode(w) for w in first_argv),
            numbered_words=tuple(self.placeholders.decode(w) for w in numbered_argv),
            shell=shell,
            cwd=self.cwd_for(values, where),
            env=frozen_map({k: self.text(v) for k, v in process_env.items()}),
            env_values=frozen_map({k: self.placeholders.decode(v) for k, v in process_env.items()}),
            scale=scale,
            instances=tuple(instances),
            listens=listens,
            depends_on=self.dependencies(values.get("depends_on"), where),
            healthcheck=instances[0].healthcheck,
            restart=self.restart_policy(values, where),
            oneshot=bool(values.get("oneshot", False)),
            stop_signal=self.stop_signal(values.get("stop_signal"), backend, where),
            reload_signal=self.reload_signal(values.get("reload_signal"), backend, where),
            kill_mode=values.get("kill_mode") or ("group" if shell else backend.kill_mode),
            stop_timeout=float(values.get("stop_timeout", DEFAULT_STOP_TIMEOUT)),
            user=self.user_for(name, values.get("user"), where),
            labels=frozen_map(
                {k: self.passed_through(str(v)) for k, v in (values.get("labels") or {}).items()}
            ),
            export=frozen_map(
                {
                    k: frozen_map(self.passed_through(v))
                    for k, v in (values.get("export") or {}).items()
                }
            ),
            max_memory=values.get("max_memory"),
            autoscale=frozen_map(values["autoscale"]) if values.get("autoscale") else None,
        )

    def port_for(
        self,
        name: str,
        table: Mapping[str, Any],
        position: int,
        lookup: Mapping[str, str],
        where: Callable[..., KeyPath],
    ) -> tuple[int | None, str]:
        """The process's first port and, for `config --explain`, where its base came from."""
        if "port" in table:
            value = self._coerce(_COMMON_BY_NAME["port"], table["port"], lookup, where("port"))
            if isinstance(value, int) and not 1 <= value <= 65535:
                self.out.error(codes.BAD_PORT, f"port {value} is not in 1-65535", where("port"))
                return None, ""
            return (value if isinstance(value, int) else None), ""
        base: Any = self.port
        origin = ""
        if base is not None:
            origin = f"--port {base}"
            if not 1 <= int(base) <= 65535:
                self.out.error(codes.BAD_PORT, f"--port {base} is not in 1-65535", ())
                return None, origin
        if base is None and self.target.shell_values:
            shell_port = self.environ.get("PORT")
            found = "shell PORT"
            if not shell_port and self.source.kind == "procfile":
                # honcho and foreman: the .env beside a Procfile sets the base port
                shell_port, found = lookup.get("PORT"), "env file PORT"
            if shell_port:
                if not _is_port(shell_port):
                    self.out.error(
                        codes.BAD_PORT,
                        f"PORT in the environment is {shell_port!r}, not a port number (1-65535)",
                        (),
                        "unset PORT or set it to a number",
                    )
                    return None, origin
                base = int(shell_port)
                origin = f"{found} {base}"
        if base is None:
            base = self.project.get("base_port", DEFAULT_BASE_PORT)
            base = self._coerce(
                _PROJECT_BY_NAME["base_port"], base, lookup, ("project", "base_port")
            )
            if not isinstance(base, int):
                return None, origin
            if "base_port" in self.project:
                where_base = self.source.location(("project", "base_port")).render()
                origin = f"base_port {base} ({where_base})"
            else:
                origin = f"default base {base}"
        port = assigned_port(int(base), position)
        if port > 65535:
            self.out.error(
                codes.BAD_PORT,
                f"the assigned port {port} of {name!r} is above 65535",
                where(),
                "lower base_port or set `port` on the process",
            )
            return None, origin
        return port, origin

    def user_for(self, name: str, user: Any, where: Callable[..., KeyPath]) -> str | None:
        """`user =` must name an account of this machine (checked at run time, not export)."""
        if not user or not self.target.checks_users:
            return user if user else None
        try:
            import pwd
        except ImportError:  # Windows: the runtime refuses `user =` itself
            return str(user)
        text = str(user)
        try:
            if text.isdigit():
                pwd.getpwuid(int(text))
            else:
                pwd.getpwnam(text)
        except (KeyError, ValueError, OverflowError):  # unknown, or a uid no system has
            self.out.error(
                codes.UNKNOWN_USER,
                f"process {name!r}: user {text!r} does not exist on this machine",
                where("user"),
                "create the account, or name an existing one (`getent passwd` lists them)",
            )
        return text

    def port_from_env(
        self, text: str, scale: int, where: Callable[..., KeyPath]
    ) -> tuple[bool, int | None]:
        """A process that sets PORT in its own env: that is its port, for one instance."""
        if self.kept_in(text):  # a reference: the platform's value
            return True, None
        if not _is_port(text):
            self.out.error(
                codes.BAD_PORT,
                f"env PORT is {text!r}, not a port number (1-65535)",
                where("env", "PORT"),
            )
            return True, None
        if scale > 1:
            self.out.error(
                codes.BAD_PORT,
                f"env PORT = {text} would give all {scale} instances the same port",
                where("env", "PORT"),
                "set `port = N` instead: instance N then gets port + N - 1",
            )
            return True, None
        return True, int(text)

    def without_shell(self, env: Mapping[str, str], own: Mapping[str, str]) -> dict[str, str]:
        """``inherit_env = false``: drop what only the shell set, but for the basics."""
        return {
            key: value
            for key, value in env.items()
            if key in own
            or key == "PORT"
            or _BASIC_ENV.match(key)
            or (key in self.prov.env and self.prov.env[key].layer != "shell environment")
        }

    def runtime_env(self, env: dict[str, str]) -> dict[str, str]:
        """The child environment at run time: prodserver's virtualenv first on PATH."""
        if sys.prefix != sys.base_prefix:
            bindir = str(Path(sys.executable).parent)
            path = env.get("PATH", os.defpath)
            if bindir not in path.split(os.pathsep):
                env["PATH"] = bindir + os.pathsep + path if path else bindir
                env.setdefault("VIRTUAL_ENV", sys.prefix)
        return env

    def _coerce(self, opt: Option, raw: Any, lookup: Mapping[str, str], path: KeyPath) -> Any:
        """Substitute and coerce one value to its declared type; None after a problem."""
        t = opt.type
        if t == "argv":
            return self.words(raw, lookup, path)
        if isinstance(raw, str):
            done = self.substitute(raw, lookup, path)
            if done is None:
                return None
            text, whole = done
            if t == "enum" and opt.ignore_case:
                # `loglevel = "INFO"`: the tool accepts any case; pass the declared spelling
                return next((c for c in opt.choices if c.lower() == text.lower()), text)
            if t in ("string", "enum"):
                return text
            if t == "list":
                return [item.strip() for item in text.split(",") if item.strip()]
            if self.kept_in(text):
                return self.deferred(text, whole, t, raw, path)
            if t in ("integer", "number", "boolean") and not whole:
                self.out.error(
                    codes.WRONG_TYPE,
                    f"expected {_article(t)}, found the string {raw!r}",
                    path,
                    "write it without quotes, or as one expression such as "
                    f'"${{VAR:-{_example(t)}}}"',
                )
                return None
            try:
                from prodserver.config import units

                if t == "integer":
                    return int(text.strip())
                if t == "number":
                    return float(text.strip())
                if t == "boolean":
                    return _boolean(text)
                if t == "duration":
                    seconds = units.parse_duration(text, where=self.source.location(path))
                    return self.bounded_duration(seconds, path)
                if t == "size":
                    return units.parse_size(text, where=self.source.location(path))
            except ConfigError as exc:
                self.out.problems.extend(exc.problems)
                return None
            except ValueError:
                shown = f"{text!r} (from {raw!r})" if text != raw else repr(text)
                self.out.error(codes.WRONG_TYPE, f"expected {_article(t)}, found {shown}", path)
                return None
            return text
        if t == "duration" and isinstance(raw, (int, float)) and not isinstance(raw, bool):
            from prodserver.config import units

            try:
                seconds = units.parse_duration(raw, where=self.source.location(path))
            except ConfigError as exc:
                self.out.problems.extend(exc.problems)
                return None
            return self.bounded_duration(seconds, path)
        if t == "size" and isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if t == "list" and isinstance(raw, list):
            out = []
            for i, item in enumerate(raw):
                value = self._coerce(Option(opt.name, "string", ""), item, lookup, (*path, str(i)))
                out.append(value)
            return out
        if t == "table" and isinstance(raw, dict):
            table = self._table(raw, lookup, path)
            for sub, sub_type in _SUBKEY_TYPES.get(opt.name, {}).items():
                if sub in raw:
                    value = self._coerce(Option(sub, sub_type, ""), raw[sub], lookup, (*path, sub))
                    if value is None:
                        return None
                    table[sub] = value
            return table
        return raw

    def bounded_duration(self, seconds: float, path: KeyPath) -> float | None:
        """``seconds`` when it is within the key's bounds (config/limits.py), else None."""
        from prodserver.config.limits import duration_problem

        why = duration_problem(path, seconds)
        if why is None:
            return seconds
        self.out.error(codes.DURATION_OUT_OF_BOUNDS, f"{why}, found {seconds:g} seconds", path)
        return None

    def _table(self, raw: Mapping[str, Any], lookup: Mapping[str, str], path: KeyPath) -> Any:
        out: dict[str, Any] = {}
        for key, value in raw.items():
            if isinstance(value, str):
                done = self.substitute(value, lookup, (*path, key))
                out[key] = None if done is None else _auto(done[0], done[1])
            elif isinstance(value, dict):
                out[key] = self._table(value, lookup, (*path, key))
            elif isinstance(value, list):
                out[key] = [
                    self._table({"_": v}, lookup, (*path, key, str(i)))["_"]
                    for i, v in enumerate(value)
                ]
            else:
                out[key] = value
        return out

    def words(self, raw: Any, lookup: Mapping[str, str], path: KeyPath) -> list[str] | None:
        """A command: a string is split into words first, then each word is substituted."""
        if isinstance(raw, str):
            try:
                items: list[Any] = shlex.split(raw)
            except ValueError as exc:
                self.out.error(
                    codes.COMMAND_UNSPLITTABLE,
                    f"cannot split the command: {exc}",
                    path,
                    "check the quotes",
                )
                return None
        elif isinstance(raw, list):
            items = raw
        else:
            self.out.error(
                codes.WRONG_TYPE,
                f"expected a string or an array of strings, found {_kind(raw)}",
                path,
            )
            return None
        out: list[str] = []
        for i, item in enumerate(items):
            if not isinstance(item, str):
                self.out.error(
                    codes.WRONG_TYPE, f"expected a string, found {_kind(item)}", (*path, str(i))
                )
                return None
            done = self.substitute(item, lookup, path)
            if done is None:
                return None
            out.append(done[0])
        return out

    def option_values(
        self,
        table: Mapping[str, Any],
        backend: Backend,
        options: Mapping[str, Option],
        lookup: Mapping[str, str],
        where: Callable[..., KeyPath],
        *,
        report: bool,
    ) -> dict[str, Any] | None:
        from prodserver.schema.validate import validate_process

        before = len(self.out.problems)
        values: dict[str, Any] = {}
        shell = table.get("shell") is True
        for key, raw in table.items():
            opt = options.get(key) or _COMMON_BY_NAME.get(key)
            if opt is None or key == "env":
                continue  # env: substituted once, as the process's environment layer
            if key == "command" and shell:
                # the shell expands it: no substitution by prodserver (no double expansion)
                values[key] = shlex.join(str(x) for x in raw) if isinstance(raw, list) else raw
                continue
            value = self._coerce(opt, raw, lookup, where(key))
            if value is not None:
                values[key] = value
        for opt in (*COMMON_OPTIONS, *backend.options):
            if opt.name not in values and opt.default is not None and opt.name not in table:
                values[opt.name] = opt.default
        if len(self.out.problems) > before:
            return None
        own = [k for k in values if k not in options and k in _COMMON_BY_NAME and k != "port"]
        if [k for k in own if self.left_to_platform(k, values[k], where)]:
            return None
        if report:
            # a kept reference stands where a number or boolean will be: the platform fills
            # it in, so only the values known here are type-checked
            checked = {
                k: v
                for k, v in values.items()
                if not (isinstance(v, Deferred) and _typed_key(k, options))
            }
            problems = validate_process(checked, backend, self.source, where)
            self.out.problems.extend(problems)
            if problems:
                return None
        return values

    def left_to_platform(self, key: str, value: Any, where: Callable[..., KeyPath]) -> bool:
        """Report a reference kept where prodserver itself needs the value; True if found.

        A typed option of the backend (``workers = "${N:-2}"``) becomes a flag the platform
        fills in. A key prodserver consumes (``scale``, ``enabled``, ``oneshot``,
        ``stop_timeout``, ``max_memory``, a setting inside ``healthcheck`` or ``restart``)
        decides what the export writes, or becomes an engine's own field, which takes a value,
        never a variable. (``port`` is the port rule's: a reference there stays ``${PORT}``.)
        """
        found = False
        inner = value.items() if isinstance(value, Mapping) else [(None, value)]
        for sub, item in inner:
            if not isinstance(item, Deferred):
                continue
            name = key if sub is None else f"{key}.{sub}"
            self.out.error(
                codes.REFERENCE_NOT_ALONE,
                f"{name} = {self.placeholders.shown(item)!r} cannot be exported: prodserver "
                "needs its value to write the export, which a ${VARIABLE} reference cannot give",
                where(key) if sub is None else where(key, sub),
                f"write the value itself ({name}), per profile if it differs",
            )
            found = True
        return found

    def backend_context(
        self,
        name: str,
        values: Mapping[str, Any],
        lookup: Mapping[str, str],
        where: Callable[..., KeyPath],
    ) -> BackendContext:
        """What a backend may know of one instance while it builds argv or a probe."""
        return BackendContext(
            root=self.root,
            env=dict(lookup),
            port=_int_or_none(lookup.get("PORT")),
            process=name,
            python=self.target.python or sys.executable or "python3",
            cwd=self.cwd_for(values, where),
        )

    def numbered_argv(
        self,
        name: str,
        backend: Backend,
        table: Mapping[str, Any],
        options: Mapping[str, Option],
        lookup: Mapping[str, str],
        where: Callable[..., KeyPath],
    ) -> tuple[str, ...] | None:
        """An export's argv of every copy, the copy's number a ``PRODSERVER_INSTANCE`` reference.

        In ``up`` each copy's number is known when its argv is built (Celery's node name
        ``worker.2@%h``). An export writes one argv for every copy: engines that number their
        copies (systemd's instance name, supervisord's ``process_num``) fill the reference in;
        the others (Compose, Kubernetes) have no number and use the argv built without it.
        """
        numbered = dict(lookup)
        numbered[INSTANCE] = self.placeholders.encode(Template((Ref(INSTANCE),)))
        values = self.option_values(table, backend, options, numbered, where, report=False)
        if values is None:
            return None
        argv = self.build_argv(name, backend, values, table, numbered, where)
        return None if argv is None else tuple(argv)

    def build_argv(
        self,
        name: str,
        backend: Backend,
        values: Mapping[str, Any],
        table: Mapping[str, Any],
        lookup: Mapping[str, str],
        where: Callable[..., KeyPath],
    ) -> list[str] | None:
        args = [str(a) for a in values.get("args") or []]
        if values.get("shell"):
            command = values.get("command")
            if not isinstance(command, str):
                self.out.error(
                    codes.EMPTY_COMMAND,
                    "`shell = true` needs a `command`",
                    where("shell"),
                    'add command = "..." or remove shell',
                )
                return None
            from prodserver.config.shellline import exec_form

            script = command + ("" if not args else " " + shlex.join(args))
            # `exec`: one simple command becomes the process itself (signals, exit status)
            return ["/bin/sh", "-c", exec_form(script)]
        ctx = self.backend_context(name, values, lookup, where)
        try:
            argv = list(backend.argv(values, ctx))
        except ConfigError as exc:
            self.out.error(exc.code, exc.message, where(), exc.hint)
            return None
        if not argv or not argv[0]:
            self.out.error(codes.EMPTY_COMMAND, "the command is empty", where("command"))
            return None
        return argv + args

    def healthcheck(
        self,
        backend: Backend,
        values: Mapping[str, Any],
        lookup: Mapping[str, str],
        name: str,
        where: Callable[..., KeyPath],
    ) -> HealthCheck | None:
        raw = values.get("healthcheck")
        if raw is False:
            return None
        if raw is None:
            ctx = self.backend_context(name, values, lookup, where)
            default = backend.default_healthcheck(values, ctx)
            if default is None:
                return None
            return HealthCheck(
                kind=default.kind, target=default.target, start_period=default.start_period
            )
        table = cast(Mapping[str, Any], raw)
        kind: ProbeKind = next((k for k in ("http", "tcp", "notify") if k in table), "cmd")
        target: str | tuple[str, ...]
        if kind == "notify":
            target = ""
        elif kind == "cmd":
            words = self.words(table["cmd"], lookup, where("healthcheck", "cmd"))
            if words is None:
                return None
            target = tuple(words)
        else:
            target = str(table[kind])
        status = table.get("status", (200, 399))
        if isinstance(status, int):
            status = (status, status)
        probe: dict[str, Any] = {}
        for key, default_value in (("interval", 5.0), ("timeout", 3.0), ("start_period", 0.0)):
            probe[key] = self._coerce(
                Option(key, "duration", ""),
                table.get(key, default_value),
                lookup,
                where("healthcheck", key),
            )
        retries = self._coerce(
            Option("retries", "integer", ""),
            table.get("retries", 3),
            lookup,
            where("healthcheck", "retries"),
        )
        if None in probe.values() or retries is None:
            return None
        watchdog = self.watchdog(table, kind, lookup, where)
        return HealthCheck(
            kind=kind,
            target=target,
            interval=probe["interval"],
            timeout=probe["timeout"],
            retries=int(retries),
            start_period=probe["start_period"],
            status=(int(status[0]), int(status[1])),
            expect=table.get("expect"),
            role=table.get("role", "both"),
            watchdog=watchdog,
        )

    def watchdog(
        self,
        table: Mapping[str, Any],
        kind: ProbeKind,
        lookup: Mapping[str, str],
        where: Callable[..., KeyPath],
    ) -> float | None:
        """``healthcheck.watchdog``: only with ``notify = true``, and more than 0."""
        if "watchdog" not in table:
            return None
        path = where("healthcheck", "watchdog")
        value = self._coerce(Option("watchdog", "duration", ""), table["watchdog"], lookup, path)
        if value is None:
            return None
        if kind != "notify" or not value > 0:
            why = "needs notify = true" if kind != "notify" else "must be longer than 0s"
            self.out.error(
                codes.BAD_WATCHDOG,
                f"healthcheck watchdog {why}",
                path,
                'healthcheck = { notify = true, watchdog = "30s" }',
            )
            return None
        return float(value)

    def restart_policy(
        self, values: Mapping[str, Any], where: Callable[..., KeyPath]
    ) -> RestartPolicy:
        raw = values.get("restart", "no")
        fields: dict[str, Any] = {
            "max_restarts": values.get("max_restarts", 5),
            "backoff": values.get("backoff", 1.0),
        }
        if isinstance(raw, dict):
            from prodserver.config import units

            mode = raw.get("policy", "on-failure")
            for key in ("max_restarts", "backoff", "backoff_max", "window"):
                if key in raw:
                    value = raw[key]
                    if key != "max_restarts":
                        value = units.parse_duration(
                            value, where=self.source.location(where("restart", key))
                        )
                    fields[key] = value
            for key in ("success_exit_codes", "prevent_exit_codes"):
                if key in raw:
                    fields[key] = self.exit_codes(raw[key], where("restart", key))
        else:
            mode = raw
        return RestartPolicy(mode=mode, **fields)

    def exit_codes(self, raw: Any, where: KeyPath) -> tuple[int, ...]:
        """``restart.success_exit_codes`` / ``prevent_exit_codes``: integers 0-255."""
        ok = isinstance(raw, list) and all(
            isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in raw
        )
        if not ok:
            self.out.error(
                codes.BAD_EXIT_CODE_LIST,
                f"exit codes must be a list of integers from 0 to 255, not {raw!r}",
                where,
                "for example success_exit_codes = [3, 4]",
            )
            return ()
        return tuple(sorted(set(raw)))

    def stop_signal(
        self, raw: Any, backend: Backend, where: Callable[..., KeyPath]
    ) -> signal.Signals:
        if raw is None:
            return backend.stop_signal
        try:
            if isinstance(raw, int) or (isinstance(raw, str) and raw.isdigit()):
                return signal.Signals(int(raw))
            name = str(raw).upper()
            return signal.Signals[name if name.startswith("SIG") else "SIG" + name]
        except (KeyError, ValueError):
            self.out.error(
                codes.UNKNOWN_SIGNAL,
                f"unknown signal {raw!r}",
                where("stop_signal"),
                "use a name such as SIGTERM, SIGINT, SIGQUIT or SIGHUP",
            )
            return backend.stop_signal

    def reload_signal(
        self, raw: Any, backend: Backend, where: Callable[..., KeyPath]
    ) -> signal.Signals | None:
        if raw is None:
            return None
        return self.stop_signal(raw, backend, lambda *key: where("reload_signal"))

    def dependencies(self, raw: Any, where: Callable[..., KeyPath]) -> tuple[Dependency, ...]:
        if not raw:
            return ()
        if isinstance(raw, list):
            return tuple(Dependency(str(n)) for n in raw)
        return tuple(Dependency(str(n), c) for n, c in raw.items())

    def cwd_for(self, values: Mapping[str, Any], where: Callable[..., KeyPath]) -> Path:
        raw = str(values.get("cwd", ".") or ".")
        path = Path(raw)
        return path if path.is_absolute() else (self.root / path)

    def check_dependencies(
        self,
        specs: dict[str, ProcessSpec],
        merged: Mapping[str, Any],
        defined_at: Mapping[str, KeyPath],
    ) -> None:
        for name, spec in list(specs.items()):
            kept: list[Dependency] = []
            for dep in spec.depends_on:
                path = (*defined_at[name], "depends_on")
                if dep.name == name:
                    self.out.error(codes.UNKNOWN_DEPENDENCY, f"{name!r} depends on itself", path)
                elif dep.name in specs:
                    kept.append(dep)
                elif dep.name in merged:
                    self.out.warn(
                        codes.DEPENDENCY_DISABLED,
                        f"{name!r} depends on {dep.name!r}, which is disabled in this profile; "
                        "the dependency is ignored",
                        path,
                    )
                else:
                    self.out.error(
                        codes.UNKNOWN_DEPENDENCY,
                        f"{name!r} depends on unknown process {dep.name!r}",
                        path,
                        _guess(dep.name, list(specs)) or f"processes: {', '.join(specs)}",
                    )
            if len(kept) != len(spec.depends_on):
                specs[name] = _replace(spec, depends_on=tuple(kept))
        # cycles
        state: dict[str, int] = {}
        stack: list[str] = []

        def visit(n: str) -> None:
            state[n] = 1
            stack.append(n)
            for dep in specs[n].depends_on:
                if state.get(dep.name) == 1:
                    cycle = [*stack[stack.index(dep.name) :], dep.name]
                    self.out.error(
                        codes.DEPENDENCY_CYCLE,
                        f"dependency cycle: {' -> '.join(cycle)}",
                        (*defined_at[n], "depends_on"),
                        "remove one of these depends_on entries",
                    )
                elif dep.name not in state:
                    visit(dep.name)
            stack.pop()
            state[n] = 2

        for n in specs:
            if n not in state:
                visit(n)

    def secret_names(self, env: Mapping[str, str], specs: Mapping[str, ProcessSpec]) -> set[str]:
        names = set(env)
        for spec in specs.values():
            names.update(spec.env)
        return {n for n in names if self.is_secret(n)}


def _mask_problem(problem: Problem, masker: Masker) -> Problem:
    import dataclasses

    hint = masker.text(problem.hint) if problem.hint else problem.hint
    return dataclasses.replace(problem, message=masker.text(problem.message), hint=hint)


def _replace(spec: ProcessSpec, **changes: Any) -> ProcessSpec:
    import dataclasses

    return dataclasses.replace(spec, **changes)


def _references_port(table: Mapping[str, Any]) -> bool:
    from prodserver.config.substitute import references

    def walk(value: Any) -> bool:
        if isinstance(value, str):
            if "PORT" not in value:
                return False
            try:
                return "PORT" in references(value)
            except ConfigError:
                return False  # malformed: reported with its key path by substitution
        if isinstance(value, dict):
            return any(walk(v) for v in value.values())
        if isinstance(value, list):
            return any(walk(v) for v in value)
        return False

    return any(walk(v) for k, v in table.items() if k not in ("env",))


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def _guess(name: str, candidates: Iterable[str]) -> str | None:

    from prodserver.suggest import did_you_mean

    return did_you_mean(name, candidates)


def _kind(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _article(t: str) -> str:
    return {
        "integer": "an integer",
        "number": "a number",
        "boolean": "a boolean",
        "duration": "a duration",
        "size": "a size",
    }.get(t, t)


def _example(t: str) -> str:
    return {"integer": "2", "number": "1.5", "boolean": "true"}.get(t, "value")


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(text)


def _auto(text: str, whole: bool) -> Any:
    """A whole expression inside a free-form table becomes a number where it looks like one."""
    if whole:
        try:
            return int(text)
        except ValueError:
            return text
    return text


def _typed_key(key: str, options: Mapping[str, Option]) -> bool:
    """Whether a key's value has a type other than text."""
    opt = options.get(key) or _COMMON_BY_NAME.get(key)
    return opt is not None and opt.type not in ("string", "argv", "list", "table")


def _is_port(text: str) -> bool:
    # the length first: int() refuses a string of thousands of digits (a ValueError)
    return len(text) <= 5 and text.isascii() and text.isdigit() and 1 <= int(text) <= 65535


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text and _is_port(text) else None


def _default_name(root: Path) -> str:
    import re

    name = re.sub(r"[^A-Za-z0-9_-]+", "-", root.name).strip("-")
    return name or "app"
