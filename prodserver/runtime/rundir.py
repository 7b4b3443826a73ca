"""The project's runtime directory: where its control socket and notify sockets live.

``$XDG_RUNTIME_DIR/prodserver/<hash>/`` when ``XDG_RUNTIME_DIR`` names a directory (systemd
sets it for every login session; it is private to the user and emptied at logout), otherwise
``<tmp>/prodserver-<uid>/<hash>/`` (the way tmux and ssh-agent do it). ``<hash>`` is the first
16 hex digits of the SHA-256 of the project root, so each project has its own directory and
nothing is written into the project itself. Every directory prodserver creates there is
mode 0700 and must be owned by the user.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path

from prodserver.errors import ProdserverError
from prodserver.fastpath import sha256


def runtime_dir(root: Path, environ: Mapping[str, str] | None = None) -> Path:
    """The per-project runtime directory (not created; see :func:`ensure_private_dir`)."""
    environ = os.environ if environ is None else environ
    # the interpreter's built-in SHA-256: `hashlib` would load OpenSSL at every start of `up`
    digest: str = sha256(str(root.resolve()).encode()).hexdigest()[:16]
    xdg = environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isdir(xdg):
        return Path(xdg) / "prodserver" / digest
    # Windows has no uid; its temporary directory is the user's own (in their profile)
    owner = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(temp_dir()) / f"prodserver-{owner}" / digest


def temp_dir() -> str:
    """``tempfile.gettempdir()``, without importing :mod:`tempfile` where it is not needed.

    Importing it costs every ``up`` without ``XDG_RUNTIME_DIR`` (most servers) several
    milliseconds (it brings ``random``, ``shutil``, ``bz2`` and ``lzma``), only to pick a
    directory. On POSIX, when the first of the places it would try (``TMPDIR``, ``TEMP``,
    ``TMP``, then ``/tmp``, ``/var/tmp``, ``/usr/tmp``) is a directory we can create files
    in, that is the one it picks; anything else (no such directory, one we cannot write to,
    Windows, a program that already imported tempfile and may have set ``tempfile.tempdir``)
    is left to tempfile itself. What is created there is checked by
    :func:`ensure_private_dir` either way.
    """
    if os.name == "posix" and "tempfile" not in sys.modules:
        candidates = [os.environ.get(name) for name in ("TMPDIR", "TEMP", "TMP")]
        # the private directory made there is checked by ensure_private_dir, as before
        first = next((c for c in candidates if c), "/tmp")  # noqa: S108  # nosec B108
        effective = os.access in os.supports_effective_ids  # as creating a file would
        if os.path.isdir(first) and os.access(first, os.W_OK | os.X_OK, effective_ids=effective):
            return os.path.abspath(first)
    import tempfile  # with `random`: only where the above did not find it

    return tempfile.gettempdir()


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and its prodserver parent) mode 0700, refusing one we do not own.

    Windows has no uid to compare (``st_uid`` is 0): the directory is in the user's own
    temporary directory there, whose access list keeps other users out.
    """
    uid = os.getuid() if hasattr(os, "getuid") else None
    for directory in (path.parent, path):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
        info = directory.lstat()
        if not stat.S_ISDIR(info.st_mode) or (uid is not None and info.st_uid != uid):
            raise ProdserverError(
                f"{directory} is not a directory owned by you",
                hint="remove it, or set XDG_RUNTIME_DIR to a private directory",
            )
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(directory, 0o700)
    return path
