"""The ``command`` backend: any program, given as an argv (or a string split into one)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prodserver.backends.base import Backend, BackendContext, Option


class CommandBackend(Backend):
    name = "command"
    summary = "Any program: `command` as an array, or a string split into words (no shell)."
    kind = "command"
    # Any program may listen: like foreman and honcho, every plain command gets a PORT.
    listens = True
    # stop: the default SIGTERM, but to the whole group: a plain command is often a script or a
    # wrapper whose children must stop with it.
    kill_mode = "group"
    options = (
        Option(
            "command",
            "argv",
            "The program and its arguments. A string is split into words like a shell would, "
            "but never run by one (set `shell = true` for that); each word is substituted after "
            "splitting, so a variable can never add arguments.",
            required=True,
            examples=('["python", "manage.py", "migrate"]', '"python worker.py --queue high"'),
        ),
    )

    def argv(self, values: Mapping[str, Any], ctx: BackendContext) -> list[str]:
        return [str(word) for word in values["command"]]
