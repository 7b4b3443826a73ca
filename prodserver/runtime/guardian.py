"""The guardian: makes sure nothing outlives prodserver, even when it is killed with SIGKILL.

The parent-death signal kills each child prodserver started, but not the child's own children
(it is not inherited across fork), macOS has no such signal at all, and a daemon that left
its group is out of reach of a group kill. So before anything starts, prodserver starts a tiny
guardian: a separate Python (``python -I -S``) running :mod:`prodserver.runtime.tree`, which
imports nothing of prodserver, in a session of its own, blocked reading one pipe. prodserver
writes each new process group to the pipe. If the pipe reaches end-of-file without a goodbye,
prodserver died: the guardian kills every group it was told about, then every process of the
run found outside them (by session, or by this run's ``PRODSERVER_RUN`` token in its
environment: double-forked daemons included), and exits.

It is a program of its own rather than a fork of prodserver: a fork shares memory with
prodserver only until either writes to it, and prodserver keeps writing, so a forked guardian
slowly became a second copy (about 3 MiB of PSS more than this one with 8 children).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from prodserver.runtime.tree import RUN_TOKEN_VAR

__all__ = ["RUN_TOKEN_VAR", "Guardian", "start_guardian"]


@dataclass
class Guardian:
    """prodserver's end of the guardian's pipe."""

    pid: int
    fd: int
    token: str
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

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
    """Start the guardian; None where it cannot work (no ``fork``: Windows).

    ``portable``: it reads the process table with psutil rather than ``/proc``.
    """
    if not hasattr(os, "fork") or not sys.executable:
        return None  # Windows (a Job Object does this work), or an embedded interpreter
    # os.urandom, not the secrets module: same bytes, 4 ms less start-up (secrets imports
    # hashlib, base64 and random)
    token = os.urandom(8).hex()
    use_proc = not portable and os.path.isdir("/proc/self")
    read_fd, write_fd = os.pipe()
    program = Path(__file__).with_name("tree.py")
    argv = [str(read_fd), "proc" if use_proc else "psutil"]
    if not use_proc:
        argv.append(_psutil_path())
    try:
        popen = subprocess.Popen(
            [sys.executable, "-I", "-S", str(program), *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(read_fd,),
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
    """The directory psutil is imported from (the guardian runs without site-packages)."""
    from importlib.machinery import PathFinder

    spec = PathFinder.find_spec("psutil")
    locations = spec.submodule_search_locations if spec is not None else None
    return str(Path(next(iter(locations))).parent) if locations else ""
