"""ASGI entry point (what django-prodserver's UvicornServer served)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacyshop.settings")
application = get_asgi_application()
