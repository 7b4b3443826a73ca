"""django-prodserver's ``PRODUCTION_PROCESSES``, translated into prodserver source data.

:func:`translate` is a pure function of the setting's value, so it is tested without Django.
What django-prodserver did with ``ARGS`` decides how they translate:

* backends that put ``ARGS`` on a command line (gunicorn, uvicorn, waitress, celery, django-tasks,
  django-q2) made ``{"bind": "0.0.0.0:8000", "preload": None}`` into
  ``--bind=0.0.0.0:8000 --preload``. A key that names an option of our backend becomes that
  typed option; any other key stays exactly that flag, in ``args``;
* backends that read ``ARGS`` as keyword arguments (granian, the development servers) never
  passed unknown keys anywhere: a key without an equivalent is dropped with a warning;
* a string ``ARGS`` is a command line: it is split into words like a shell would and appended.

``host``/``address``/``addrport`` and ``port`` become ``bind = "HOST:${PORT}"`` and ``port``, so
that prodserver's port assignment, health checks and exports keep working.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prodserver import codes
from prodserver.config.django_targets import PREFIX, TARGETS, Target
from prodserver.errors import ConfigError, Location, Problem
from prodserver.hostport import AddressError, join_host_port, split_bind
from prodserver.rawsource import KeyPath

SETTING = "PRODUCTION_PROCESSES"


@dataclass
class Translation:
    """The result of :func:`translate`: source data, warnings, and where each key came from."""

    data: dict[str, Any]
    warnings: list[Problem]
    #: our key path -> key path inside the setting (("web", "ARGS", "bind")) for line numbers
    origins: dict[KeyPath, tuple[str, ...]]


@dataclass
class _Entry:
    """One process of the setting being translated: where it is, and what it reports."""

    name: str
    loc: Location
    lines: Mapping[tuple[str, ...], int]
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    origins: dict[KeyPath, tuple[str, ...]] = field(default_factory=dict)

    def at(self, *keys: str) -> Location:
        """The settings file line of ``keys`` inside this entry (or of the nearest parent)."""
        path = (self.name, *keys)
        while path and path not in self.lines:
            path = path[:-1]
        line = self.lines.get(path, self.loc.line) if path else self.loc.line
        return Location(self.loc.file, line, key_path=".".join((SETTING, self.name, *keys)))

    def problem(self, message: str, *keys: str) -> None:
        self.problems.append(Problem(codes.DJANGO_SETTING_SHAPE, message, self.at(*keys)))

    def warn(self, code: str, message: str, *keys: str, hint: str | None = None) -> None:
        self.warnings.append(Problem(code, message, self.at(*keys), hint, severity="warning"))

    def origin(self, ours: str, *theirs: str) -> None:
        """Our key ``processes.<name>.<ours>`` came from ``theirs`` inside the entry."""
        self.origins[("processes", self.name, ours)] = (self.name, *theirs)


def translate(
    setting: object,
    *,
    settings_module: str | None = None,
    wsgi_application: str | None = None,
    asgi_application: str | None = None,
    where: Location | None = None,
    lines: Mapping[tuple[str, ...], int] | None = None,
    lenient: bool = False,
) -> Translation:
    """Translate the value of ``PRODUCTION_PROCESSES`` into prodserver source data.

    Raises :class:`ConfigError` listing every problem (unknown ``BACKEND`` paths name the
    supported ones) when the setting cannot be translated. ``lenient`` (``init --from-django``)
    reports such a process as a warning with its settings line and leaves it out instead:
    django-prodserver accepted any class path, and the rest of the setting still translates.
    """
    loc = where or Location()
    if not isinstance(setting, Mapping):
        raise ConfigError(
            f"{SETTING} must be a dict of process name -> {{'BACKEND': ..., 'ARGS': ...}}, "
            f"found {type(setting).__name__}",
            location=loc,
            code=codes.DJANGO_SETTING_SHAPE,
        )
    apps = {"wsgi": wsgi_application, "asgi": asgi_application}
    processes: dict[str, Any] = {}
    problems: list[Problem] = []
    warnings: list[Problem] = []
    origins: dict[KeyPath, tuple[str, ...]] = {}
    for name, raw in setting.items():
        entry = _Entry(str(name), loc, lines or {})
        origins[("processes", entry.name)] = (entry.name,)
        translated = _translate_process(entry, raw)
        problems += entry.problems
        warnings += entry.warnings
        origins |= entry.origins
        if translated is None:
            continue
        table, target = translated
        app = apps.get(target.app)
        if "app" not in table and app:
            table["app"] = _app_target(app)
        processes[entry.name] = table
    if problems and not lenient:
        raise ConfigError(
            f"{SETTING} cannot be translated",
            problems=problems,
            location=loc,
            code=codes.DJANGO_UNKNOWN_BACKEND,
        )
    warnings += [_not_translated(problem) for problem in problems]
    data: dict[str, Any] = {}
    if settings_module:
        data["project"] = {"name": _project_name(settings_module)}
        data["env"] = {"DJANGO_SETTINGS_MODULE": settings_module}
    data["processes"] = processes
    return Translation(data, warnings, origins)


def _not_translated(problem: Problem) -> Problem:
    """``init --from-django``: a process that cannot be translated is a warning, left out."""
    return Problem(
        problem.code,
        f"{problem.message}: this process is not translated",
        problem.location,
        problem.hint,
        severity="warning",
    )


def _translate_process(entry: _Entry, raw: object) -> tuple[dict[str, Any], Target] | None:
    """The process table of one entry and its target; None (with a problem) when it cannot."""
    if not isinstance(raw, Mapping):
        entry.problem(f"expected a dict with 'BACKEND', found {type(raw).__name__}")
        return None
    backend_path = raw.get("BACKEND")
    if not isinstance(backend_path, str) or not backend_path:
        entry.problem("'BACKEND' is missing")
        return None
    target = TARGETS.get(backend_path)
    if target is None:
        entry.problems.append(_unknown_backend(backend_path, entry.at("BACKEND")))
        return None
    cls = backend_path.rsplit(".", 1)[1]
    if target.note:
        entry.warn(codes.DJANGO_BACKEND_MAPPED, target.note.replace("{cls}", cls))
    for key in raw:
        if key not in ("BACKEND", "ARGS", "APP"):
            entry.warn(
                codes.DJANGO_ARG_IGNORED,
                f"{key!r} is not a django-prodserver key and is ignored",
                str(key),
            )
    table: dict[str, Any] = {"backend": target.backend, **target.fixed}
    entry.origin("backend", "BACKEND")
    _translate_app(entry, raw.get("APP"), target, cls, table)
    if not _translate_args(entry, raw.get("ARGS"), target, table):
        return None
    return table, target


def _translate_app(
    entry: _Entry, app: object, target: Target, cls: str, table: dict[str, Any]
) -> None:
    if app is None:
        return
    if target.app == "APP":
        table["app"] = str(app)
        entry.origin("app", "APP")
    else:
        entry.warn(
            codes.DJANGO_ARG_IGNORED,
            f"'APP' is not used by {cls} (django-prodserver ignored it too)",
            "APP",
        )


def _translate_args(entry: _Entry, raw_args: object, target: Target, table: dict[str, Any]) -> bool:
    """``ARGS`` as a command line (a string) or as options (a dict) into ``table``; False
    (with a problem) when they cannot be read."""
    if raw_args is None:
        return True
    if isinstance(raw_args, str):
        try:
            table["args"] = shlex.split(raw_args)
        except ValueError as exc:
            entry.problem(f"cannot split 'ARGS': {exc}", "ARGS")
            return False
        entry.origin("args", "ARGS")
        return True
    if not isinstance(raw_args, Mapping):
        entry.problem(f"'ARGS' must be a dict or a string, found {type(raw_args).__name__}", "ARGS")
        return False
    _ArgsDict(entry, target, table).translate(raw_args)
    return True


@dataclass
class _ArgsDict:
    """An ``ARGS`` dict, key by key, into the typed options of ``target``'s backend."""

    entry: _Entry
    target: Target
    table: dict[str, Any]
    host: str | None = None
    extra: list[str] = field(default_factory=list)

    def translate(self, raw_args: Mapping[Any, Any]) -> None:
        from prodserver.backends.registry import get_backend

        options = get_backend(self.target.backend).options
        by_name = {o.name: o for o in options}
        by_flag = {o.flag: o for o in options if o.flag}
        for raw_key, value in raw_args.items():
            key = str(raw_key)
            bare = key.lstrip("-")
            if self._address(bare, key, value):
                continue
            renamed = self.target.rename.get(bare) or self.target.rename.get(key)
            negate = renamed is not None and renamed.startswith("!")
            if negate and renamed is not None:
                renamed = renamed[1:]
            opt = (
                by_name.get(renamed or "")
                or by_name.get(bare.replace("-", "_"))
                or by_flag.get(f"--{bare}")
            )
            if opt is not None and opt.name != "app":
                coerced = coerce_arg(opt.type, value)
                self.table[opt.name] = (
                    not coerced if negate and isinstance(coerced, bool) else coerced
                )
                self.entry.origin(opt.name, "ARGS", key)
            else:
                self._unknown(bare, key, value)
        self._finish()

    def _address(self, bare: str, key: str, value: Any) -> bool:
        """``host``, ``address``, ``port`` and ``addrport``: prodserver's bind and port."""
        if bare in ("host", "address"):
            self.host = str(value)
            self.entry.origin("bind", "ARGS", key)
        elif bare == "port":
            port = _int(value)
            self.table["port"] = port if port is not None else value
            self.entry.origin("port", "ARGS", key)
        elif bare == "addrport":
            addr, port_text = _addrport(str(value))
            port = _int(port_text)
            self.table["port"] = port if port is not None else port_text
            self.host = addr or self.host
            self.entry.origin("port", "ARGS", key)
            self.entry.origin("bind", "ARGS", key)
        else:
            return False
        return True

    def _unknown(self, bare: str, key: str, value: Any) -> None:
        """A key that is no option of ours: kept as its flag (argv style) or dropped."""
        if self.target.args_style == "argv" and bare not in self.target.dropped:
            # exactly what django-prodserver put on the command line
            self.extra.append(f"--{bare}" if value is None else f"--{bare}={value}")
            self.entry.origin("args", "ARGS")
            return
        self.entry.warn(
            codes.DJANGO_ARG_IGNORED,
            f"ARGS key {key!r} has no equivalent for backend {self.target.backend!r} and is "
            "ignored",
            "ARGS",
            key,
            hint=f"`prodserver backends {self.target.backend}` lists the options",
        )

    def _finish(self) -> None:
        table = self.table
        if self.host is not None:
            table["bind"] = join_host_port(self.host, "${PORT}")
        bind = table.get("bind")
        if isinstance(bind, str) and "port" not in table:
            fixed = _fixed_port(bind)
            if fixed is not None:
                # a literal port becomes prodserver's PORT, so health checks and exports agree
                table["port"], table["bind"] = fixed
        if self.extra:
            table["args"] = self.extra


def _addrport(value: str) -> tuple[str, str]:
    """runserver's ``addrport``: ``8000``, ``0.0.0.0:8000`` or ``[::1]:8000``."""
    if value.isdigit():
        return "", value
    try:
        return split_bind(value)
    except AddressError:
        return "", value  # reported as a port that is not a number by the schema


def _fixed_port(bind: str) -> tuple[int, str] | None:
    """A bind with a literal port: the port, and the bind with ``${PORT}`` in its place."""
    try:
        host, port = split_bind(bind)
    except AddressError:
        return None  # the backend reports the malformed bind (PS222)
    if not (host and port.isascii() and port.isdigit()):
        return None
    return int(port), join_host_port(host, "${PORT}")


def _unknown_backend(path: str, where: Location) -> Problem:
    from prodserver.suggest import did_you_mean

    known = sorted(TARGETS)
    # dotted paths share long prefixes: only a near-identical one is worth suggesting
    close = did_you_mean(path, known, cutoff=0.8)
    classes = sorted({p.rsplit(".", 1)[1] for p in known})
    hint = f"{close} " if close else ""
    hint += (
        "supported django-prodserver backends: " + ", ".join(classes) + " (in "
        f"{PREFIX}*); for any other program write a prodserver.toml with "
        'backend = "command" (`prodserver init`)'
    )
    return Problem(codes.DJANGO_UNKNOWN_BACKEND, f"unknown BACKEND {path!r}", where, hint)


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if re.fullmatch(r"[0-9]+", text) else None


def coerce_arg(kind: str, value: Any) -> Any:
    """An ARGS value (django-prodserver took strings) as the type our option declares."""
    if value is None:
        return True if kind == "boolean" else value
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        return True if text in _TRUE else False if text in _FALSE else value
    if kind in ("integer", "size"):
        number = _int(value)
        return value if number is None else number
    if kind in ("number", "duration"):
        return _number(value)
    if kind == "list":
        if isinstance(value, (list, tuple)):
            return [str(v) for v in value]
        return [part.strip() for part in str(value).split(",") if part.strip()]
    if kind in ("string", "enum"):
        return str(value)
    return value


def _number(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if re.fullmatch(r"[0-9]+", text):
        return int(text)
    if re.fullmatch(r"[0-9]*\.[0-9]+", text):
        return float(text)
    return value


def _app_target(dotted: str) -> str:
    """``shop.wsgi.application`` (Django's setting) -> ``shop.wsgi:application``."""
    if ":" in dotted:
        return dotted
    module, _, attr = dotted.rpartition(".")
    return f"{module}:{attr}" if module else dotted


def _project_name(settings_module: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", settings_module.partition(".")[0]).strip("-")
    return name or "app"
