"""A project configured the django-prodserver 3.x way, as its documentation shows.

The processes are started with `python manage.py server web`, `python manage.py worker worker`
(and the 2.x form `python manage.py prodserver web`); `"prodserver"` replaced
`"django_prodserver"` in INSTALLED_APPS, nothing else changed.
"""

import os

SECRET_KEY = os.environ.get("SECRET_KEY", "tests-only-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "prodserver"]
ROOT_URLCONF = "legacyshop.urls"
WSGI_APPLICATION = "legacyshop.wsgi.application"
ASGI_APPLICATION = "legacyshop.asgi.application"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
USE_TZ = True

PRODUCTION_PROCESSES = {
    "web": {
        "BACKEND": "django_prodserver.backends.servers.gunicorn.GunicornServer",
        "ARGS": {
            "bind": "0.0.0.0:8000",
            "workers": "4",
            "worker-class": "uvicorn.workers.UvicornWorker",
            "access-logfile": "-",
            "log-level": "INFO",
        },
    },
    "api": {
        "BACKEND": "django_prodserver.backends.servers.uvicorn.UvicornServer",
        "ARGS": {"host": "0.0.0.0", "port": "8001", "workers": "2"},
    },
    "worker": {
        "BACKEND": "django_prodserver.backends.workers.celery.CeleryWorker",
        "APP": "legacyshop.celery.app",
        "ARGS": {"concurrency": "4", "loglevel": "INFO", "queues": "default,mail"},
    },
    "beat": {
        "BACKEND": "django_prodserver.backends.workers.celery.CeleryBeat",
        "APP": "legacyshop.celery.app",
        "ARGS": {"loglevel": "WARNING"},
    },
    "tasks": {
        "BACKEND": "django_prodserver.backends.workers.django_tasks.DjangoTasksWorker",
        "ARGS": "--queue-name default",
    },
}
