"""The Django app config of ``"prodserver"``: registers the system checks."""

from __future__ import annotations

from django.apps import AppConfig


class ProdserverConfig(AppConfig):  # type: ignore[misc]  # Django ships no type hints
    """``"prodserver"`` in ``INSTALLED_APPS``: the management command and the system checks."""

    name = "prodserver"
    label = "prodserver"
    verbose_name = "prodserver"
    default = True

    def ready(self) -> None:
        from django.core import checks

        from prodserver.checks.django_system import TAG, check_configuration

        checks.register(check_configuration, TAG)
