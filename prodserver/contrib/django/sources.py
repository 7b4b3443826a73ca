"""Which configuration a Django project uses: a file when there is one, else its settings.

A ``prodserver.toml`` (or ``[tool.prodserver]``, or a Procfile) found the usual way always wins.
Only when discovery finds nothing, and neither ``--file`` nor ``$PRODSERVER_FILE`` names a
file, does django-prodserver's ``PRODUCTION_PROCESSES`` setting become the source.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prodserver.config.sources import FILE_ENV, RawSource, discover
from prodserver.errors import ConfigError


def settings_source() -> RawSource | None:
    """``PRODUCTION_PROCESSES`` of the configured settings as a validated source, or None."""
    from django.conf import settings

    from prodserver.config.django_source import source_from_settings
    from prodserver.schema.validate import validate_file

    source = source_from_settings(settings)
    if source is not None:
        validate_file(source)
    return source


def has_file(
    file: Path | None = None, cwd: Path | None = None, environ: Mapping[str, str] | None = None
) -> bool:
    """Whether a configuration file is named or found (an explicit name counts even if absent)."""
    env = os.environ if environ is None else environ
    if file is not None or env.get(FILE_ENV):
        return True
    try:
        discover(None, cwd, env)
    except ConfigError:
        return False
    return True


def load_source(
    file: Path | None = None, cwd: Path | None = None, environ: Mapping[str, str] | None = None
) -> RawSource:
    """Like :func:`prodserver.config.resolve.load_source`, with the settings as the fallback."""
    from prodserver.config import resolve

    if not has_file(file, cwd, environ):
        source = settings_source()
        if source is not None:
            return source
    original: Callable[..., RawSource] = _ORIGINAL.get("load_source", resolve.load_source)
    return original(file, cwd, environ)


_ORIGINAL: dict[str, Any] = {}


@contextmanager
def settings_fallback() -> Iterator[None]:
    """Resolve with the settings as the fallback source for the duration of one command.

    The command modules load their configuration through
    :func:`prodserver.config.resolve.load_source`; swapping that one function for the
    duration of a management command gives every command the fallback without a Django
    branch in the CLI. (A fallback hook in ``resolve`` itself would make this unnecessary.)
    """
    from prodserver.config import resolve

    if "load_source" in _ORIGINAL:  # nested use (call_command inside a command)
        yield
        return
    _ORIGINAL["load_source"] = resolve.load_source
    resolve.load_source = load_source
    try:
        yield
    finally:
        resolve.load_source = _ORIGINAL.pop("load_source")
