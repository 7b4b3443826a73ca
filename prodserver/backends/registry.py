"""Where backends are found: the built-ins and the ``prodserver.backends`` entry-point group.

Built-ins are listed by dotted path and imported on first use, so that ``prodserver --help``
imports none of them. Third-party distributions register a
:class:`~prodserver.backends.base.Backend` subclass (or an instance) under the
``prodserver.backends`` entry-point group, exactly like the built-ins are registered here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache

from prodserver import codes
from prodserver.backends.base import Backend, BackendInfo
from prodserver.errors import ConfigError

ENTRY_POINT_GROUP = "prodserver.backends"

#: name -> "module:attribute" of every built-in backend
BUILTINS: Mapping[str, str] = {
    "command": "prodserver.backends.command:CommandBackend",
    "gunicorn": "prodserver.backends.gunicorn:GunicornBackend",
    "uvicorn": "prodserver.backends.uvicorn:UvicornBackend",
    "granian": "prodserver.backends.granian:GranianBackend",
    "hypercorn": "prodserver.backends.hypercorn:HypercornBackend",
    "daphne": "prodserver.backends.daphne:DaphneBackend",
    "waitress": "prodserver.backends.waitress:WaitressBackend",
    "runserver": "prodserver.backends.runserver:RunserverBackend",
    "celery-worker": "prodserver.backends.celery_worker:CeleryWorkerBackend",
    "celery-beat": "prodserver.backends.celery_beat:CeleryBeatBackend",
    "celery-flower": "prodserver.backends.celery_flower:CeleryFlowerBackend",
    "rq-worker": "prodserver.backends.rq_worker:RQWorkerBackend",
    "rq-scheduler": "prodserver.backends.rq_scheduler:RQSchedulerBackend",
    "dramatiq": "prodserver.backends.dramatiq:DramatiqBackend",
    "django-tasks": "prodserver.backends.django_tasks:DjangoTasksBackend",
    "django-q2": "prodserver.backends.django_q2:DjangoQ2Backend",
}


def _instantiate(obj: object, where: str) -> Backend:
    if isinstance(obj, type) and issubclass(obj, Backend):
        return obj()
    if isinstance(obj, Backend):
        return obj
    raise ConfigError(
        f"{where} is not a prodserver backend (expected a Backend subclass, got {obj!r})",
        code=codes.PLUGIN_NOT_A_BACKEND,
    )


def _load(target: str) -> Backend:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return _instantiate(getattr(module, attr), target)


@cache
def registry() -> Mapping[str, BackendInfo]:
    """Every known backend by name: built-ins first, then plugins (which may not shadow them)."""
    found: dict[str, BackendInfo] = {}
    for name in BUILTINS:
        found[name] = BackendInfo(_builtin(name), origin="built-in")
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in found:
            continue  # a plugin never replaces a built-in of the same name
        dist = ep.dist.name if ep.dist is not None else "unknown distribution"
        try:
            backend = _instantiate(ep.load(), f"entry point {ep.name!r} ({ep.value})")
        except ConfigError:
            raise
        except Exception as exc:  # a broken plugin must not break every command
            raise ConfigError(
                f"the backend plugin {ep.name!r} from {dist} failed to load: {exc}",
                hint=f"fix or uninstall {dist}",
                code=codes.PLUGIN_IMPORT_FAILED,
            ) from exc
        found[ep.name] = BackendInfo(backend, origin=dist)
    return found


@cache
def _builtin(name: str) -> Backend:
    return _load(BUILTINS[name])


def get_backend(name: str) -> Backend:
    """The backend called ``name``; a :class:`ConfigError` with a suggestion when unknown.

    A built-in is imported alone; installed plugins are looked up only for other names.
    """
    if name in BUILTINS:
        return _builtin(name)
    known = registry()
    if name in known:
        return known[name].backend
    from prodserver.suggest import did_you_mean

    hint = did_you_mean(name, known) or "known backends: " + ", ".join(known)
    raise ConfigError(f"unknown backend {name!r}", hint=hint, code=codes.UNKNOWN_BACKEND)
