"""What each django-prodserver backend class becomes: the translation table.

Every class path django-prodserver shipped (the flat modules of 1.x/2.x, kept as deprecated
aliases in 3.x, and the servers/workers/dev packages of 3.x) maps to one :class:`Target`: the
built-in backend, how it read ``ARGS``, where its application comes from, and what it fixes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

PREFIX = "django_prodserver.backends."

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
#: runserver's flags as the negations of our options
_RUNSERVER_RENAME = {"nothreading": "!threading", "noreload": "!reload"}
_DEV_NOTE = (
    "{cls} ran the server inside the management command with Django's autoreloader; prodserver "
    "runs it as a supervised process without the reloader (set `reload = true` to get it back)"
)
_WERKZEUG_NOTE = (
    "{cls} (Werkzeug's debugger) has no prodserver backend: the process runs Django's "
    "development server (`runserver`) instead; for runserver_plus use "
    'backend = "command" with command = "python manage.py runserver_plus 0.0.0.0:${PORT}"'
)


def _kinds() -> dict[str, Target]:
    """One Target per kind of class (several class paths share one)."""
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
    runserver = Target("runserver", "kwargs", "none", rename=_RUNSERVER_RENAME, note=_DEV_NOTE)
    daphne_dev = Target(
        "daphne",
        "kwargs",
        "asgi",
        dropped=_DEV_DROPPED | {"ipv6", "insecure", "websocket_handshake_timeout"},
        note=_DEV_NOTE,
    )
    werkzeug = dataclasses.replace(runserver, note=_WERKZEUG_NOTE)
    return {
        "gunicorn": gunicorn,
        "uvicorn": uvicorn,
        "uvicorn_wsgi": uvicorn_wsgi,
        "waitress": waitress,
        "granian_asgi": granian_asgi,
        "granian_wsgi": granian_wsgi,
        "celery_worker": celery_worker,
        "celery_beat": celery_beat,
        "celery_flower": celery_flower,
        "tasks": tasks,
        "q2": q2,
        "runserver": runserver,
        "daphne_dev": daphne_dev,
        "werkzeug": werkzeug,
    }


def _targets() -> dict[str, Target]:
    kind = _kinds()
    # every class path django-prodserver shipped: the flat modules of 1.x/2.x (kept as
    # deprecated aliases in 3.x) and the servers/workers/dev packages of 3.x
    table = {
        "gunicorn.GunicornServer": kind["gunicorn"],
        "servers.gunicorn.GunicornServer": kind["gunicorn"],
        "uvicorn.UvicornServer": kind["uvicorn"],
        "servers.uvicorn.UvicornServer": kind["uvicorn"],
        "uvicorn.UvicornWSGIServer": kind["uvicorn_wsgi"],
        "servers.uvicorn.UvicornWSGIServer": kind["uvicorn_wsgi"],
        "waitress.WaitressServer": kind["waitress"],
        "servers.waitress.WaitressServer": kind["waitress"],
        "granian.GranianASGIServer": kind["granian_asgi"],
        "servers.granian.GranianASGIServer": kind["granian_asgi"],
        "granian.GranianWSGIServer": kind["granian_wsgi"],
        "servers.granian.GranianWSGIServer": kind["granian_wsgi"],
        "celery.CeleryWorker": kind["celery_worker"],
        "workers.celery.CeleryWorker": kind["celery_worker"],
        "celery.CeleryBeat": kind["celery_beat"],
        "workers.celery.CeleryBeat": kind["celery_beat"],
        "celery.CeleryFlower": kind["celery_flower"],
        "workers.celery.CeleryFlower": kind["celery_flower"],
        "servers.flower.CeleryFlower": kind["celery_flower"],
        "django_tasks.DjangoTasksWorker": kind["tasks"],
        "workers.django_tasks.DjangoTasksWorker": kind["tasks"],
        "django_q2.DjangoQ2Worker": kind["q2"],
        "workers.django_q2.DjangoQ2Worker": kind["q2"],
        "django_runserver.DjangoRunserver": kind["runserver"],
        "dev.django_runserver.DjangoRunserver": kind["runserver"],
        "daphne.DaphneRunserver": kind["daphne_dev"],
        "dev.daphne.DaphneRunserver": kind["daphne_dev"],
        "werkzeug.WerkzeugRunserver": kind["werkzeug"],
        "werkzeug.RunserverPlus": kind["werkzeug"],
        "dev.werkzeug.WerkzeugRunserver": kind["werkzeug"],
        "dev.werkzeug.RunserverPlus": kind["werkzeug"],
    }
    return {PREFIX + path: target for path, target in table.items()}


#: django-prodserver class path -> what it becomes
TARGETS: Mapping[str, Target] = _targets()
