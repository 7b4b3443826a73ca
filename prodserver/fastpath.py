"""The start-up fast path of ``prodserver run`` and ``prodserver exec``, and the small pieces of
the configuration cache that it shares with the normal path.

A normal ``run`` or ``exec`` parses its command line, resolves the configuration (from the
cache, :mod:`prodserver.config.cache`), applies the root rule and finds the program; then it
starts the program. When the cache was used, what it finally started (the program, its argv,
its environment and its working directory: the arguments the tested code passed to
``os.execve`` or ``subprocess.Popen``) is written as a *fast record*, keyed by the exact command
line, the whole environment, the working directory, the user, the interpreter and prodserver's
own modules. The next identical start reads that record here, before ``argparse``, the
configuration engine or even ``enum`` is imported, checks every input the resolution and the
program lookup read (the same list and the same checks as a cache entry), and starts the program
directly. The fast path never decides anything the normal path did not decide: on any doubt (no
record, a changed input, a damaged or foreign file, an error while starting) it does nothing and
the normal path runs, with its own error messages.

Nothing secret is written: a secret value, and any value equal to the shell's own variable of
the same name, is written as a reference (the variable's name, or the byte range of an env file
whose SHA-256 is checked before the range is read) and read from there again. Records live in
the cache's private directory (0700), each file 0600, hash-checked.

This module imports nothing beyond the interpreter's built-in modules: its whole cost is a few
system calls. ``exec`` replaces this process (``os.execve``); ``run`` keeps a parent that
forwards signals and maps the exit code exactly as :func:`prodserver.runtime.oneoff.run_oneoff`
does (the tests run both on the same commands and compare).
"""

from __future__ import annotations

import marshal
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

    Input = tuple[str, str, Any]

NO_CACHE_ENV = "PRODSERVER_NO_CACHE"
#: the header of a fast record file (then the SHA-256 of the body, then the body)
FAST_MAGIC = b"prodserver-fast-record\x00"
FAST_SUFFIX = ".fast"
#: bumped whenever what a record holds changes shape
FAST_FORMAT = 1

#: set by :func:`try_fast` for the normal path of the same start: (the command line's words,
#: the environment at start, the record's key, the cache directory); None when this start
#: may not write a record (not the console script, the cache off, no private directory)
ENTRY: tuple[tuple[str, ...], dict[str, str], str, str] | None = None


# -- the cyclic garbage collector during the start ------------------------------------------

#: the collector was paused by :func:`pause_collector` and not resumed yet
_collector_paused = False


def pause_collector() -> None:
    """Pause the cyclic garbage collector for the start of a command (the console script).

    A start allocates thousands of objects that live as long as the process (modules,
    classes, functions, the configuration read from the cache) and next to no garbage cycles:
    on a cached ``up`` the collector ran 23 times and freed about 100 objects, for 5-7 ms
    (two of those walks took 1.2-1.8 ms each). :func:`resume_collector` turns it on again
    once the command's own work starts (``up``: once its first processes are spawned). A
    collector paused or turned off by someone else (a program calling :func:`main`) is left
    as it is.
    """
    global _collector_paused  # noqa: PLW0603 - one flag per process
    import gc

    if gc.isenabled():
        gc.disable()
        _collector_paused = True


def resume_collector(*, freeze: bool = False) -> None:
    """Turn the collector on again if :func:`pause_collector` paused it (else nothing).

    ``freeze``: what exists now lives until the end (``up``'s code and configuration, from
    the cache): it goes to the collector's permanent generation first, so that its first walk
    is not of everything the start made (3.6-4.3 ms after the spawns), nor any later one. The
    start leaves about 200 objects of garbage cycles there (whatever the size of the
    configuration; a configuration resolved anew resumes the collector before resolving).
    """
    global _collector_paused  # noqa: PLW0603 - one flag per process
    if _collector_paused:
        import gc

        _collector_paused = False
        if freeze:
            gc.freeze()
        gc.enable()


# -- pieces shared with the configuration cache -----------------------------------------------

_SHA256: Callable[..., Any] | None = None


def sha256(data: bytes = b"") -> Any:
    """A SHA-256 object, from the interpreter's built-in module when it has one (importing
    ``hashlib`` loads OpenSSL: several milliseconds at every start)."""
    global _SHA256  # noqa: PLW0603 - found once per process
    if _SHA256 is None:
        # the module's name in this version first: a failed import searches all of sys.path
        names = ("_sha2", "_sha256") if sys.version_info >= (3, 12) else ("_sha256", "_sha2")
        for name in names:
            try:
                _SHA256 = __import__(name).sha256
                break
            except (ImportError, AttributeError):
                continue
        else:
            import hashlib

            _SHA256 = hashlib.sha256
    return _SHA256(data)


def disabled(no_cache: bool = False, environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``--no-cache`` or ``PRODSERVER_NO_CACHE`` turns the cache off."""
    env = os.environ if environ is None else environ
    return no_cache or env.get(NO_CACHE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def cache_dir(environ: Mapping[str, str] | None = None) -> str | None:
    """The user's private cache directory, created 0700; None where it cannot be trusted."""
    env = os.environ if environ is None else environ
    if not hasattr(os, "geteuid"):
        return None  # Windows: no owner and mode to check the directory and entries by
    base = env.get("XDG_CACHE_HOME", "")
    if not base or not os.path.isabs(base):
        home = env.get("HOME") or os.path.expanduser("~")
        if not home or not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    path = os.path.join(base, "prodserver")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return None
    if (st.st_mode & 0o170000) != 0o040000 or st.st_uid != os.geteuid():
        return None  # a symbolic link, a file, or another user's directory
    if st.st_mode & 0o077:
        try:
            os.chmod(path, 0o700)
        except OSError:
            return None
    return path


_FINGERPRINT: list[tuple[str, int, int]] | None = None


def package_fingerprint() -> list[tuple[str, int, int]]:
    """Every module of the installed prodserver, by size and time: code is an input too.

    Taken once per process (``run`` and ``exec`` name a cache entry and a fast record): the
    code that runs is the code that was there when the process started."""
    global _FINGERPRINT  # noqa: PLW0603 - once per process
    if _FINGERPRINT is None:
        _FINGERPRINT = _scan_package()
    return _FINGERPRINT


def _scan_package() -> list[tuple[str, int, int]]:
    root = os.path.dirname(os.path.abspath(__file__))
    out: list[tuple[str, int, int]] = []
    stack = [root]
    while stack:
        current = stack.pop()
        with os.scandir(current) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        stack.append(entry.path)
                elif entry.name.endswith(".py"):
                    st = entry.stat()
                    out.append((entry.path, st.st_size, st.st_mtime_ns))
    out.sort()
    return out


def key_of(parts: tuple[Any, ...], environ: Mapping[str, str]) -> str:
    """The hash naming an entry: ``parts`` (what was asked), the environment, the working
    directory, the user, the interpreter and prodserver's own modules."""
    from prodserver import __version__

    whole = (
        *parts,
        __version__,
        sys.version,
        sys.executable,
        sys.prefix,
        sys.base_prefix,
        os.geteuid(),
        os.getcwd(),
        sorted(environ.items()),
        package_fingerprint(),
    )
    return str(sha256(repr(whole).encode("utf-8", "surrogateescape")).hexdigest())


def read_entry(path: str, magic: bytes) -> bytes | None:
    """An entry's verified body, or None (missing, foreign, open to others, corrupt)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        regular = (st.st_mode & 0o170000) == 0o100000
        if not regular or st.st_uid != os.geteuid() or st.st_mode & 0o077:
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    head = len(magic) + 32
    if len(raw) < head or not raw.startswith(magic):
        return None
    body = raw[head:]
    if sha256(body).digest() != raw[len(magic) : head]:
        return None
    return body


def content_hash(path: str) -> str | None:
    """SHA-256 of a file's bytes (None: it cannot be read now)."""
    data = _file_bytes(path)
    return None if data is None else str(sha256(data).hexdigest())


def _file_bytes(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def looked_at(path: str, follow: bool) -> tuple[Any, ...] | None:
    """What a look at ``path`` saw: its kind, and for a regular file its size, time and mode
    (the mode: an executable bit found on ``PATH``)."""
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except (OSError, ValueError):
        return None
    kind = st.st_mode & 0o170000
    if kind == 0o100000:
        return (kind, st.st_size, st.st_mtime_ns, st.st_mode & 0o7777)
    if kind == 0o120000:
        try:
            return (kind, os.readlink(path))
        except OSError:
            return (kind,)
    return (kind,)  # a directory: what matters is that it is one (its time moves constantly)


def listing(path: str) -> str | None:
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return None
    return str(sha256("\x00".join(names).encode("utf-8", "surrogateescape")).hexdigest())


def unchanged(inputs: Sequence[Input]) -> bool:
    """Whether every input is still what it was when the entry was written."""
    for kind, path, seen in inputs:
        if kind == "file":
            now: Any = content_hash(path)
        elif kind == "list":
            now = listing(path)
        elif kind in ("stat", "lstat"):
            now = looked_at(path, kind == "stat")
        else:
            return False
        if now != seen:
            return False
    return True


# -- the fast record --------------------------------------------------------------------------


def record_key(words: Sequence[str], environ: Mapping[str, str]) -> str:
    """The key of the fast record for this command line in this environment."""
    return key_of(("fast", FAST_FORMAT, tuple(words)), environ)


def try_fast(words: Sequence[str]) -> int | None:
    """Start ``run``'s or ``exec``'s program from its fast record: the exit code of ``run``'s
    command (``exec`` does not return); None when the normal path must run."""
    global ENTRY  # noqa: PLW0603 - read by the normal path of the same start
    ENTRY = None
    if ("run" not in words and "exec" not in words) or "--no-cache" in words:
        return None
    environ = dict(os.environ)
    if disabled(False, environ) or not hasattr(os, "geteuid"):
        return None
    try:
        directory = cache_dir(environ)
        if directory is None:
            return None
        here = os.getcwd()
        key = record_key(words, environ)
        ENTRY = (tuple(words), environ, key, directory)
        body = read_entry(os.path.join(directory, key + FAST_SUFFIX), FAST_MAGIC)
        plan = None if body is None else _plan(body, environ)
    except Exception:  # any doubt: the normal path decides, and says why
        return None
    if plan is None:
        return None
    kind, program, argv, env, cwd = plan
    if kind == "exec":
        become(program, argv, env, cwd, here)
        return None
    return run_forwarding(program, argv, env, cwd)


def _plan(
    body: bytes, environ: Mapping[str, str]
) -> tuple[str, str, list[str], dict[str, str], str] | None:
    """What the record says to start, its secrets read again; None if anything changed."""
    # plain data (never code) from the user's own 0600 file, its SHA-256 checked
    record = marshal.loads(body)  # noqa: S302  # nosec B302
    if type(record) is not tuple or len(record) != 8 or record[0] != FAST_FORMAT:
        return None
    _, kind, inputs, sources, program, argv, env, cwd = record
    if kind not in ("run", "exec") or not unchanged(inputs):
        return None
    values = open_sources(sources, environ)
    if values is None:
        return None
    return (
        kind,
        join(program, values),
        [join(word, values) for word in argv],
        {join(name, values): join(value, values) for name, value in env},
        join(cwd, values),
    )


def open_sources(
    sources: Sequence[tuple[Any, ...]], environ: Mapping[str, str]
) -> list[str] | None:
    """The values a record refers to, read again: ``("env", NAME)`` from the environment,
    ``("file", PATH, SHA256, START, END)`` from an env file that must be unchanged."""
    values: list[str] = []
    for source in sources:
        if source[0] == "env" and len(source) == 2:
            value = environ.get(source[1])
            if value is None:
                return None
            values.append(value)
        elif source[0] == "file" and len(source) == 5:
            _, path, digest, start, end = source
            data = _file_bytes(path)
            if data is None or str(sha256(data).hexdigest()) != digest:
                return None
            values.append(data[start:end].decode("utf-8", "surrogateescape"))
        else:
            return None
    return values


def join(parts: Any, values: Sequence[str]) -> str:
    """A text written as pieces: literal text and references to ``values``."""
    if type(parts) is str:
        return parts
    if type(parts) is not tuple:
        raise TypeError("a record's text is a str or a tuple")
    out = []
    for part in parts:
        if type(part) is str:
            out.append(part)
        elif type(part) is int:
            out.append(values[part])
        else:
            raise TypeError("a record's piece is a str or an int")
    return "".join(out)


# -- starting what the record says --------------------------------------------------------------


def become(program: str, argv: list[str], env: dict[str, str], cwd: str, here: str) -> None:
    """``exec``: replace this process, as :func:`prodserver.runtime.exec.exec_process` ends (its
    working directory, SIGPIPE and SIGXFSZ back to their defaults, ``execve``). Returns only
    if that failed, with everything as it was, for the normal path to report."""
    _signal = _signals()
    try:
        os.chdir(cwd)
    except OSError:
        return
    restore = [(sig, _signal.signal(sig, _signal.SIG_DFL)) for sig in _python_ignored(_signal)]
    try:
        os.execve(program, argv, env)  # noqa: S606 - what the normal path execve'd, no shell
    except Exception:  # the normal path's own execve says what went wrong
        for sig, handler in restore:
            _signal.signal(sig, handler)
        os.chdir(here)


def _signals() -> Any:
    """The built-in ``_signal``: ``signal``'s functions with plain numbers, without importing
    ``enum`` (``import signal`` is most of a millisecond budget)."""
    return __import__("_signal")


def _python_ignored(_signal: Any) -> list[int]:
    """The signals Python itself ignores at start, which a program must get at their default."""
    return [getattr(_signal, n) for n in ("SIGPIPE", "SIGXFSZ") if hasattr(_signal, n)]


#: the signals ``run`` forwards to its command (runtime/oneoff.py's list)
_FORWARDED = ("SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGINT", "SIGQUIT")


def _terminal_delivers() -> bool:
    """Whether a terminal's Ctrl-C already reaches the command (we are in its foreground)."""
    for fd in (0, 1, 2):
        try:
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
        except OSError:
            continue
    return False


def _inheritable_fds() -> list[int]:
    """This process's descriptors above 2 that a child would inherit (``subprocess``'s
    ``close_fds`` closes them in the child)."""
    for where in ("/proc/self/fd", "/dev/fd"):
        try:
            names = os.listdir(where)
        except OSError:
            continue
        out = []
        for name in names:
            fd = int(name)
            if fd > 2:
                try:
                    if os.get_inheritable(fd):
                        out.append(fd)
                except OSError:
                    continue  # the listing's own descriptor, closed since
        return out
    return []


def _child_defaults(sigs: Any) -> list[int]:
    """The signals to put back to their default in the command: what run_oneoff's
    ``unignore_inherited_signals`` and subprocess's ``restore_signals`` give it (every signal
    ignored here, inherited or Python's own; a caught one is reset by exec itself)."""
    defaults = set(_python_ignored(sigs))
    for sig in sigs.valid_signals():
        if sig not in (sigs.SIGKILL, sigs.SIGSTOP) and sigs.getsignal(sig) == sigs.SIG_IGN:
            defaults.add(sig)
    return sorted(defaults)


def _spawn(
    program: str, argv: list[str], env: dict[str, str], cwd: str, *, defaults: list[int], sigs: Any
) -> int | None:
    """Fork and exec as ``subprocess.Popen`` does for run_oneoff: in the child, the working
    directory, inherited descriptors above 2 closed, every signal ignored here back to its
    default (a caught one is reset by exec itself). (``os.posix_spawn`` would leave glibc's
    two internal signals ignored in the command.) None if the exec failed; nothing runs then."""
    close = _inheritable_fds()
    try:
        err_r, err_w = os.pipe()  # close-on-exec: EOF when the exec succeeded
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:  # nothing started
        os.close(err_r)
        os.close(err_w)
        return None
    if pid == 0:  # the child: only system calls until execve
        try:
            os.chdir(cwd)
            for fd in close:
                os.close(fd)
            for sig in defaults:
                sigs.signal(sig, sigs.SIG_DFL)
            os.execve(program, argv, env)  # noqa: S606 - what the normal path started
        except BaseException:  # the child must never return into prodserver
            os.write(err_w, b"x")
        finally:
            os._exit(127)
    os.close(err_w)
    try:
        failed = os.read(err_r, 1)
    finally:
        os.close(err_r)
    if failed:
        os.waitpid(pid, 0)
        return None
    return pid


def run_forwarding(program: str, argv: list[str], env: dict[str, str], cwd: str) -> int | None:
    """``run``: start the command in this process group and wait for it, forwarding signals,
    as :func:`prodserver.runtime.oneoff.run_oneoff` does: the command starts with no signal
    blocked or ignored and no inherited descriptor above 2; SIGTERM, SIGHUP, SIGUSR1, SIGUSR2
    are forwarded, and SIGINT and SIGQUIT too unless the terminal already sent them (this
    process is in its foreground); the exit code is the command's, 128+N for signal N.
    None if the command could not be started (nothing was), for the normal path to report."""
    if not hasattr(os, "fork"):
        return None
    _signal = _signals()
    queue: list[int] = []

    def enqueue(signum: int, frame: Any) -> None:
        queue.append(signum)

    forwarded = [getattr(_signal, n) for n in _FORWARDED if hasattr(_signal, n)]
    interactive = (_signal.SIGINT, getattr(_signal, "SIGQUIT", _signal.SIGINT))
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
    terminal = _terminal_delivers()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    previous = {sig: _signal.signal(sig, enqueue) for sig in (*forwarded, _signal.SIGCHLD)}
    old_wakeup = _signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
    try:
        pid = _spawn(program, argv, env, cwd, defaults=_child_defaults(_signal), sigs=_signal)
        if pid is None:
            return None
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            os.read(wake_r, 512)  # until a signal (SIGCHLD included) arrives
            while queue:
                sig = queue.pop(0)
                if sig == _signal.SIGCHLD:
                    continue
                if terminal and sig in interactive:
                    continue  # the terminal sent it to the command already
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:  # gone since: its SIGCHLD is on the way
                    continue
    finally:
        _signal.set_wakeup_fd(old_wakeup)
        for sig, handler in previous.items():
            _signal.signal(sig, handler)
        os.close(wake_r)
        os.close(wake_w)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code
