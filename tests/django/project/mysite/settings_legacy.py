"""The same project configured the django-prodserver way."""

from mysite.settings import *  # noqa: F403

PRODUCTION_PROCESSES = {
    "web": {
        "BACKEND": "django_prodserver.backends.servers.gunicorn.GunicornServer",
        "ARGS": {"bind": "0.0.0.0:8111", "workers": "2"},
    },
    "worker": {
        "BACKEND": "django_prodserver.backends.workers.celery.CeleryWorker",
        "APP": "mysite.celery.app",
        "ARGS": {"concurrency": "4"},
    },
}
