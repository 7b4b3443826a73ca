"""The job for RQ. An RQ worker does not set Django up, so importing this module does."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
django.setup()

from visits import core  # noqa: E402 - needs the app registry set up above


def record_visit(source: str, work: int = 0) -> int:
    return core.record_visit(source, work)
