"""Every check of a configuration beyond its schema, in one place.

- :mod:`.installed`: backend packages and programs a process needs (``check``, ``up``);
- :mod:`.root`: the root rule of production profiles (``up``, ``exec``, ``run``);
- :mod:`.prestart`: what would make ``up`` fail in its first seconds, found first (``check
  --deploy`` and ``up``): free ports (:mod:`.ports`), reachable brokers and databases
  (:mod:`.services`), required variables, Django's ``check --deploy`` (:mod:`.deploy`);
- :mod:`.django_system`: the Django system checks of ``manage.py check`` (imports Django).

The schema's own checks are :mod:`prodserver.schema.validate`; the resolver's are part of
resolution. Only this package opens sockets or runs programs to check something.
"""
