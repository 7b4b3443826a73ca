"""The guardian: makes sure nothing outlives prodserver, even when it is killed with SIGKILL.

The parent-death signal kills each child prodserver started, but not the child's own children
(it is not inherited across fork), macOS has no such signal at all, and a daemon that left
its group is out of reach of a group kill. So before anything starts, prodserver starts a
guardian in a session of its own: a POSIX shell (:data:`WAITER`) blocked reading one pipe.
prodserver writes this run's token to the pipe, and each new process group where the killer
will find it (:class:`Guardian`). If the pipe reaches end-of-file without a goodbye,
prodserver died: the shell replaces itself with ``python -I -S`` running
:mod:`prodserver.runtime.tree` (which imports nothing of prodserver), and that kills every
group it was told about, then every process of the run found outside them (by session, or by
this run's ``PRODSERVER_RUN`` token in its environment: double-forked daemons included), and
exits.

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

from prodserver.runtime.tree import GUARD_GROUPS_VAR, GUARD_TOKEN_VAR, RUN_TOKEN_VAR, SLOT_SIZE

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
    """prodserver's end of the guardian's pipe, and of its table of process groups.

    Where the system has ``memfd_create`` (Linux), the live groups are kept in a table the
    guardian shares without reading it while prodserver lives (``slots``: an anonymous file,
    one 8-byte slot per group, 0 for a free one; the killer reads it once prodserver died).
    Telling it about a group is then one ``pwrite`` that wakes nobody, where a line on the
    pipe woke the guardian's shell, which read it a byte at a time on the cores the children
    were starting on (0.2-0.5 ms per child in ``up`` of 32). A group is in the table as soon
    as its child is spawned, as it was on the pipe: a child that drops the run's token from its
    environment at once (``env -i``, a set-uid program) is still killed by its group.
    Elsewhere each group is a ``+PGID`` line on the pipe (``-PGID`` once it is empty).
    """

    def __init__(  # noqa: PLR0917 - one run's guardian, as start_guardian() made it
        self,
        pid: int,
        fd: int,
        token: str,
        env: dict[str, str] | None = None,
        popen: subprocess.Popen[bytes] | None = None,
        slots: int | None = None,
    ) -> None:
        self.pid = pid
        self.fd = fd
        self.token = token
        #: what every child's environment gets (the run's token)
        self.env = env if env is not None else {}
        self.popen = popen
        #: the table of groups (a file descriptor), or None: groups go on the pipe
        self.slots = slots
        #: pgid -> its slot in the table
        self._slot_of: dict[int, int] = {}
        #: slots of groups forgotten, to reuse (the table is as long as the most groups
        #: ever alive at once, not as the run's history)
        self._free: list[int] = []

    def _send(self, text: str) -> None:
        with contextlib.suppress(OSError):
            os.write(self.fd, text.encode())

    def watch(self, pgid: int) -> None:
        """Tell the guardian about a new process group."""
        if self.slots is None:
            self._send(f"+{pgid}\n")
            return
        if pgid in self._slot_of:
            return
        slot = self._free.pop() if self._free else len(self._slot_of)
        self._slot_of[pgid] = slot
        with contextlib.suppress(OSError):
            os.pwrite(self.slots, pgid.to_bytes(SLOT_SIZE, "little"), slot * SLOT_SIZE)

    def forget(self, pgid: int) -> None:
        """A process group is empty: the guardian must not kill its (reused) id later."""
        if self.slots is None:
            self._send(f"-{pgid}\n")
            return
        slot = self._slot_of.pop(pgid, None)
        if slot is None:
            return
        with contextlib.suppress(OSError):
            os.pwrite(self.slots, bytes(SLOT_SIZE), slot * SLOT_SIZE)
        self._free.append(slot)

    def abandon(self) -> None:
        """prodserver is failing: close the pipe without a goodbye, so the guardian kills
        every group it was told about and every process carrying the run token."""
        self._close_fds()
        self._wait()

    def close(self) -> None:
        """prodserver is exiting normally: dismiss the guardian."""
        self._send("bye\n")
        self._close_fds()
        self._wait()

    def _close_fds(self) -> None:
        # the pipe last: its end-of-file is what sets the killer off (it has its own
        # descriptor of the table, whose content stays what prodserver wrote)
        for fd in (self.slots, self.fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _wait(self) -> None:
        try:
            _pid, status = os.waitpid(self.pid, 0)
        except (ChildProcessError, OSError):
            status = 0  # the supervisor's reaping collected it already
        if self.popen is not None:
            self.popen.returncode = os.waitstatus_to_exitcode(status)


def start_guardian(*, portable: bool = False) -> Guardian | None:
    """Start the guardian; None where it cannot work (Windows, no ``/bin/sh``).

    ``portable``: its killer reads the process table with psutil rather than ``/proc``, and
    the groups go on the pipe, as on the systems without ``memfd_create`` it stands for.
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
    slots = None if portable else _group_table()
    killer.append("" if use_proc else _psutil_path())
    killer.append("" if slots is None else str(slots))
    read_fd, write_fd = os.pipe()
    try:
        popen = subprocess.Popen(
            [shell, "-c", WAITER, "prodserver-guardian", *killer],
            stdin=read_fd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # out of prodserver's group: a Ctrl-C is not for it
            env={},
            pass_fds=() if slots is None else (slots,),
        )
    except OSError:
        os.close(write_fd)
        if slots is not None:
            os.close(slots)
        return None  # the children get a parent-death signal instead (Linux)
    finally:
        os.close(read_fd)
    guardian = Guardian(popen.pid, write_fd, token, {RUN_TOKEN_VAR: token}, popen, slots)
    guardian._send(f"={token}\n")
    return guardian


def _group_table() -> int | None:
    """An anonymous file for the table of groups (Linux), or None where there is none.

    Close-on-exec: only the guardian gets it (``pass_fds``), never a child.
    """
    create = getattr(os, "memfd_create", None)
    if create is None:
        return None  # macOS and the BSDs: the groups go on the pipe
    try:
        fd: int = create("prodserver-groups", os.MFD_CLOEXEC)
    except OSError:
        return None  # a sandbox that forbids it
    return fd


def _psutil_path() -> str:
    """The directory psutil is imported from (the killer runs without site-packages)."""
    from importlib.machinery import PathFinder

    spec = PathFinder.find_spec("psutil")
    locations = spec.submodule_search_locations if spec is not None else None
    return str(Path(next(iter(locations))).parent) if locations else ""
