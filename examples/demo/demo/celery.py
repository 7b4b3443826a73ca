"""The Celery application (``celery -A demo`` finds it here)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")

app = Celery("demo", include=["visits.celery_tasks"])
app.config_from_object("django.conf:settings", namespace="CELERY")
