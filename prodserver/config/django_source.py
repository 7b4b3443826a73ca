"""django-prodserver's ``PRODUCTION_PROCESSES`` setting as a configuration source.

Users of django-prodserver migrate without rewriting anything: when a Django project has no
``prodserver.toml``, ``python manage.py prodserver ...`` reads the setting, translates each entry
into a process table of the equivalent built-in backend, and reports a deprecation warning
pointing at ``prodserver init --from-django``, which writes the same translation to a file.

The translation (:func:`translate`) is a pure function of the setting's value, so it is tested
without Django. What django-prodserver did with ``ARGS`` decides how they translate:

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

import ast
import re
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from prodserver.config.sources import KeyPath, LineIndex, RawSource, read_bounded
from prodserver.errors import ConfigError, Location, Problem

SETTING = "PRODUCTION_PROCESSES"
PREFIX = "django_prodserver.backends."
#: warning code of the deprecation notice (one per source)
DEPRECATED = "PS210"

ArgsStyle = Literal["argv", "kwargs"]
AppFrom = Literal["wsgi", "asgi", "APP", "none"]


@dataclass(frozen=True)
class Target:
    """What one django-prodserver backend class becomes."""

    backend: str
    args_style: ArgsStyle
    app: AppFrom
    #: options fixed by the class itself (``UvicornWSGIServer`` -> ``interface = "wsgi"``)
    fixed: Mapping[str, Any] = field(default_factory=dict)
    #: ARGS keys renamed to our option names (granian's constructor keywords, dev servers)
    rename: Mapping[str, str] = field(default_factory=dict)
    #: ARGS keys that only made sense in django-prodserver's in-process dev servers
    dropped: frozenset[str] = frozenset()
    #: a warning shown whenever this class is translated (behaviour that differs)
    note: str | None = None


_GRANIAN_RENAME = {
    "blocking-threads": "blocking_threads",
    "threads": "blocking_threads",
    "runtime-threads": "runtime_threads",
    "log-level": "log_level",
    "log-access": "access_log",
    "log_access": "access_log",
    "ssl-cert": "ssl_certificate",
    "ssl_cert": "ssl_certificate",
    "ssl-key": "ssl_keyfile",
    "ssl_key": "ssl_keyfile",
    "url-path-prefix": "url_path_prefix",
}
_DEV_DROPPED = frozenset({"noreload", "nostatic", "nothreading"})
_DEV_NOTE = (
    "{cls} ran the server inside the management command with Django's autoreloader; prodserver "
    "runs it as a supervised process without the reloader (set `reload = true` to get it back)"
)
_WERKZEUG_NOTE = (
    "{cls} (Werkzeug's debugger) has no prodserver backend: the process runs Django's "
    "development server (`runserver`) instead; for runserver_plus use "
    'backend = "command" with command = "python manage.py runserver_plus 0.0.0.0:${PORT}"'
)


def _targets() -> dict[str, Target]:
    gunicorn = Target("gunicorn", "argv", "wsgi")
    uvicorn = Target("uvicorn", "argv", "asgi")
    uvicorn_wsgi = Target("uvicorn", "argv", "wsgi", fixed={"interface": "wsgi"})
    waitress = Target("waitress", "argv", "wsgi", rename={"listen": "bind"})
    granian_asgi = Target(
        "granian", "kwargs", "asgi", fixed={"interface": "asgi"}, rename=_GRANIAN_RENAME
    )
    granian_wsgi = Target(
        "granian", "kwargs", "wsgi", fixed={"interface": "wsgi"}, rename=_GRANIAN_RENAME
    )
    celery_worker = Target("celery-worker", "argv", "APP")
    celery_beat = Target("celery-beat", "argv", "APP")
    celery_flower = Target("celery-flower", "argv", "APP")
    tasks = Target("django-tasks", "argv", "none", rename={"queue_name": "queues"})
    q2 = Target("django-q2", "argv", "none", rename={"name": "cluster_name"})
    runserver = Target(
        "runserver",
        "kwargs",
        "none",
        rename={"nothreading": "!threading", "noreload": "!reload"},
        note=_DEV_NOTE,
    )
    daphne_dev = Target(
        "daphne",
        "kwargs",
        "asgi",
        dropped=_DEV_DROPPED | {"ipv6", "insecure", "websocket_handshake_timeout"},
        note=_DEV_NOTE,
    )
    werkzeug = Target(
        "runserver",
        "kwargs",
        "none",
        rename={"nothreading": "!threading", "noreload": "!reload"},
        note=_WERKZEUG_NOTE,
    )
    # every class path django-prodserver shipped: the flat modules of 1.x/2.x (kept as
    # deprecated aliases in 3.x) and the servers/workers/dev packages of 3.x
    table = {
        "gunicorn.GunicornServer": gunicorn,
        "servers.gunicorn.GunicornServer": gunicorn,
        "uvicorn.UvicornServer": uvicorn,
        "servers.uvicorn.UvicornServer": uvicorn,
        "uvicorn.UvicornWSGIServer": uvicorn_wsgi,
        "servers.uvicorn.UvicornWSGIServer": uvicorn_wsgi,
        "waitress.WaitressServer": waitress,
        "servers.waitress.WaitressServer": waitress,
        "granian.GranianASGIServer": granian_asgi,
        "servers.granian.GranianASGIServer": granian_asgi,
        "granian.GranianWSGIServer": granian_wsgi,
        "servers.granian.GranianWSGIServer": granian_wsgi,
        "celery.CeleryWorker": celery_worker,
        "workers.celery.CeleryWorker": celery_worker,
        "celery.CeleryBeat": celery_beat,
        "workers.celery.CeleryBeat": celery_beat,
        "celery.CeleryFlower": celery_flower,
        "workers.celery.CeleryFlower": celery_flower,
        "servers.flower.CeleryFlower": celery_flower,
        "django_tasks.DjangoTasksWorker": tasks,
        "workers.django_tasks.DjangoTasksWorker": tasks,
        "django_q2.DjangoQ2Worker": q2,
        "workers.django_q2.DjangoQ2Worker": q2,
        "django_runserver.DjangoRunserver": runserver,
        "dev.django_runserver.DjangoRunserver": runserver,
        "daphne.DaphneRunserver": daphne_dev,
        "dev.daphne.DaphneRunserver": daphne_dev,
        "werkzeug.WerkzeugRunserver": werkzeug,
        "werkzeug.RunserverPlus": werkzeug,
        "dev.werkzeug.WerkzeugRunserver": werkzeug,
        "dev.werkzeug.RunserverPlus": werkzeug,
    }
    return {PREFIX + path: target for path, target in table.items()}


#: django-prodserver class path -> what it becomes
TARGETS: Mapping[str, Target] = _targets()


@dataclass
class Translation:
    """The result of :func:`translate`: source data, warnings, and where each key came from."""

    data: dict[str, Any]
    warnings: list[Problem]
    #: our key path -> key path inside the setting (("web", "ARGS", "bind")) for line numbers
    origins: dict[KeyPath, tuple[str, ...]]


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
    problems: list[Problem] = []
    warnings: list[Problem] = []
    origins: dict[KeyPath, tuple[str, ...]] = {}
    if not isinstance(setting, Mapping):
        raise ConfigError(
            f"{SETTING} must be a dict of process name -> {{'BACKEND': ..., 'ARGS': ...}}, "
            f"found {type(setting).__name__}",
            location=loc,
            code="PS181",
        )
    processes: dict[str, Any] = {}
    for name, entry in setting.items():
        path = ("processes", str(name))
        origins[path] = (str(name),)
        table = _translate_process(str(name), entry, problems, warnings, origins, loc, lines or {})
        if table is None:
            continue
        app_from = TARGETS[entry["BACKEND"]].app
        if "app" not in table:
            app = {"wsgi": wsgi_application, "asgi": asgi_application}.get(app_from)
            if app:
                table["app"] = _app_target(app)
        processes[str(name)] = table
    if problems and lenient:
        for problem in problems:
            warnings.append(
                Problem(
                    problem.code,
                    f"{problem.message}: this process is not translated",
                    problem.location,
                    problem.hint,
                    severity="warning",
                )
            )
    elif problems:
        raise ConfigError(
            f"{SETTING} cannot be translated", problems=problems, location=loc, code="PS180"
        )
    data: dict[str, Any] = {}
    if settings_module:
        data["project"] = {"name": _project_name(settings_module)}
        data["env"] = {"DJANGO_SETTINGS_MODULE": settings_module}
    data["processes"] = processes
    return Translation(data, warnings, origins)


def _translate_process(
    name: str,
    entry: object,
    problems: list[Problem],
    warnings: list[Problem],
    origins: dict[KeyPath, tuple[str, ...]],
    loc: Location,
    lines: Mapping[tuple[str, ...], int],
) -> dict[str, Any] | None:
    def at(*keys: str) -> Location:
        path = (name, *keys)
        while path and path not in lines:
            path = path[:-1]
        line = lines.get(path, loc.line) if path else loc.line
        return Location(loc.file, line, key_path=".".join((SETTING, name, *keys)))

    if not isinstance(entry, Mapping):
        problems.append(
            Problem(
                "PS181",
                f"expected a dict with 'BACKEND', found {type(entry).__name__}",
                at(),
            )
        )
        return None
    backend_path = entry.get("BACKEND")
    if not isinstance(backend_path, str) or not backend_path:
        problems.append(Problem("PS181", "'BACKEND' is missing", at()))
        return None
    target = TARGETS.get(backend_path)
    if target is None:
        problems.append(_unknown_backend(backend_path, at("BACKEND")))
        return None
    cls = backend_path.rsplit(".", 1)[1]
    if target.note:
        warnings.append(
            Problem("PS212", target.note.replace("{cls}", cls), at(), severity="warning")
        )
    for key in entry:
        if key not in ("BACKEND", "ARGS", "APP"):
            warnings.append(
                Problem(
                    "PS211",
                    f"{key!r} is not a django-prodserver key and is ignored",
                    at(str(key)),
                    severity="warning",
                )
            )
    table: dict[str, Any] = {"backend": target.backend, **target.fixed}
    origins[("processes", name, "backend")] = (name, "BACKEND")
    app = entry.get("APP")
    if app is not None:
        if target.app == "APP":
            table["app"] = str(app)
            origins[("processes", name, "app")] = (name, "APP")
        else:
            warnings.append(
                Problem(
                    "PS211",
                    f"'APP' is not used by {cls} (django-prodserver ignored it too)",
                    at("APP"),
                    severity="warning",
                )
            )
    raw_args = entry.get("ARGS")
    if raw_args is None:
        return table
    if isinstance(raw_args, str):
        try:
            table["args"] = shlex.split(raw_args)
        except ValueError as exc:
            problems.append(Problem("PS181", f"cannot split 'ARGS': {exc}", at("ARGS")))
            return None
        origins[("processes", name, "args")] = (name, "ARGS")
        return table
    if not isinstance(raw_args, Mapping):
        problems.append(
            Problem(
                "PS181",
                f"'ARGS' must be a dict or a string, found {type(raw_args).__name__}",
                at("ARGS"),
            )
        )
        return None
    _translate_args(name, target, cls, raw_args, table, warnings, origins, at)
    return table


def _translate_args(
    name: str,
    target: Target,
    cls: str,
    raw_args: Mapping[Any, Any],
    table: dict[str, Any],
    warnings: list[Problem],
    origins: dict[KeyPath, tuple[str, ...]],
    at: Any,
) -> None:
    from prodserver.backends.registry import get_backend

    backend = get_backend(target.backend)
    by_name = {o.name: o for o in backend.options}
    by_flag = {o.flag: o for o in backend.options if o.flag}
    extra: list[str] = []
    host: str | None = None
    for raw_key, value in raw_args.items():
        key = str(raw_key)
        origin = (name, "ARGS", key)
        bare = key.lstrip("-")
        if bare in ("host", "address"):
            host = str(value)
            origins[("processes", name, "bind")] = origin
            continue
        if bare == "port":
            port = _int(value)
            table["port"] = port if port is not None else value
            origins[("processes", name, "port")] = origin
            continue
        if bare == "addrport":
            addr, _, port_text = str(value).rpartition(":")
            port = _int(port_text)
            table["port"] = port if port is not None else port_text
            if addr:
                host = addr
            origins[("processes", name, "port")] = origin
            origins[("processes", name, "bind")] = origin
            continue
        renamed = target.rename.get(bare) or target.rename.get(key)
        negate = False
        if renamed is not None and renamed.startswith("!"):
            renamed, negate = renamed[1:], True
        opt = (
            by_name.get(renamed or "")
            or by_name.get(bare.replace("-", "_"))
            or by_flag.get(f"--{bare}")
        )
        if opt is not None and opt.name not in ("app",):
            coerced = _coerce(opt.type, value)
            if negate and isinstance(coerced, bool):
                coerced = not coerced
            table[opt.name] = coerced
            origins[("processes", name, opt.name)] = origin
        elif target.args_style == "argv" and bare not in target.dropped:
            # exactly what django-prodserver put on the command line
            extra.append(f"--{bare}" if value is None else f"--{bare}={value}")
            origins[("processes", name, "args")] = (name, "ARGS")
        else:
            warnings.append(
                Problem(
                    "PS211",
                    f"ARGS key {key!r} has no equivalent for backend {target.backend!r} and is "
                    "ignored",
                    at("ARGS", key),
                    f"`prodserver backends {target.backend}` lists the options",
                    severity="warning",
                )
            )
    if host is not None:
        if host.startswith("[") or ":" in host:
            host = host if host.startswith("[") else f"[{host}]"
        table["bind"] = f"{host}:${{PORT}}"
    bind = table.get("bind")
    fixed_port = re.fullmatch(r"(.+):([0-9]+)", bind) if isinstance(bind, str) else None
    if fixed_port and "port" not in table:
        # a literal port becomes prodserver's PORT, so health checks and exports agree with it
        table["port"] = int(fixed_port.group(2))
        table["bind"] = f"{fixed_port.group(1)}:${{PORT}}"
    if extra:
        table["args"] = extra


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
    return Problem("PS180", f"unknown BACKEND {path!r}", where, hint)


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if re.fullmatch(r"[0-9]+", text) else None


def _coerce(kind: str, value: Any) -> Any:
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
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        if re.fullmatch(r"[0-9]+", text):
            return int(text)
        if re.fullmatch(r"[0-9]*\.[0-9]+", text):
            return float(text)
        return value
    if kind == "list":
        if isinstance(value, (list, tuple)):
            return [str(v) for v in value]
        return [part.strip() for part in str(value).split(",") if part.strip()]
    if kind in ("string", "enum"):
        return str(value)
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


# -- the source ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DjangoSource(RawSource):
    """A :class:`RawSource` read from settings: ``path`` is the settings file, ``root`` the
    project directory (where ``manage.py`` is), which is where the processes run."""

    base_dir: Path = Path()

    @property
    def root(self) -> Path:
        return self.base_dir


def setting_lines(settings_file: Path) -> dict[tuple[str, ...], int]:
    """Line of ``PRODUCTION_PROCESSES`` (key ``()``) and of each literal key inside it."""
    try:
        text = read_bounded(settings_file, what="settings file").decode("utf-8")
        tree = ast.parse(text)
    except (ConfigError, SyntaxError, UnicodeDecodeError, ValueError, RecursionError, MemoryError):
        return {}
    lines: dict[tuple[str, ...], int] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if not any(isinstance(t, ast.Name) and t.id == SETTING for t in targets):
            continue
        lines[()] = node.lineno
        value = getattr(node, "value", None)
        if isinstance(value, ast.Dict):
            _dict_lines(value, (), lines)
    return lines


def _dict_lines(node: ast.Dict, prefix: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    for key, value in zip(node.keys, node.values, strict=True):
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            path = (*prefix, key.value)
            out[path] = key.lineno
            if isinstance(value, ast.Dict) and len(path) < 3:
                _dict_lines(value, path, out)


def source_from_settings(
    settings: Any, *, base_dir: Path | None = None, lenient: bool = False
) -> DjangoSource | None:
    """The source for configured Django ``settings``; None without ``PRODUCTION_PROCESSES``.

    ``base_dir`` is the project directory (default: the nearest directory above the settings
    file that holds ``manage.py``, else ``settings.BASE_DIR``, else the working directory).
    """
    setting = getattr(settings, SETTING, None)
    if setting is None:
        return None
    module_name = getattr(settings, "SETTINGS_MODULE", None) or None
    settings_file = _module_file(module_name)
    path = settings_file or Path.cwd() / "settings.py"
    lines = setting_lines(settings_file) if settings_file else {}
    where = Location(path, lines.get(()), key_path=SETTING)
    translation = translate(
        setting,
        settings_module=module_name,
        wsgi_application=getattr(settings, "WSGI_APPLICATION", None) or None,
        asgi_application=getattr(settings, "ASGI_APPLICATION", None) or None,
        where=where,
        lines=lines,
        lenient=lenient,
    )
    index: dict[KeyPath, int] = {}
    for ours, theirs in translation.origins.items():
        line = lines.get(theirs) or lines.get(theirs[:1]) or lines.get(())
        if line is not None:
            index[ours] = line
    notice = Problem(
        DEPRECATED,
        f"the configuration comes from django-prodserver's {SETTING} setting, which is deprecated",
        where,
        "run `prodserver init --from-django` to write the equivalent prodserver.toml, then "
        f"remove {SETTING}",
        severity="warning",
    )
    root = base_dir or _project_dir(settings_file, settings)
    return DjangoSource(
        path=path,
        kind="django",
        data=translation.data,
        index=LineIndex(index),
        warnings=(notice, *translation.warnings),
        base_dir=root,
    )


def _module_file(module_name: str | None) -> Path | None:
    if not module_name:
        return None
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    return Path(file).resolve() if file else None


def _project_dir(settings_file: Path | None, settings: Any) -> Path:
    if settings_file is not None:
        for directory in settings_file.parents:
            if (directory / "manage.py").is_file():
                return directory
    base = getattr(settings, "BASE_DIR", None)
    if base:
        return Path(str(base)).resolve()
    return Path.cwd()
