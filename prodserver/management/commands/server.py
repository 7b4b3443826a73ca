"""django-prodserver 3.x's ``manage.py server NAME``: ``manage.py prodserver exec NAME`` now.

Kept so that scripts, Procfiles and Dockerfiles written for django-prodserver keep working;
it prints a one-line deprecation notice naming the new form.
"""

from __future__ import annotations

from prodserver.management.commands.prodserver import Command as ProdserverCommand


class Command(ProdserverCommand):
    help = "deprecated (django-prodserver): use `manage.py prodserver exec NAME`"
