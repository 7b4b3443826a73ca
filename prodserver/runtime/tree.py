"""Process-tree operations: finding what belongs to a run outside its process groups.

Every child prodserver starts leads a new session and process group of its own (its pid is
both ids). A process of the run that is no longer in such a group is found here:

- by its **session**: a daemon that only left its group (``setpgid``) is still in the session
  of the child that started it;
- by this run's **token** in its environment (``PRODSERVER_RUN``): a classic daemon leaves the
  session too (``fork``, ``setsid``, ``fork``), but keeps the environment it inherited.

The process table comes from ``/proc`` on Linux and from psutil elsewhere (or when asked to,
which is how the portable runtime is tested on Linux).

This module imports nothing from prodserver and nothing beyond the standard library until
psutil is needed: when prodserver dies, its guardian (:mod:`prodserver.runtime.guardian`)
runs it as a program of its own (``python -I -S tree.py``) to kill what is left.
"""

from __future__ import annotations

import os
import signal
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

#: environment variable carrying the run token into every child
RUN_TOKEN_VAR = "PRODSERVER_RUN"  # noqa: S105 - a variable name, not a secret
#: a process may fork while it is being killed: the guardian repeats its pass this often
KILL_PASSES = 20


def _pids(use_proc: bool) -> Iterable[int]:
    if use_proc:
        return (int(entry) for entry in os.listdir("/proc") if entry.isdigit())
    import psutil

    return psutil.pids()


def _tagged(pid: int, token: str, use_proc: bool) -> bool:
    """Whether ``pid`` carries ``token`` in its environment (False if it cannot be read)."""
    if use_proc:
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                environ = fh.read()
        except OSError:
            return False
        return f"{RUN_TOKEN_VAR}={token}".encode() in environ.split(b"\0")
    import psutil

    try:
        return psutil.Process(pid).environ().get(RUN_TOKEN_VAR) == token
    except (psutil.Error, OSError):
        return False


def run_processes(
    sessions: Collection[int],
    token: str | None,
    skip: Collection[int] = (),
    *,
    use_proc: bool,
    untagged: set[tuple[int, int]] | None = None,
) -> list[int]:
    """Processes of the run that are not in one of the groups ``sessions``.

    ``sessions``: the ids of the sessions (and groups) of the children prodserver started;
    a process still in one of those groups is left to the group's stop. ``skip``: pids
    prodserver knows (its instances, probes, the guardian). ``untagged``: a cache of
    ``(pid, session)`` found without the token, whose environment is not read again (an
    environment is inherited, not acquired: reading it is most of a scan's cost).
    """
    me = os.getpid()
    found: list[int] = []
    for pid in _pids(use_proc):
        if pid == me or pid in skip:
            continue
        try:
            pgid = os.getpgid(pid)
            sid = os.getsid(pid)
        except OSError:
            continue  # gone while we looked, or not ours to see
        if pgid in sessions:
            continue
        if sid in sessions:
            found.append(pid)
        elif token is not None and (untagged is None or (pid, sid) not in untagged):
            if _tagged(pid, token, use_proc):
                found.append(pid)
            elif untagged is not None:
                untagged.add((pid, sid))
    return found


def proc_children(pid: int) -> list[int] | None:
    """The children of ``pid`` from ``/proc`` (Linux), or None where that is not available.

    Reading ``/proc/PID/task/*/children`` costs a few system calls; psutil (the fallback)
    costs 13 ms to import and scans every process on the machine.
    """
    if not os.path.exists(f"/proc/self/task/{os.getpid()}/children"):
        return None  # a kernel without CONFIG_PROC_CHILDREN, or no /proc at all
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []  # gone while we looked
    found: list[int] = []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                found.extend(int(child) for child in fh.read().split())
        except (OSError, ValueError):
            continue  # that thread or the whole process went away while we looked
    return found


def adopted(skip: Collection[int]) -> list[int]:
    """Descendants of this process that are not in ``skip`` (a subreaper's adopted daemons).

    A child subreaper (Linux) becomes the parent of every orphan below it, so each of its
    children that it did not start, and everything below those, left its group.
    """
    children = proc_children(os.getpid())
    if children is None:
        return _psutil_adopted(skip)
    found: list[int] = []
    stack = [pid for pid in children if pid not in skip]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(proc_children(pid) or ())
    return found


def _psutil_adopted(skip: Collection[int]) -> list[int]:
    import psutil

    found: list[int] = []
    try:
        children = psutil.Process().children(recursive=False)
    except psutil.Error:
        return found
    for child in children:
        if child.pid in skip:
            continue
        found.append(child.pid)
        try:
            found.extend(p.pid for p in child.children(recursive=True))
        except psutil.Error:
            continue
    return found


# -- the guardian's killer ---------------------------------------------------------------------

#: what the guardian's waiting shell hands over when prodserver died: this run's token, and
#: the process groups still known (space-separated)
GUARD_TOKEN_VAR = "PRODSERVER_GUARD_TOKEN"  # noqa: S105 - a variable name, not a secret
GUARD_GROUPS_VAR = "PRODSERVER_GUARD_GROUPS"
#: bytes per group in the guardian's table of groups (little-endian; 0: a free slot)
SLOT_SIZE = 8


def kill_run(groups: Collection[int], token: str | None, *, use_proc: bool) -> None:
    """SIGKILL every group in ``groups`` and every process of the run outside them."""
    for pgid in groups:
        _signal(pgid, group=True)
    for _ in range(KILL_PASSES):  # a process may fork while we look
        found = run_processes(groups, token, use_proc=use_proc)
        for pid in found:
            _signal(pid, group=False)
        if not found:
            break


def _signal(pid: int, *, group: bool) -> None:
    try:
        (os.killpg if group else os.kill)(pid, signal.SIGKILL)
    except OSError:
        return  # gone already


def table_groups(fd: int) -> set[int]:
    """The groups in the guardian's table of groups (an open file, read from its start)."""
    try:
        data = os.pread(fd, os.fstat(fd).st_size, 0)
    except OSError:
        return set()
    found = (
        int.from_bytes(data[at : at + SLOT_SIZE], "little")
        for at in range(0, len(data) - SLOT_SIZE + 1, SLOT_SIZE)
    )
    return {pgid for pgid in found if pgid > 1}  # 0: a free slot (and never group 0 or 1)


def _main(argv: list[str]) -> None:  # pragma: no cover - runs as the guardian
    """``tree.py proc|psutil [PSUTIL_PATH [TABLE_FD]]``: kill the run described by the
    environment (the token, the groups sent on the pipe) and by the table of groups."""
    table = argv[0]
    if len(argv) > 1 and argv[1]:
        sys.path.append(argv[1])  # -S left site-packages out: psutil's directory only
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # a terminal's Ctrl-C or hang-up is not for us
    token = os.environ.get(GUARD_TOKEN_VAR) or None
    groups = {int(g) for g in os.environ.get(GUARD_GROUPS_VAR, "").split() if g.isdigit()}
    if len(argv) > 2 and argv[2].isdigit():
        groups |= table_groups(int(argv[2]))
    kill_run(groups, token, use_proc=table == "proc")


if __name__ == "__main__":  # pragma: no cover - runs as the guardian
    _main(sys.argv[1:])
