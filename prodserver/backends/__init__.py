"""Backends: typed option declarations turned into argv. See :mod:`prodserver.backends.base`."""
