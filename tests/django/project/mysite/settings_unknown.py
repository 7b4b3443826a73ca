"""PRODUCTION_PROCESSES with a backend django-prodserver never shipped."""

from mysite.settings import *  # noqa: F403

PRODUCTION_PROCESSES = {
    "web": {"BACKEND": "myproject.backends.CustomServer", "ARGS": {}},
}
