"""The defaults and bounds the file's keys are declared with, each written once."""

from __future__ import annotations

#: the grace period between the stop signal and SIGKILL unless a process sets ``stop_timeout``
DEFAULT_STOP_TIMEOUT = 10.0
#: the first automatically assigned port unless ``--port``, the shell's PORT or ``base_port``
DEFAULT_BASE_PORT = 5000
#: the most instances of one process (the schema's maximum for ``scale``)
MAX_SCALE = 1000
