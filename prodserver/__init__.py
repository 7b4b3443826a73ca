"""prodserver: one declarative file for every process a Python or Django app runs."""

__version__ = "0.1.0"

__all__ = ["__version__"]
