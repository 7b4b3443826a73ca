"""Lets Django find the app config of ``"prodserver"`` in ``INSTALLED_APPS``."""

from prodserver.contrib.django.apps import ProdserverConfig

__all__ = ["ProdserverConfig"]
