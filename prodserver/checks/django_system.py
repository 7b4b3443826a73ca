"""Django system checks: ``manage.py check`` reports a bad configuration before anything starts.

- ``prodserver.E001`` (Error): the configuration cannot be read, validated or resolved; one
  message per problem, each with its file, line and key path.
- ``prodserver.W001`` (Warning): a backend's package is not installed; the hint names the extra.
- ``prodserver.W002`` (Warning): the processes come from the deprecated ``PRODUCTION_PROCESSES``.
- ``prodserver.W003`` (Warning): ``PRODUCTION_PROCESSES`` is set but a configuration file wins.
- ``prodserver.W009`` (Warning): the check itself failed unexpectedly (a bug; Django goes on).
- ``prodserver.I001`` (Info): there is no configuration yet.

Every profile is checked in export mode, so that a variable only the production environment
sets (``${SECRET_KEY:?...}``) is not reported on a developer's machine. Missing packages are
reported for the profile that would run by default only: a developer does not need gunicorn
installed to run the ``dev`` profile.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.core import checks

from prodserver.errors import ConfigError, Problem

TAG = "prodserver"
#: set while ``manage.py prodserver`` runs Django's checks: the command reports configuration
#: problems itself, with its documented exit codes
_SUPPRESSED: contextvars.ContextVar[bool] = contextvars.ContextVar("suppressed", default=False)


@contextmanager
def suppressed() -> Iterator[None]:
    """Skip these checks (Django's own still run) inside ``manage.py prodserver``."""
    token = _SUPPRESSED.set(True)
    try:
        yield
    finally:
        _SUPPRESSED.reset(token)


def check_configuration(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[Any]:
    """The registered check: never raises, whatever the configuration holds."""
    if _SUPPRESSED.get():
        return []
    try:
        return list(_messages())
    except Exception as exc:  # a check must never take manage.py down with it
        return [
            checks.Warning(
                f"prodserver could not check its configuration: {type(exc).__name__}: {exc}",
                hint="this is a bug in prodserver; `manage.py prodserver check --debug` shows "
                "a traceback, please report it",
                id="prodserver.W009",
            )
        ]


def _messages() -> Iterator[Any]:
    from django.conf import settings

    from prodserver.config.django_source import SETTING
    from prodserver.contrib.django.sources import has_file, settings_source
    from prodserver.schema.validate import validate_file

    file_exists = has_file()
    has_setting = getattr(settings, SETTING, None) is not None
    if not file_exists and not has_setting:
        yield checks.Info(
            "prodserver has no configuration yet",
            hint="run `python manage.py prodserver init` to write a prodserver.toml",
            id="prodserver.I001",
        )
        return
    if file_exists and has_setting:
        yield checks.Warning(
            f"{SETTING} is ignored: the configuration file is used",
            hint=f"remove {SETTING} from the settings (`prodserver init --from-django` "
            "translates it)",
            id="prodserver.W003",
        )
    try:
        if file_exists:
            from prodserver.config.resolve import load_source

            source = load_source()
        else:
            found = settings_source()
            assert found is not None  # has_setting
            source = found
            validate_file(source)
    except ConfigError as exc:
        yield from _errors(exc)
        return
    if source.kind == "django":
        yield checks.Warning(
            f"the processes are configured by django-prodserver's {SETTING}, which is deprecated",
            hint="run `python manage.py prodserver init --from-django` to write the equivalent "
            f"prodserver.toml, then remove {SETTING}",
            obj=str(source.path),
            id="prodserver.W002",
        )
    yield from _resolved(source)


def _resolved(source: Any) -> Iterator[Any]:
    from prodserver.checks.installed import backend_problems
    from prodserver.config.merge import profile_names
    from prodserver.config.resolve import resolve_with_provenance

    seen: set[str] = set()
    for profile in [None, *profile_names(source)]:
        try:
            resolve_with_provenance(profile=profile, source=source, for_export=True)
        except ConfigError as exc:
            for message in _errors(exc):
                if message.msg not in seen:
                    seen.add(message.msg)
                    yield message
    if seen:
        return
    try:
        project, _ = resolve_with_provenance(source=source, for_export=True)
    except ConfigError:  # the default profile comes from the environment; reported above
        return
    for problem in backend_problems(project):
        yield checks.Warning(
            problem.message,
            hint=problem.hint,
            obj=f"profile {project.profile}",
            id="prodserver.W001",
        )


def _errors(exc: ConfigError) -> Iterator[Any]:
    for problem in exc.problems:
        if problem.severity != "error":
            continue
        yield checks.Error(
            _text(problem),
            hint=problem.hint or "`python manage.py prodserver check` shows the details",
            id="prodserver.E001",
        )


def _text(problem: Problem) -> str:
    where = problem.location.render()
    return f"{where}: {problem.message} [{problem.code}]" if where else problem.message
