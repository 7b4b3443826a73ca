"""prodserver inside a Django project: ``"prodserver"`` in ``INSTALLED_APPS``.

That gives ``python manage.py prodserver <command>`` (the same commands and options as the
``prodserver`` CLI, see :mod:`.command`), system checks that report a bad configuration
before anything starts (:mod:`.checks`), and django-prodserver's ``PRODUCTION_PROCESSES``
setting as a fallback configuration source (:mod:`.sources`).

Nothing here is imported by ``prodserver`` itself: only Django loads it.
"""
