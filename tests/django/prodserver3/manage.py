#!/usr/bin/env python
"""manage.py of a project set up for django-prodserver 3.x (`manage.py server web`)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacyshop.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
