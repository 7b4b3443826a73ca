"""WSGI entry point (what django-prodserver's GunicornServer served)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacyshop.settings")
application = get_wsgi_application()
