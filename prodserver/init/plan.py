"""What ``prodserver init`` writes: answers, validated one by one, turned into a document.

The wizard and the ``--non-interactive`` flags share every validator here: the wizard prints an
:class:`InvalidAnswer` and asks again, the flags turn it into a usage error. A
:class:`Document` is plain data plus a comment per key path, so that TOML gets the comments and
JSON and YAML get the same data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from prodserver import codes
from prodserver.suggest import did_you_mean

NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
APP = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*(:[A-Za-z_][A-Za-z0-9_.()]*)?")
#: broker URL schemes the supported workers understand (Celery/kombu transports, redis for RQ)
BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp", "sqs", "memory", "filesystem")
#: the worker backends that need a broker, and the variable their URL goes into
BROKER_ENV = {
    "celery-worker": "CELERY_BROKER_URL",
    "celery-beat": "CELERY_BROKER_URL",
    "celery-flower": "CELERY_BROKER_URL",
    "rq-worker": "REDIS_URL",
    "rq-scheduler": "REDIS_URL",
}
DEFAULT_BROKER = "redis://localhost:6379/0"
#: the process name each worker backend gets (the first of its kind)
PROCESS_NAMES = {
    "celery-worker": "worker",
    "celery-beat": "beat",
    "celery-flower": "flower",
    "rq-worker": "worker",
    "rq-scheduler": "scheduler",
    "dramatiq": "worker",
    "django-tasks": "worker",
    "django-q2": "worker",
}
NONE_WORDS = ("", "none", "no", "-")


class InvalidAnswer(ValueError):
    """An answer that cannot be used; the message says why and what would do."""


def _backends(kinds: Iterable[str]) -> list[str]:
    from prodserver.backends.registry import registry

    wanted = set(kinds)
    return [name for name, info in registry().items() if info.backend.kind in wanted]


def web_backends() -> list[str]:
    """Backends that serve HTTP."""
    return _backends(["web"])


def worker_backends() -> list[str]:
    """Workers, schedulers and monitors."""
    return _backends(["worker", "scheduler", "monitor"])


def _choice(text: str, choices: list[str], what: str) -> str:
    value = text.strip().lower()
    if value in choices:
        return value
    guess = did_you_mean(value, choices)
    guess = f"{guess} " if guess else ""
    raise InvalidAnswer(
        f"{text.strip()!r} is not a {what}: {guess}choose one of {', '.join(choices)}"
    )


def validate_name(text: str) -> str:
    value = text.strip()
    if not NAME.fullmatch(value):
        raise InvalidAnswer(
            f"{value!r} cannot be a project name: use letters, digits, '_' and '-' "
            "(it names Compose projects, systemd units and Kubernetes objects)"
        )
    return value


def validate_web(text: str) -> str | None:
    """A web backend name, or None for "no web server"."""
    if text.strip().lower() in NONE_WORDS:
        return None
    return _choice(text, web_backends(), "web server backend (or 'none')")


def validate_workers(text: str | Iterable[str]) -> list[str]:
    """Comma-separated worker backend names (or nothing); each may appear once."""
    items = text.split(",") if isinstance(text, str) else [w for t in text for w in t.split(",")]
    words = [w.strip() for w in items if w.strip()]
    if len(words) == 1 and words[0].lower() in NONE_WORDS:
        return []
    out: list[str] = []
    for word in words:
        name = _choice(word, worker_backends(), "worker backend")
        if name in out:
            raise InvalidAnswer(f"{name!r} is listed twice")
        out.append(name)
    return out


def validate_broker(text: str) -> str:
    value = text.strip()
    parts = urlsplit(value)
    if parts.scheme not in BROKER_SCHEMES or not (parts.netloc or parts.path):
        raise InvalidAnswer(
            f"{value!r} is not a broker URL: expected e.g. {DEFAULT_BROKER} or "
            f"amqp://guest@localhost// (schemes: {', '.join(BROKER_SCHEMES)})"
        )
    try:
        password = parts.password
    except ValueError:  # a malformed port makes urlsplit's accessors raise
        password = None
    if password:
        # prodserver.toml is written world-readable and is meant to be committed: a password
        # belongs in the environment or a .env file, which the generated ${VAR:-...} reads
        raise InvalidAnswer(
            "the broker URL holds a password, which would be written into prodserver.toml "
            "(a file meant to be committed): give the URL without it here and set the full URL "
            "in .env or the environment"
        )
    return value


def validate_profiles(text: str | Iterable[str]) -> list[str]:
    items = text.split(",") if isinstance(text, str) else [w for t in text for w in t.split(",")]
    words = [w.strip() for w in items if w.strip()]
    out: list[str] = []
    for word in words:
        if not NAME.fullmatch(word):
            raise InvalidAnswer(
                f"{word!r} cannot be a profile name: use letters, digits, '_' and '-'"
            )
        if word in out:
            raise InvalidAnswer(f"profile {word!r} is listed twice")
        out.append(word)
    return out


def validate_app(text: str) -> str | None:
    value = text.strip()
    if not value:
        return None
    if not APP.fullmatch(value):
        raise InvalidAnswer(
            f"{value!r} is not an application path: expected `module:attribute`, "
            "e.g. shop.wsgi:application"
        )
    return value


# -- the project as found on disk --------------------------------------------------------------

_SETTINGS_IN_MANAGE = re.compile(
    r"""DJANGO_SETTINGS_MODULE["']\s*,\s*["']([A-Za-z_][A-Za-z0-9_.]*)["']"""
)


@dataclass(frozen=True)
class Finding:
    """One thing ``init`` found in the project, and where (shown by the wizard)."""

    what: str
    where: str


@dataclass(frozen=True)
class Detected:
    """What ``init`` can tell about the project in a directory, without importing it."""

    directory: Path
    settings_module: str | None = None
    #: the package whose ``celery.py`` defines the Celery app (``celery -A PACKAGE``)
    celery_app: str | None = None
    #: a broker URL written in the settings (``CELERY_BROKER_URL``), without a password
    broker: str | None = None
    #: worker backends the settings configure (celery-worker, rq-worker, django-tasks, ...)
    workers: tuple[str, ...] = ()
    #: the variable the settings read DEBUG from (``DJANGO_DEBUG``), if they read one
    debug_variable: str | None = None
    findings: tuple[Finding, ...] = ()

    @property
    def is_django(self) -> bool:
        return self.settings_module is not None

    @property
    def package(self) -> str | None:
        return self.settings_module.partition(".")[0] if self.settings_module else None


_BROKER_SETTING = re.compile(
    r"""^\s*(CELERY_BROKER_URL|BROKER_URL)\s*=\s*(?P<rest>.*)$""", re.MULTILINE
)
_URL_LITERAL = re.compile(r"""["']((?:redis|rediss|amqp|amqps|pyamqp|sqs)://[^"'\s]*)["']""")
_DEBUG_VARIABLE = re.compile(
    r"""(?:environ\.get|getenv|environ\[|env(?:\.bool)?|config)\(?\s*["']([A-Z_]*DEBUG)["']"""
)


def detect(directory: Path) -> Detected:
    """A Django project is a ``manage.py`` naming its settings module; its settings and
    ``celery.py`` are read as text (never imported) for the workers, broker and DEBUG."""
    manage = directory / "manage.py"
    try:
        from prodserver.errors import ConfigError
        from prodserver.readfile import read_bounded

        text = read_bounded(manage, what="manage.py").decode("utf-8")
    except (ConfigError, UnicodeDecodeError):
        return Detected(directory)
    found = _SETTINGS_IN_MANAGE.search(text)
    if not found:
        return Detected(directory)
    module = found.group(1)
    package = module.partition(".")[0]
    findings: list[Finding] = []
    settings_file = _module_file(directory, module)
    settings = _read(settings_file) if settings_file else ""
    shown = settings_file.relative_to(directory).as_posix() if settings_file else module

    def line_of(index: int) -> str:
        return f"{shown}:{settings.count(chr(10), 0, index) + 1}"

    workers: list[str] = []
    celery_app = None
    celery_file = directory / package / "celery.py"
    if "Celery(" in _read(celery_file):
        celery_app = package
        workers.append("celery-worker")
        findings.append(Finding(f"Celery app (celery -A {package})", f"{package}/celery.py"))
        if "CELERY_BEAT_SCHEDULE" in settings or "django_celery_beat" in settings:
            workers.append("celery-beat")
            findings.append(Finding("Celery beat schedule", shown))
    broker = _broker(settings, line_of, findings)
    rq = re.search(r"^\s*RQ_QUEUES\s*=", settings, re.MULTILINE)
    if rq:
        workers.append("rq-worker")
        findings.append(Finding("RQ queues (django-rq)", line_of(rq.start())))
    tasks = re.search(r"^\s*TASKS\s*=", settings, re.MULTILINE)
    if tasks and "django_tasks" in settings[tasks.start() :]:
        workers.append("django-tasks")
        findings.append(Finding("django-tasks (TASKS)", line_of(tasks.start())))
    q2 = re.search(r"^\s*Q_CLUSTER\s*=", settings, re.MULTILINE)
    if q2:
        workers.append("django-q2")
        findings.append(Finding("Django Q2 cluster (Q_CLUSTER)", line_of(q2.start())))
    debug = _DEBUG_VARIABLE.search(settings)
    if debug:
        findings.append(Finding(f"DEBUG read from ${debug.group(1)}", line_of(debug.start())))
    return Detected(
        directory,
        module,
        celery_app=celery_app,
        broker=broker,
        workers=tuple(workers),
        debug_variable=debug.group(1) if debug else None,
        findings=tuple(findings),
    )


def _broker(settings: str, line_of: Callable[[int], str], findings: list[Finding]) -> str | None:
    """The broker URL the settings write literally (none with a password), and a finding."""
    setting = _BROKER_SETTING.search(settings)
    if not setting:
        return None
    broker = None
    literal = _URL_LITERAL.search(setting.group("rest"))
    candidate = literal.group(1) if literal else None
    if candidate is not None:
        try:
            broker = validate_broker(candidate)
        except InvalidAnswer:
            broker = None  # a password: it stays in the environment, not in the file
    findings.append(
        Finding(
            f"{setting.group(1)}" + (f" = {broker}" if broker else " (read from the environment)"),
            line_of(setting.start(1)),
        )
    )
    return broker


def _module_file(directory: Path, module: str) -> Path | None:
    base = directory.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def default_name(directory: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", directory.resolve().name).strip("-")
    return name if NAME.fullmatch(name or "") else "app"


# -- the document ------------------------------------------------------------------------------


@dataclass
class Document:
    """Plain data to write, and a comment (one or more lines) per key path."""

    data: dict[str, Any]
    comments: dict[tuple[str, ...], str] = field(default_factory=dict)
    #: said once at the top of the file
    header: list[str] = field(default_factory=list)


@dataclass
class Answers:
    """Everything the wizard asks, or the flags say."""

    name: str
    web: str | None = None
    app: str | None = None
    workers: list[str] = field(default_factory=list)
    broker: str | None = None
    profiles: list[str] = field(default_factory=list)


def needs_broker(workers: Iterable[str]) -> bool:
    return any(w in BROKER_ENV for w in workers)


def needs_app(web: str | None, detected: Detected) -> bool:
    """Web servers find a Django project's application themselves; others must be told."""
    return web is not None and web != "runserver" and not detected.is_django


def check_answers(answers: Answers, detected: Detected) -> None:
    """Cross-answer rules (each answer was validated on its own already)."""
    if answers.web is None and not answers.workers:
        raise InvalidAnswer("nothing to run: choose a web server or at least one worker")
    if answers.web == "runserver" and not detected.is_django:
        raise InvalidAnswer(
            "runserver is Django's development server, and no Django project (manage.py) is here"
        )
    for worker in answers.workers:
        if worker in ("django-tasks", "django-q2") and not detected.is_django:
            raise InvalidAnswer(f"{worker} runs through manage.py, and no Django project is here")
    if needs_app(answers.web, detected) and not answers.app:
        raise InvalidAnswer(
            f"{answers.web} needs the application (`module:attribute`): no Django project "
            "(manage.py) is here to find it in"
        )
    if needs_broker(answers.workers) and not answers.broker:
        raise InvalidAnswer("the chosen workers need a broker URL")


Comments = dict[tuple[str, ...], str]


def build(answers: Answers, detected: Detected) -> Document:
    """The document for ``answers``: root processes, then one table per profile."""
    check_answers(answers, detected)
    data: dict[str, Any] = {}
    comments: Comments = {}
    data["project"] = _project(answers, comments)
    env = _env(answers, detected)
    if env:
        data["env"] = env
        comments[("env",)] = (
            "Environment of every process in every profile. The shell's environment is\n"
            "overridden by these; ${VAR:-default} keeps a value set in the shell."
        )
    data["processes"] = _processes(answers, detected, comments)
    comments[("processes",)] = "Every process; each profile inherits them and may change them."
    if answers.profiles:
        data["profiles"] = _profiles(answers, detected, comments)
    header = [
        "prodserver: every process of this project, per profile.",
        "`prodserver check` validates it, `prodserver up` runs it, `prodserver export` writes",
        "Procfile, Compose, systemd, supervisord and Kubernetes files from it.",
    ]
    return Document(data, comments, header)


def _project(answers: Answers, comments: Comments) -> dict[str, Any]:
    project: dict[str, Any] = {"name": answers.name}
    comments[("project",)] = "Project-wide settings."
    comments[("project", "name")] = (
        "Names the Compose project, the systemd unit prefix and the Kubernetes labels."
    )
    if answers.profiles:
        project["default_profile"] = answers.profiles[0]
        comments[("project", "default_profile")] = (
            "Used when neither --profile nor PRODSERVER_PROFILE chooses one."
        )
    project["env_files"] = ["?.env"]
    comments[("project", "env_files")] = (
        ".env files read in order, lowest precedence first; '?' marks an optional file."
    )
    return project


def _env(answers: Answers, detected: Detected) -> dict[str, str]:
    env: dict[str, str] = {}
    if detected.settings_module:
        env["DJANGO_SETTINGS_MODULE"] = detected.settings_module
    if answers.broker:
        for var in dict.fromkeys(BROKER_ENV[w] for w in answers.workers if w in BROKER_ENV):
            env[var] = f"${{{var}:-{answers.broker}}}"
    return env


def _processes(answers: Answers, detected: Detected, comments: Comments) -> dict[str, Any]:
    processes: dict[str, Any] = {}
    after_migrate: dict[str, str] = {}
    if detected.is_django:
        processes["migrate"] = {
            "command": ["python", "manage.py", "migrate", "--noinput"],
            "oneshot": True,
        }
        comments[("processes", "migrate")] = (
            "Django's migrations, run to completion before the processes that depend on it."
        )
        after_migrate = {"migrate": "completed"}
    if answers.web:
        processes["web"] = _web(answers, after_migrate)
        comments[("processes", "web")] = (
            "The web server. PORT is assigned per process (5000, 5100, ...) unless `port` is\n"
            f"set; `prodserver backends {answers.web}` lists every option."
        )
    for worker in answers.workers:
        name = PROCESS_NAMES.get(worker, worker)
        if name in processes:
            name = worker
        processes[name] = _worker(
            worker, name, answers, detected, comments=comments, after_migrate=after_migrate
        )
        comments[("processes", name)] = f"`prodserver backends {worker}` lists every option."
    return processes


def _web(answers: Answers, after_migrate: Mapping[str, str]) -> dict[str, Any]:
    web: dict[str, Any] = {"backend": answers.web}
    if answers.app:
        web["app"] = answers.app
    if answers.web == "gunicorn":
        web["workers"] = "${WEB_CONCURRENCY:-2}"
    if after_migrate:
        web["depends_on"] = dict(after_migrate)
    # any HTTP answer below 500 means the server is up (/ may well be a 404, or a 400
    # for a host that ALLOWED_HOSTS does not list)
    web["healthcheck"] = {
        "http": "http://127.0.0.1:${PORT}/",
        "status": [200, 499],
        "interval": "10s",
    }
    return web


def _worker(
    worker: str,
    name: str,
    answers: Answers,
    detected: Detected,
    *,
    comments: Comments,
    after_migrate: Mapping[str, str],
) -> dict[str, Any]:
    table: dict[str, Any] = {"backend": worker}
    if worker.startswith("celery-"):
        if detected.celery_app:
            table["app"] = detected.celery_app
        elif not detected.is_django:
            table["app"] = answers.name
    if after_migrate:
        table["depends_on"] = dict(after_migrate)
    if worker == "dramatiq":
        table["broker"] = f"{detected.package or answers.name}.tasks"
        comments[("processes", name, "broker")] = (
            "The module that sets up the dramatiq broker and imports the actors."
        )
    return table


_PROFILE_DOCS = {
    "dev": "Local development.",
    "development": "Local development.",
    "local": "Local development.",
    "test": "Automated tests.",
    "staging": "Pre-production, configured like production.",
    "prod": "Production.",
    "production": "Production.",
}


def _profiles(
    answers: Answers, detected: Detected, comments: dict[tuple[str, ...], str]
) -> dict[str, Any]:
    profiles: dict[str, Any] = {}
    production = next((p for p in answers.profiles if p in ("prod", "production")), None)
    for profile in answers.profiles:
        table: dict[str, Any] = {
            "description": _PROFILE_DOCS.get(profile, f"The {profile} profile.")
        }
        if profile == "staging" and production:
            table["extends"] = production
            comments[("profiles", profile, "extends")] = f"Everything {production} has, then this."
        if profile in ("dev", "development", "local") and detected.is_django and answers.web:
            table["processes"] = {"web": {"backend": "runserver"}}
            comments[("profiles", profile, "processes", "web")] = (
                "Django's development server here; a changed backend inherits only the\n"
                "backend-independent keys (env, depends_on, ...)."
            )
        if profile == production and detected.is_django:
            debug = detected.debug_variable or "DJANGO_DEBUG"
            table["env"] = {debug: "0", "SECRET_KEY": "${SECRET_KEY}"}
            comments[("profiles", profile, "env")] = (
                f"Debug off ({debug} is what the settings read"
                + ("" if detected.debug_variable else ": make them read it")
                + ").\nSECRET_KEY comes from the environment and is required: "
                f"`prodserver up --profile {profile}`\nrefuses to start while it is unset."
            )
        profiles[profile] = table
    comments[("profiles",)] = (
        "Profiles change the processes and the environment: `prodserver up --profile NAME`."
    )
    return profiles


def procfile_document(procfile: Path, output_dir: Path, name: str) -> tuple[Document, list[str]]:
    """The document equivalent to a Procfile (and the ``.env`` beside it), and its warnings."""
    import os

    from prodserver.config.sources import read_source

    source = read_source(procfile)
    processes = dict(source.data.get("processes", {}))
    data: dict[str, Any] = {"project": {"name": name}}
    comments: dict[tuple[str, ...], str] = {}
    dotenv = procfile.parent / ".env"
    if dotenv.exists():
        relative = os.path.relpath(dotenv.resolve(), output_dir.resolve())
        data["project"]["env_files"] = [Path(relative).as_posix()]
        comments[("project", "env_files")] = (
            f"The .env file beside {procfile.name}, read before the shell's environment."
        )
    from prodserver.init.recognise import typed_table

    for entry_name, table in list(processes.items()):
        line = source.index.line_of(("processes", entry_name))
        where = f"{procfile.name} line {line}" if line else procfile.name
        comments[("processes", entry_name)] = f"{where}."
        typed = None if table.get("oneshot") else typed_table(str(table["command"]))
        if typed is not None:
            # the same argv, as a backend's typed options: probes, stop signal, validation
            if "depends_on" in table:
                typed["depends_on"] = table["depends_on"]
            processes[entry_name] = typed
            comments[("processes", entry_name)] = f"{where}: {table['command']}"
        elif table.get("shell"):
            comments[("processes", entry_name, "shell")] = (
                "run by /bin/sh -c as in the Procfile: the shell expands the variables"
            )
    data["processes"] = processes
    header = [
        f"prodserver.toml translated from {procfile.name} by `prodserver init --from-procfile`.",
        "A well-known server or worker became its backend where that runs the very same",
        "command line; the other lines are `command` processes, run as the Procfile ran them.",
        "`prodserver backends` lists the backends: typed options, probes, graceful stops.",
    ]
    return Document(data, comments, header), [w.render() for w in source.warnings]


def django_document(settings: Any) -> tuple[Document, list[str]]:
    """The document equivalent to django-prodserver's ``PRODUCTION_PROCESSES`` in ``settings``."""
    from prodserver.config.django_source import SETTING, source_from_settings
    from prodserver.errors import ConfigError

    source = source_from_settings(settings, lenient=True)
    if source is None:
        raise ConfigError(
            f"the settings {getattr(settings, 'SETTINGS_MODULE', '')!r} have no {SETTING}",
            hint="--from-django translates django-prodserver's setting; without it, run "
            "`prodserver init` and answer the questions",
            code=codes.DJANGO_NO_SETTING,
        )
    data = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in source.data.items()}
    data.setdefault("project", {})["env_files"] = ["?.env"]
    comments: dict[tuple[str, ...], str] = {}
    setting = getattr(settings, SETTING)
    for name in data.get("processes", {}):
        comments[("processes", name)] = f"Was {setting[name]['BACKEND']}."
    if not data.get("processes"):
        raise ConfigError(
            f"no process of {SETTING} could be translated",
            hint="the warnings above say why for each; `prodserver init` asks instead",
            problems=[w for w in source.warnings if w.code != codes.DJANGO_SETTING_DEPRECATED],
            code=codes.DJANGO_UNKNOWN_BACKEND,
        )
    header = [
        f"prodserver.toml translated from {SETTING} in {source.path.name} by",
        "`prodserver init --from-django`. Remove the setting once this file is in place:",
        "a prodserver.toml always wins over it.",
    ]
    warnings = [w.render() for w in source.warnings if w.code != codes.DJANGO_SETTING_DEPRECATED]
    return Document(data, comments, header), warnings
