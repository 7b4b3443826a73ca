"""Which configuration a Django project uses: a file when there is one, else its settings.

A ``prodserver.toml`` (or ``[tool.prodserver]``, or a Procfile) found the usual way always wins.
Only when discovery finds nothing, and neither ``--file`` nor ``$PRODSERVER_FILE`` names a
file, does django-prodserver's ``PRODUCTION_PROCESSES`` setting become the source.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

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


@contextmanager
def settings_fallback() -> Iterator[None]:
    """Resolve with the settings as the fallback source for the duration of one command."""
    from prodserver.config.resolve import add_source_fallback

    remove = add_source_fallback(settings_source)
    try:
        yield
    finally:
        remove()
