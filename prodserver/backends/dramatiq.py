"""The ``dramatiq`` backend: ``dramatiq BROKER [MODULE...]``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prodserver.backends.base import Backend, BackendContext, Option
from prodserver.backends.common import declared_argv, int_millis, positional


class DramatiqBackend(Backend):
    name = "dramatiq"
    summary = "Dramatiq workers (dramatiq BROKER_MODULE ACTOR_MODULE... --processes N)."
    kind = "worker"
    extra = "dramatiq"
    requires = ("dramatiq",)
    # stop: the default SIGTERM to the main process is right: dramatiq's main process turns it
    # into a graceful stop of its worker processes (they finish the messages in hand, up to
    # worker_shutdown_timeout). The workers ignore SIGINT and are managed by the main process.
    options = (
        Option(
            "broker",
            "string",
            "Module that sets up the broker (`module` or `module:attribute`); importing it "
            "must also import the actors, or list them in `modules`.",
            required=True,
            positional=True,
            examples=("shop.tasks", "shop.dramatiq:broker"),
        ),
        Option(
            "modules",
            "list",
            "More modules to import (where actors are declared).",
            positional=True,
        ),
        Option(
            "path",
            "list",
            "Directories added to the import path (default: the working directory).",
            flag="--path",
        ),
        Option("queues", "list", "Only consume these queues (default: all).", flag="--queues"),
        Option(
            "processes", "integer", "Worker processes (default 2).", flag="--processes", minimum=1
        ),
        Option(
            "threads",
            "integer",
            "Threads per worker process (default 8).",
            flag="--threads",
            minimum=1,
        ),
        Option(
            "worker_shutdown_timeout",
            "duration",
            "Time workers get to finish their messages on stop. Keep it below `stop_timeout`.",
            flag="--worker-shutdown-timeout",
            minimum=0,
        ),
        Option("pid_file", "string", "Write the main process's PID here.", flag="--pid-file"),
        Option(
            "log_file", "string", "Write logs here instead of standard error.", flag="--log-file"
        ),
        Option("skip_logging", "boolean", "Do not configure logging.", flag="--skip-logging"),
        Option(
            "use_spawn",
            "boolean",
            "Start worker processes by spawning, not forking.",
            flag="--use-spawn",
        ),
        Option("verbose", "boolean", "Verbose logging.", flag="--verbose"),
    )

    def argv(self, values: Mapping[str, Any], ctx: BackendContext) -> list[str]:
        broker = positional("broker", values["broker"])
        modules = [positional("modules", m) for m in values.get("modules") or ()]
        # --path and --queues take every following word (argparse nargs="*"), so the broker
        # and modules come first; anything appended through `args` must be flags.
        flags = declared_argv(
            self,
            values,
            skip=("broker", "modules"),
            convert={"worker_shutdown_timeout": int_millis},
        )
        return ["dramatiq", broker, *modules, *_close_greedy(flags)]


def _close_greedy(flags: list[str]) -> list[str]:
    """Group the repeated ``--path``/``--queues`` words into one flag each (``--queues a b``).

    Dramatiq's flags take all the following words, and a repeated flag replaces the earlier
    one: ``--queues a --queues b`` would consume ``b`` only.
    """
    out: list[str] = []
    greedy: dict[str, list[str]] = {}
    i = 0
    while i < len(flags):
        word = flags[i]
        if word in ("--path", "--queues"):
            greedy.setdefault(word, []).append(flags[i + 1])
            i += 2
            continue
        out.append(word)
        i += 1
    grouped: list[str] = []
    for flag, items in greedy.items():
        grouped += [flag, *items]
    return out + grouped
