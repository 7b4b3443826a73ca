"""A Django project configured the django-prodserver way, before migrating to prodserver.

Only the settings matter here: ``prodserver init --from-django`` reads PRODUCTION_PROCESSES.
"""

import os

SECRET_KEY = os.environ.get("SECRET_KEY", "example-only-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "prodserver"]
ROOT_URLCONF = "shop.urls"
WSGI_APPLICATION = "shop.wsgi.application"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
USE_TZ = True

# django-prodserver's setting: one entry per process, BACKEND a dotted path of its backends.
PRODUCTION_PROCESSES = {
    "web": {
        "BACKEND": "django_prodserver.backends.servers.gunicorn.GunicornServer",
        "ARGS": {"bind": "0.0.0.0:8000", "workers": "3", "max-requests": "1000"},
    },
    "worker": {
        "BACKEND": "django_prodserver.backends.workers.celery.CeleryWorker",
        "APP": "shop.celery.app",
        "ARGS": {"concurrency": "4", "queues": "default,mail"},
    },
}
