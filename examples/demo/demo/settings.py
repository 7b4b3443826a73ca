"""Settings of the demo project. Everything that differs between machines comes from the
environment, with defaults that run on a laptop with nothing but SQLite.

- ``DEMO_DB_PATH``: the SQLite file (default ``var/demo.sqlite3`` next to manage.py)
- ``REDIS_URL``: the broker of Celery, RQ and Dramatiq (default ``redis://127.0.0.1:6379/0``)
- ``DJANGO_DEBUG``, ``SECRET_KEY``, ``DJANGO_ALLOWED_HOSTS``
"""

import os
from importlib.util import find_spec
from pathlib import Path

import django

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
SECRET_KEY = os.environ.get("SECRET_KEY", "demo-only-not-secret")
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "visits",
]
# The task frameworks are optional: the demo runs with whichever ones are installed, so that
# `pip install 'prodserver[demo]'` (Django + django-tasks) is enough for the dev profile.
if find_spec("django_tasks"):
    INSTALLED_APPS.append("django_tasks")
if find_spec("django_tasks_db"):
    INSTALLED_APPS.append("django_tasks_db")
if find_spec("django_q"):
    INSTALLED_APPS.append("django_q")
if find_spec("channels"):
    INSTALLED_APPS.append("channels")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "demo.urls"
WSGI_APPLICATION = "demo.wsgi.application"
ASGI_APPLICATION = "demo.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": []},
    }
]

# var/ holds what the processes write (database, beat schedule); it is git-ignored
(BASE_DIR / "var").mkdir(exist_ok=True)
DB_PATH = Path(os.environ.get("DEMO_DB_PATH", BASE_DIR / "var" / "demo.sqlite3"))
DB_PATH.parent.mkdir(parents=True, exist_ok=True)
_sqlite_options: dict[str, object] = {"timeout": 20}
if django.VERSION >= (5, 1):
    # Several processes (web, workers) write to one file: WAL lets readers and the writer
    # proceed together, and IMMEDIATE transactions wait for the lock instead of failing.
    _sqlite_options["init_command"] = "PRAGMA journal_mode=WAL;"
    _sqlite_options["transaction_mode"] = "IMMEDIATE"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DB_PATH,
        "OPTIONS": _sqlite_options,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

# django-tasks: the database backend needs no server (the dev profile's worker)
if find_spec("django_tasks_db"):
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Celery (demo/celery.py reads the CELERY_* names)
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "record-visit": {
        "task": "visits.celery_tasks.record_visit",
        "schedule": float(os.environ.get("DEMO_BEAT_INTERVAL", "60")),
        "args": ("celery-beat",),
    }
}

# Django Q2: the ORM broker keeps it server-free too
Q_CLUSTER = {
    "name": "demo",
    "orm": "default",
    "workers": 1,
    "timeout": 30,
    "retry": 60,
    "poll": 0.2,
    "catch_up": False,
}

# Channels: an in-memory layer is enough for one process
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
}
