"""What ``prodserver.toml`` may say, declared once: its keys, their types and defaults.

The JSON schema (``schema/``), the reference docs, the resolver's validation (``config/``) and the
backends' argv all come from these declarations and from :mod:`prodserver.options`, the type
they are written in. Nothing here imports ``config``, ``schema`` or ``backends``: those import
this package, and not each other, for what the file may hold.
"""
