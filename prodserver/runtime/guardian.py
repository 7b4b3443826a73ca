"""The guardian: makes sure nothing outlives prodserver, even when it is killed with SIGKILL.

The parent-death signal kills each child prodserver started, but not the child's own children
(it is not inherited across fork), macOS has no such signal at all, and a daemon that left
its group is out of reach of a group kill. So before anything starts, prodserver starts a
guardian in a session of its own: a POSIX shell (:data:`WAITER`) blocked reading one pipe.
prodserver writes this run's token and each new process group to the pipe. If the pipe
reaches end-of-file without a goodbye, prodserver died: the shell replaces itself with
``python -I -S`` running :mod:`prodserver.runtime.tree` (which imports nothing of prodserver),
and that kills every group it was told about, then every process of the run found outside
them (by session, or by this run's ``PRODSERVER_RUN`` token in its environment: double-forked
daemons included), and exits.

Waiting costs a shell's memory (about 0.2 MiB of PSS); Python starts only when there is
something to kill. A forked copy of prodserver, the earlier guardian, shared its pages only
until either process wrote to them, and cost about 10 MiB of PSS with 8 children.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

from prodserver.runtime.tree import GUARD_GROUPS_VAR, GUARD_TOKEN_VAR, RUN_TOKEN_VAR

__all__ = ["RUN_TOKEN_VAR", "WAITER", "Guardian", "start_guardian"]

#: the guardian while prodserver lives: it keeps the groups in a variable (``+PGID`` adds one,
#: ``-PGID`` removes it: an id is reused once its group is empty), leaves on ``bye``, and on
#: end-of-file execs the killer (its arguments) with the token and the groups in its
#: environment, where other users cannot read them, unlike a command line
WAITER = f"""
trap '' INT HUP TERM
groups=' '
token=''
while IFS= read -r line; do
  case $line in
    bye) exit 0 ;;
    =*) token=${{line#=}} ;;
    +*) groups="$groups${{line#+}} " ;;
    -*) g=${{line#-}}
        case $groups in *" $g "*) groups="${{groups%%" $g "*}} ${{groups#*" $g "}}" ;; esac ;;
  esac
done
export {GUARD_TOKEN_VAR}="$token" {GUARD_GROUPS_VAR}="$groups"
exec "$@"
"""


class Guardian:
    """prodserver's end of the guardian's pipe."""

    def __init__(
        self,
        pid: int,
        fd: int,
        token: str,
        env: dict[str, str] | None = None,
        popen: subprocess.Popen[bytes] | None = None,
    ) -> None:
        self.pid = pid
        self.fd = fd
        self.token = token
        #: what every child's environment gets (the run's token)
        self.env = env if env is not None else {}
        self.popen = popen

    def _send(self, text: str) -> None:
        with contextlib.suppress(OSError):
            os.write(self.fd, text.encode())

    def watch(self, pgid: int) -> None:
        """Tell the guardian about a new process group."""
        self._send(f"+{pgid}\n")

    def forget(self, pgid: int) -> None:
        """A process group is empty: the guardian must not kill its (reused) id later."""
        self._send(f"-{pgid}\n")

    def abandon(self) -> None:
        """prodserver is failing: close the pipe without a goodbye, so the guardian kills
        every group it was told about and every process carrying the run token."""
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self._wait()

    def close(self) -> None:
        """prodserver is exiting normally: dismiss the guardian."""
        self._send("bye\n")
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self._wait()

    def _wait(self) -> None:
        try:
            _pid, status = os.waitpid(self.pid, 0)
        except (ChildProcessError, OSError):
            status = 0  # the supervisor's reaping collected it already
        if self.popen is not None:
            self.popen.returncode = os.waitstatus_to_exitcode(status)


def start_guardian(*, portable: bool = False) -> Guardian | None:
    """Start the guardian; None where it cannot work (Windows, no ``/bin/sh``).

    ``portable``: its killer reads the process table with psutil rather than ``/proc``.
    """
    shell = "/bin/sh"
    if not hasattr(os, "fork") or not os.path.exists(shell) or not sys.executable:
        return None  # Windows (a Job Object does this work), or an embedded interpreter
    # os.urandom, not the secrets module: same bytes, 4 ms less start-up (secrets imports
    # hashlib, base64 and random)
    token = os.urandom(8).hex()
    use_proc = not portable and os.path.isdir("/proc/self")
    killer = [sys.executable, "-I", "-S", str(Path(__file__).with_name("tree.py"))]
    killer.append("proc" if use_proc else "psutil")
    if not use_proc:
        killer.append(_psutil_path())
    read_fd, write_fd = os.pipe()
    try:
        popen = subprocess.Popen(
            [shell, "-c", WAITER, "prodserver-guardian", *killer],
            stdin=read_fd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # out of prodserver's group: a Ctrl-C is not for it
            env={},
        )
    except OSError:
        os.close(write_fd)
        return None  # the children get a parent-death signal instead (Linux)
    finally:
        os.close(read_fd)
    guardian = Guardian(popen.pid, write_fd, token, {RUN_TOKEN_VAR: token}, popen)
    guardian._send(f"={token}\n")
    return guardian


def _psutil_path() -> str:
    """The directory psutil is imported from (the killer runs without site-packages)."""
    from importlib.machinery import PathFinder

    spec = PathFinder.find_spec("psutil")
    locations = spec.submodule_search_locations if spec is not None else None
    return str(Path(next(iter(locations))).parent) if locations else ""
