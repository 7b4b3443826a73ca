"""Every exit code prodserver returns, named in one place.

The README's "Exit codes" table is written from this module; a test keeps them in step.
Codes of a child that stopped everything are passed through unchanged (``up`` exits with the
code of the process that ended the run, 128+N when a signal killed it), so prodserver's own codes
sit where a well-behaved child rarely lands.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of the ``prodserver`` command."""

    OK = 0
    #: a process failed, a check found problems, or a one-off command failed (generic failure)
    FAILURE = 1
    #: the command line itself was wrong (unknown option, missing argument)
    USAGE = 2
    #: the configuration could not be read, resolved or validated
    CONFIG = 78  # EX_CONFIG from sysexits.h
    #: a backend's package is not installed, or an executable was not found
    UNAVAILABLE = 69  # EX_UNAVAILABLE
    #: an output file could not be written (exists, unsafe path, permissions)
    CANTCREAT = 73  # EX_CANTCREAT
    #: a process could not be started at all (exec failed)
    SPAWN = 71  # EX_OSERR
    #: an unexpected internal error: a bug in prodserver, please report it (run with --debug)
    INTERNAL = 70  # EX_SOFTWARE
    #: a graceful stop was asked for but a process had to be killed after its grace period
    FORCED_STOP = 79
    #: ``prodserver status`` found no running supervisor
    NOT_RUNNING = 3
    #: interrupted before anything was started (Ctrl-C during resolution)
    INTERRUPTED = 130


#: each code in a few words, in the order ``prodserver --help`` lists them
SUMMARY: dict[ExitCode, str] = {
    ExitCode.OK: "ok",
    ExitCode.FAILURE: "failure",
    ExitCode.USAGE: "usage error",
    ExitCode.NOT_RUNNING: "no supervisor running",
    ExitCode.UNAVAILABLE: "backend package missing",
    ExitCode.INTERNAL: "internal error",
    ExitCode.SPAWN: "a process could not be started",
    ExitCode.CANTCREAT: "output file not written",
    ExitCode.CONFIG: "configuration error",
    ExitCode.FORCED_STOP: "stopped by force after the grace period",
    ExitCode.INTERRUPTED: "interrupted",
}


def summary() -> str:
    """``0 ok, 1 failure, ...``: every exit code in one line of text (``--help`` shows it)."""
    return ", ".join(f"{int(code)} {text}" for code, text in SUMMARY.items())


def signal_exit_code(signum: int) -> int:
    """The shell convention for a process killed by a signal: 128 + N."""
    return 128 + signum
