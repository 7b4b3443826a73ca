"""Finding the program of a process on the *child's* ``PATH``.

The child's environment is what the configuration says, not prodserver's own: a virtualenv's
``bin`` put on ``PATH`` by an env file must be honoured, and a missing program must be reported
before anything is forked, with the process, the program and the directories searched.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from prodserver.records import NamedTuple

#: exit code a shell reports for "command not found"; a missing program counts as this
NOT_FOUND_CODE = 127
#: exit code a shell reports for "found but not executable"
NOT_EXECUTABLE_CODE = 126

_PYTHON_NAMES = frozenset({"python", "python3"})


class ExecutableNotFound(Exception):
    """The program of a process does not exist or cannot be executed."""

    def __init__(self, program: str, message: str, code: int = NOT_FOUND_CODE) -> None:
        super().__init__(message)
        self.program = program
        self.message = message
        self.code = code


#: how Windows' cmd.exe finds ``app`` as ``app.exe`` (``PATHEXT``'s default)
_PATHEXT = ".COM;.EXE;.BAT;.CMD"


def _on_windows() -> bool:
    return sys.platform == "win32"


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _windows_candidate(path: str, env: Mapping[str, str]) -> str | None:
    """``path`` as Windows runs it: as written if it has an extension, else with the first
    of ``PATHEXT``'s extensions that exists (``web`` is ``web.exe``)."""
    if os.path.splitext(path)[1] and os.path.isfile(path):
        return path
    for ext in (env.get("PATHEXT") or os.environ.get("PATHEXT") or _PATHEXT).split(";"):
        if ext and os.path.isfile(path + ext.lower()):
            return path + ext.lower()
        if ext and os.path.isfile(path + ext):
            return path + ext
    return None


def find_executable(program: str, env: Mapping[str, str], cwd: Path) -> str:
    """The path to exec for ``program`` as the child would find it.

    A name with a slash is taken relative to the child's ``cwd``. A bare name is looked up on
    the child's ``PATH``; ``python``/``python3`` fall back to the interpreter running
    prodserver when the child's ``PATH`` has none (a virtualenv that was never activated).
    """
    if not program:
        raise ExecutableNotFound(program, "the command is empty")
    if _on_windows():
        return _find_on_windows(program, env, cwd)
    if "/" in program or (os.altsep is not None and os.altsep in program):
        path = program if os.path.isabs(program) else os.path.join(cwd, program)
        if not os.path.exists(path):
            raise ExecutableNotFound(program, f"{program!r} does not exist (in {cwd})")
        if not _is_executable(path):
            raise ExecutableNotFound(
                program, f"{program!r} is not an executable file", NOT_EXECUTABLE_CODE
            )
        return path
    search = env.get("PATH", os.defpath)
    for directory in search.split(os.pathsep):
        if not directory:
            continue
        candidate = os.path.join(
            directory if os.path.isabs(directory) else cwd / directory, program
        )
        if _is_executable(candidate):
            return candidate
    if program in _PYTHON_NAMES and sys.executable:
        return sys.executable
    raise ExecutableNotFound(program, f"program {program!r} not found on PATH={search}")


def _find_on_windows(program: str, env: Mapping[str, str], cwd: Path) -> str:
    """Windows: ``PATHEXT`` extensions, and ``/bin/sh`` (``shell = true``) is ``cmd.exe``."""
    if program == "/bin/sh":
        return env.get("COMSPEC") or os.environ.get("COMSPEC") or "cmd.exe"
    if os.path.isabs(program) or os.sep in program or (os.altsep or "/") in program:
        path = program if os.path.isabs(program) else os.path.join(cwd, program)
        found = _windows_candidate(path, env)
        if found is None:
            raise ExecutableNotFound(program, f"{program!r} does not exist (in {cwd})")
        return found
    search = env.get("PATH", os.defpath)
    # only PATH: not the working directory first, as cmd.exe does (a planted web.exe there
    # would run instead of the one meant)
    for directory in search.split(os.pathsep):
        if directory:
            found = _windows_candidate(os.path.join(cwd, directory, program), env)
            if found is not None:
                return found
    if program in _PYTHON_NAMES and sys.executable:
        return sys.executable
    raise ExecutableNotFound(program, f"program {program!r} not found on PATH={search}")


def why_not_started(program: str, exc: OSError) -> str:
    """Why the system refused to start ``program`` (found on PATH, so it exists), in words that
    point at the cause: a script's ``#!`` interpreter that is missing is not "no such file"."""
    about_program = exc.filename in (None, program)
    if exc.errno == errno.ENOENT and about_program and os.path.exists(program):
        return _missing_interpreter(program)
    if exc.errno == errno.ENOEXEC and about_program:
        return "not a program the system can run (a script needs a #! line naming its interpreter)"
    what = exc.strerror or type(exc).__name__
    return what if about_program else f"{what} ({exc.filename})"


def _missing_interpreter(program: str) -> str:
    try:
        with open(program, "rb") as file:
            first = file.readline(256)
    except OSError:
        first = b""
    if first.startswith(b"#!"):
        named = first[2:].strip().decode("utf-8", "replace")
        return f"its interpreter ({named}, from the #! line) was not found"
    return "a file it needs (its interpreter or a library) was not found"


class UnknownUser(Exception):
    """A process's ``user =`` names no account on this machine."""

    def __init__(self, user: str) -> None:
        self.message = f"user {user!r} does not exist on this machine"
        super().__init__(self.message)
        self.user = user


class Account(NamedTuple):
    """What dropping privileges to ``user =`` needs: ids, supplementary groups and home."""

    name: str
    uid: int
    gid: int
    #: every group the user belongs to (``initgroups``), the primary one included
    groups: tuple[int, ...]
    home: str


def find_account(user: str) -> Account:
    """The account named ``user`` (or a numeric uid); raises UnknownUser."""
    import pwd

    try:
        entry = pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)
    except (KeyError, OverflowError) as exc:
        raise UnknownUser(user) from exc
    groups = tuple(os.getgrouplist(entry.pw_name, entry.pw_gid))
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid, groups, entry.pw_dir)


def account_environment(
    env: Mapping[str, str], account: Account, inherited: Mapping[str, str]
) -> dict[str, str]:
    """``env`` with HOME, USER and LOGNAME describing ``account``.

    A value the configuration chose is kept; one that is missing or merely inherited from
    prodserver's own environment (``inherited``) describes prodserver's user, not the
    process's, and is replaced from the password entry.
    """
    out = dict(env)
    wanted = {"HOME": account.home, "USER": account.name, "LOGNAME": account.name}
    for name, value in wanted.items():
        if name not in out or out[name] == inherited.get(name):
            out[name] = value
    return out
