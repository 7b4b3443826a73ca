"""The one explicit state the steps of resolution share.

A resolution's steps are functions in their own modules (profiles, environment, expand,
coerce, ports, process, graph ...). What they share travels in one :class:`Context`, created
once per resolution by :mod:`prodserver.config.resolve` and passed to each step:

- the inputs: the source, the :class:`~prodserver.config.target.Target`, the shell
  environment, the command line's ``--scale``/``--port``/``--env-file``;
- the problem sink (:class:`Collector`): every problem is collected and reported at once;
- the substitution memory: the placeholders that stand for kept references, the names the
  configuration sets, the names whose value is still a reference, the references kept, the
  characters substituted so far;
- the secret memory: names found to hold a secret, every process env layer seen (to mask
  messages);
- the :class:`~prodserver.config.provenance.Provenance` record.

Which names stay references is decided in one place, :meth:`Context.keeps`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prodserver.backends.base import Backend
from prodserver.config.provenance import Provenance
from prodserver.config.sources import KeyPath, RawSource
from prodserver.config.target import RUNTIME_VARIABLES, Target
from prodserver.declarations.keys import COMMON_NAMES, COMMON_OPTIONS
from prodserver.errors import Problem
from prodserver.options import Option
from prodserver.template import Placeholders

#: the key path of one key of the process being resolved: ``where("healthcheck", "cmd")``
Where = Callable[..., KeyPath]


@dataclass(frozen=True)
class BackendKeys:
    """What every process of one backend shares: worked out once per backend, not per process
    (a file of thousands of processes has a handful of backends)."""

    #: the backend's own options by name
    options: Mapping[str, Option]
    #: every key a process of this backend may set (the common keys and its options)
    known: frozenset[str]
    #: (name, default) of each option with a default, common options first
    defaults: tuple[tuple[str, Any], ...]
    #: the option each key is read as: the backend's own, else the common one
    option_of: Mapping[str, Option]


_backend_keys: dict[int, tuple[Backend, BackendKeys]] = {}


def backend_keys(backend: Backend) -> BackendKeys:
    """The :class:`BackendKeys` of ``backend`` (memoised: options are class declarations)."""
    found = _backend_keys.get(id(backend))
    if found is not None and found[0] is backend:
        return found[1]
    keys = BackendKeys(
        options={o.name: o for o in backend.options},
        known=frozenset({*COMMON_NAMES, *(o.name for o in backend.options)}),
        defaults=tuple(
            (o.name, o.default)
            for o in (*COMMON_OPTIONS, *backend.options)
            if o.default is not None
        ),
        option_of={
            **{o.name: o for o in COMMON_OPTIONS},
            **{o.name: o for o in backend.options},
        },
    )
    _backend_keys[id(backend)] = (backend, keys)
    return keys


@dataclass(frozen=True)
class ProcessEntry:
    """One process being resolved: its name, merged table, backend and key paths."""

    name: str
    table: Mapping[str, Any]
    backend: Backend
    #: where each of its keys is in the file (the layer that set it)
    where: Where

    @property
    def keys(self) -> BackendKeys:
        """Its backend's keys, options and defaults."""
        return backend_keys(self.backend)

    @property
    def options(self) -> Mapping[str, Option]:
        """The backend's own options by name."""
        return self.keys.options


@dataclass
class Collector:
    """The problem sink: errors and warnings, each located in the source."""

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


@dataclass
class Context:
    """Inputs, problem sink and memory of one resolution; create one per resolution."""

    source: RawSource
    environ: Mapping[str, str]
    cwd: Path
    target: Target = field(default_factory=Target.here)
    cli_env_files: tuple[Path, ...] = ()
    scale: Mapping[str, int] = field(default_factory=dict)
    port: int | None = None

    out: Collector = field(init=False)
    #: the ``[project]`` table (empty when absent or not a table)
    project: Mapping[str, Any] = field(init=False)
    #: the project root: the directory of the configuration file
    root: Path = field(init=False)
    secret_patterns: list[str] = field(init=False)
    prov: Provenance = field(default_factory=Provenance)
    #: kept references travel through text (lookups, backends) as placeholders
    placeholders: Placeholders = field(default_factory=Placeholders)
    #: variables set by one of the configuration's own layers
    config_names: set[str] = field(default_factory=set)
    #: configured variables whose value still holds a reference, so that a reference to them
    #: stays a reference too (the platform resolves the chain)
    ref_names: set[str] = field(default_factory=set)
    #: every reference kept (the model's ``runtime_refs``)
    kept_refs: set[str] = field(default_factory=set)
    #: names that hold a secret though their own name does not say so: a URL with a
    #: password, or a variable a secret's definition refers to
    secret_values: set[str] = field(default_factory=set)
    #: every process env layer seen, for masking secrets in messages
    process_envs: dict[str, str] = field(default_factory=dict)
    #: characters substitution produced so far, against MAX_SUBSTITUTED_TOTAL
    substituted: int = 0
    over_total: bool = False

    def __post_init__(self) -> None:
        self.out = Collector(self.source, shown=self.placeholders.shown)
        self.out.warnings.extend(self.source.warnings)
        project = self.source.data.get("project", {})
        self.project = project if isinstance(project, dict) else {}
        self.root = self.source.root.resolve()
        self.secret_patterns = [str(s) for s in self.project.get("secrets", []) or []]

    def is_secret(self, name: str) -> bool:
        from prodserver.config.secrets import is_secret_name

        return name in self.secret_values or is_secret_name(name, self.secret_patterns)

    def keeps(self, name: str) -> bool:
        """Whether a reference to ``name`` stays a reference instead of its local value.

        Only a target that keeps references (an export) keeps any: the platform's variables,
        secrets (unless asked for), variables the configuration does not set, and variables
        whose configured value is itself still a reference. Each kept name is recorded.
        """
        if not self.target.keeps_references:
            return False
        kept = (
            name in RUNTIME_VARIABLES
            or (not self.target.include_secrets and self.is_secret(name))
            or name not in self.config_names
            or name in self.ref_names
        )
        if kept:
            self.kept_refs.add(name)
        return kept

    def keep_rule(self) -> Callable[[str], bool] | None:
        """:meth:`keeps` for substitution, or None where no reference is kept."""
        return self.keeps if self.target.keeps_references else None
