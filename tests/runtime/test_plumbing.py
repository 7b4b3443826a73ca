"""The two kinds of OS plumbing under the supervisor: choosing one, and what the portable one
does differently (a selectors poller, strays found by session or token, the light guardian)."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from prodserver.errors import UsageError
from prodserver.runtime.guardian import start_guardian
from prodserver.runtime.plumbing import (
    READ,
    WRITE,
    Poller,
    SelectorPoller,
    ThreadedPoller,
    choose,
)
from prodserver.runtime.spawner import PortableSpawner
from prodserver.runtime.tree import RUN_TOKEN_VAR
from tests.conftest import POSIX_RUNTIME, run_script

posix = pytest.mark.skipif(sys.platform == "win32", reason=POSIX_RUNTIME)


# -- choosing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "platform", "expected"),
    [
        (None, "linux", "native"),
        (None, "darwin", "portable"),
        (None, "win32", "portable"),
        ("portable", "win32", "portable"),
        ("portable", "linux", "portable"),
        ("Portable ", "linux", "portable"),
        ("native", "linux", "native"),
        ("portable", "darwin", "portable"),
        ("", "linux", "native"),
    ],
)
def test_the_runtime_follows_the_platform_and_the_variable(
    value: str | None, platform: str, expected: str
) -> None:
    env = {} if value is None else {"PRODSERVER_RUNTIME": value}
    assert choose(env, platform).name == expected


def test_an_unknown_runtime_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(UsageError) as caught:
        choose({"PRODSERVER_RUNTIME": "portabel"}, "linux")
    assert caught.value.code == "PS460"
    assert "'portabel'" in caught.value.message
    assert "native or portable" in (caught.value.hint or "")


def test_windows_runs_on_the_portable_runtime_and_never_the_native_one() -> None:
    assert choose({}, "win32").name == "portable"
    with pytest.raises(UsageError) as caught:
        choose({"PRODSERVER_RUNTIME": "native"}, "win32")
    assert caught.value.code == "PS461"
    assert "this is win32" in caught.value.message
    assert caught.value.hint == "PRODSERVER_RUNTIME=portable"


def test_the_native_runtime_off_linux_is_an_error() -> None:
    with pytest.raises(UsageError) as caught:
        choose({"PRODSERVER_RUNTIME": "native"}, "darwin")
    assert caught.value.code == "PS461"
    assert "darwin" in caught.value.message


@posix
def test_up_with_an_unknown_runtime_starts_nothing_and_says_why(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    (tmp_path / "prodserver.toml").write_text(
        f'[processes.web]\ncommand = ["{sys.executable}", "-c", "open({str(marker)!r}, \'w\')"]\n'
    )
    result = run_script("up", cwd=tmp_path, env={"PRODSERVER_RUNTIME": "kqueue"})
    assert result.code == 2, result.err
    assert "error PS460: PRODSERVER_RUNTIME='kqueue' is not a runtime" in result.err
    assert "Traceback" not in result.err
    assert not marker.exists()


# -- the poller ----------------------------------------------------------------------------


def _pollers() -> list[Callable[[], Poller]]:
    found: list[Callable[[], Poller]] = [SelectorPoller, ThreadedPoller]
    if hasattr(select, "epoll"):
        found.append(select.epoll)
    return found


@pytest.fixture(params=_pollers(), ids=lambda make: getattr(make, "__name__", "epoll"))
def poller(request: pytest.FixtureRequest) -> Iterator[Poller]:
    made: Poller = request.param()
    yield made
    made.close()


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            continue


@posix
def test_every_poller_behaves_as_epoll_does(poller: Poller, pipe: tuple[int, int]) -> None:
    """The loop is written against epoll's behaviour: every poller must show the same."""
    r, w = pipe
    read = getattr(poller, "read", os.read)  # a reader thread's poller hands chunks over
    poller.register(r, READ)
    assert poller.poll(0) == []
    os.write(w, b"x")
    assert poller.poll(1.0) == [(r, READ)]
    # paused: known, not watched, even with data waiting (backpressure)
    poller.modify(r, 0)
    assert poller.poll(0) == []
    with pytest.raises(FileExistsError):
        poller.register(r, READ)
    poller.modify(r, READ)
    assert poller.poll(0) == [(r, READ)]
    assert read(r, 10) == b"x"
    os.write(w, b"yz")
    assert poller.poll(1.0) == [(r, READ)]
    assert read(r, 1) == b"y"  # a chunk is handed over in parts when asked for less
    assert read(r, 10) == b"z"
    os.close(w)
    assert [fd for fd, _events in poller.poll(1.0)] == [r]  # end of file (epoll: EPOLLHUP)
    assert read(r, 10) == b""
    poller.unregister(r)
    assert poller.poll(0) == []
    with pytest.raises(OSError):
        poller.unregister(r)
    with pytest.raises(OSError):
        poller.modify(r, READ)
    assert not poller.closed
    poller.close()
    assert poller.closed


@posix
@pytest.mark.parametrize(
    "make", [SelectorPoller, *_pollers()[2:]], ids=["selector", "epoll"][: len(_pollers()) - 1]
)
def test_the_write_end_of_an_empty_pipe_is_writable(
    make: Callable[[], Poller], pipe: tuple[int, int]
) -> None:
    poller = make()
    try:
        poller.register(pipe[1], WRITE)
        assert poller.poll(1.0) == [(pipe[1], WRITE)]
    finally:
        poller.close()


def test_a_reader_thread_refuses_to_watch_for_writing(pipe: tuple[int, int]) -> None:
    """The loop then retries its congested output on a timer, as for a regular file."""
    poller = ThreadedPoller()
    with pytest.raises(OSError):
        poller.register(pipe[1], WRITE)
    poller.close()


@posix
def test_a_paused_reader_thread_holds_one_chunk_so_the_writer_blocks(
    pipe: tuple[int, int],
) -> None:
    r, w = pipe
    poller = ThreadedPoller(read_size=1024)
    poller.register(r, 0)
    os.set_blocking(w, False)
    written = 0
    deadline = time.monotonic() + 10
    while True:  # fill the pipe: the thread takes one chunk and waits for the loop
        try:
            written += os.write(w, b"x" * 1024)
        except BlockingIOError:
            if poller._chunks:  # the thread holds its chunk: the pipe is full for good
                break
            assert time.monotonic() < deadline
            time.sleep(0.01)
    poller.modify(r, READ)
    taken = 0
    while taken < written:
        if poller.poll(1.0):
            taken += len(poller.read(r, 1 << 20))
    assert taken == written
    poller.close()


@posix
def test_a_negative_timeout_waits_until_an_event(poller: Poller, pipe: tuple[int, int]) -> None:
    r, w = pipe
    poller.register(r, READ)
    timer = threading.Timer(0.1, os.write, (w, b"x"))
    timer.start()
    try:
        events = poller.poll(-1.0)
        while not events and isinstance(poller, ThreadedPoller):  # it waits in slices
            events = poller.poll(-1.0)
        assert events == [(r, READ)]
    finally:
        timer.join()


# -- the portable spawner: strays without a subreaper ----------------------------------------

TREE = textwrap.dedent(
    """
    import os, subprocess, sys, time
    sleep = [sys.executable, '-c', 'import time; time.sleep(60)']
    member = subprocess.Popen(sleep)                                   # stays in its group
    regrouped = subprocess.Popen(sleep, process_group=0)               # same session
    middle = os.fork()
    if middle == 0:                                                    # a classic daemon
        os.setsid()
        if os.fork() == 0:
            with open(sys.argv[1] + '.tmp', 'w') as fh:
                fh.write(str(os.getpid()))
            os.rename(sys.argv[1] + '.tmp', sys.argv[1])
            os.execv(sys.executable, sleep)
        os._exit(0)
    os.waitpid(middle, 0)
    print(member.pid, regrouped.pid, flush=True)
    time.sleep(60)
    """
)


@posix
@pytest.mark.skipif(sys.version_info < (3, 11), reason="process_group= needs 3.11")
def test_the_portable_spawner_finds_daemons_by_session_and_by_token(tmp_path: Path) -> None:
    token = os.urandom(8).hex()
    spawner = PortableSpawner(token=token)
    spawner.prepare()
    env = dict(os.environ, **{RUN_TOKEN_VAR: token})
    pidfile = tmp_path / "daemon"
    handle = spawner.spawn((sys.executable, "-c", TREE, str(pidfile)), env, tmp_path)
    try:
        assert handle.stdout is not None
        os.set_blocking(handle.stdout, True)
        data = b""
        while not data.endswith(b"\n"):  # unbuffered, print writes piece by piece
            data += os.read(handle.stdout, 100)
        member, regrouped = map(int, data.split())
        deadline = time.monotonic() + 10
        while not pidfile.exists():  # written by the daemon itself: nothing to wait on
            assert time.monotonic() < deadline, "no daemon"
            time.sleep(0.02)
        daemon = int(pidfile.read_text())
        strays = spawner.strays({handle.pid})
        # the member is the group's to stop; the other two left the group
        assert sorted(strays) == sorted([regrouped, daemon])
        assert member not in strays
        assert os.getsid(daemon) != handle.pid  # found by the token, not the session
    finally:
        spawner.kill(handle)
        spawner.kill_pids(spawner.strays({handle.pid}))
    deadline = time.monotonic() + 10
    reaped: list[tuple[int, int]] = []
    while spawner.strays(set()) or spawner.group_alive(handle) or not reaped:
        assert time.monotonic() < deadline, "the tree outlived its kill"
        reaped += [done for done in spawner.reap() if done[0] == handle.pid]
        time.sleep(0.02)
    os.close(handle.stdout)
    assert handle.stderr is not None
    os.close(handle.stderr)
    # everything is gone: the session is forgotten (its id may be reused)
    assert spawner._sessions == set()


# -- the guardian -----------------------------------------------------------------------------


@posix
def test_the_guardian_waits_as_a_shell_not_as_a_copy_of_prodserver() -> None:
    guardian = start_guardian()
    assert guardian is not None
    try:
        proc = psutil.Process(guardian.pid)
        deadline = time.monotonic() + 10
        while (cmdline := proc.cmdline())[:1] != ["/bin/sh"]:
            assert time.monotonic() < deadline, cmdline  # between its fork and its exec
            time.sleep(0.01)
        assert cmdline[3:7] == ["prodserver-guardian", sys.executable, "-I", "-S"]
        assert guardian.token not in " ".join(cmdline)  # every user can read a command line
        # its own session: a terminal's Ctrl-C to prodserver's group is not for it
        assert os.getsid(guardian.pid) == guardian.pid
        if sys.platform.startswith("linux"):  # (what RSS counts differs elsewhere)
            # a shell, not Python: a forked prodserver was 27 MiB of RSS, python -S alone 10
            assert proc.memory_info().rss < 6 * 2**20
    finally:
        guardian.close()
    assert guardian.popen is not None
    assert guardian.popen.returncode == 0


def _sleeper(token: str) -> subprocess.Popen[bytes]:
    code = "import time; time.sleep(60)"
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        env=dict(os.environ, **{RUN_TOKEN_VAR: token}),
        start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while psutil.Process(proc.pid).cmdline()[1:2] != ["-c"]:  # exec'd: its own environment
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return proc


@posix
@pytest.mark.parametrize("portable", [False, True], ids=["proc", "psutil"])
@pytest.mark.parametrize("dismissed", [False, True], ids=["abandoned", "dismissed"])
def test_the_guardian_kills_the_run_only_when_prodserver_dies(
    portable: bool, dismissed: bool
) -> None:
    guardian = start_guardian(portable=portable)
    assert guardian is not None
    group = subprocess.Popen(  # a group prodserver started, carrying no token
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    tagged = _sleeper(guardian.token)  # a daemon that left every group
    stranger = _sleeper("someone-else")
    try:
        guardian.watch(group.pid)
        if dismissed:
            guardian.close()
        else:
            guardian.abandon()  # what prodserver's death looks like: EOF, no goodbye
        for proc in (group, tagged):
            if dismissed:
                assert proc.poll() is None
            else:
                assert proc.wait(10) == -signal.SIGKILL
        assert stranger.poll() is None
    finally:
        for proc in (group, tagged, stranger):
            proc.kill()
            proc.wait()


# -- the whole loop on reader threads (how Windows reads pipes), for real here ---------------

THREADED_UP = (
    "import sys; from prodserver.runtime import control, plumbing; "
    "plumbing.Plumbing.poller = lambda self: plumbing.ThreadedPoller(); "
    "transport = sys.argv.pop(1); control.default_transport = lambda: transport; "
    "from prodserver.cli.main import main; sys.exit(main(sys.argv[1:]))"
)


@posix
@pytest.mark.parametrize("transport", ["unix", "tcp"])
def test_up_on_reader_threads_shows_every_line_answers_status_and_stops(
    tmp_path: Path, transport: str
) -> None:
    """Windows' plumbing on Linux: reader threads, and (tcp) the token-guarded loopback
    status endpoint that Windows uses instead of a unix socket."""
    talk = (
        "import sys, time\nfor i in range(2000): print('line', i)\n"
        "sys.stdout.flush(); sys.stderr.write('done\\n'); sys.stderr.flush(); time.sleep(60)"
    )
    (tmp_path / "prodserver.toml").write_text(
        "[processes.talk]\n"
        f"command = [{sys.executable!r}, '-c', {talk!r}]\n"
        "[processes.sleep]\n"
        f"command = [{sys.executable!r}, '-c', 'import time; time.sleep(60)']\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]), NO_COLOR="1")
    # short enough for a unix socket's path everywhere (macOS allows 104 bytes)
    env["XDG_RUNTIME_DIR"] = runtime = tempfile.mkdtemp(prefix="psrt")
    up = subprocess.Popen(
        [sys.executable, "-c", THREADED_UP, transport, "up"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert up.stdout is not None
        lines: list[str] = []
        talked: list[str] = []
        for line in up.stdout:  # the output arrives through the reader threads
            lines.append(line)
            if line.startswith("talk.1 ") and "| line" in line:
                talked.append(line.split("| ")[1])
            # two pipes: stderr's line may come before stdout's last ones (as on any runtime)
            if len(talked) == 2000 and any("| done" in x for x in lines):
                break
        assert talked == [f"line {i}\n" for i in range(2000)]
        # the control socket, watched by a thread, answers
        status = subprocess.run(
            [sys.executable, "-m", "prodserver", "status"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert status.returncode == 0, status.stderr
        assert "talk.1" in status.stdout and "sleep.1" in status.stdout
        endpoints = {p.name for p in Path(runtime).glob("prodserver/*/control.*")}
        assert endpoints == {"control.sock" if transport == "unix" else "control.json"}
        pids = [int(x.split()[-1]) for x in lines if "* started with pid" in x]
        up.send_signal(signal.SIGTERM)
        rest, err = up.communicate(timeout=30)
    finally:
        up.kill()
        up.wait()
        shutil.rmtree(runtime, ignore_errors=True)
    assert up.returncode == 0, err
    assert "talk.1  * stopped by SIGTERM" in rest and "sleep.1 * stopped by SIGTERM" in rest
    assert len(pids) == 2
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in pids)


@posix
def test_an_environment_read_once_without_the_token_is_not_read_again() -> None:
    """A stop sweeps for strays many times; after the first, only new processes cost a read."""
    from prodserver.runtime.tree import run_processes

    token = os.urandom(8).hex()
    tagged = _sleeper(token)
    plain = _sleeper("someone-else")
    cache: set[tuple[int, int]] = set()
    try:
        for _ in range(2):
            found = run_processes(set(), token, use_proc=False, untagged=cache)
            assert tagged.pid in found and plain.pid not in found
        assert (plain.pid, plain.pid) in cache  # its own session: start_new_session
        assert not any(pid == tagged.pid for pid, _ in cache)
    finally:
        for proc in (tagged, plain):
            proc.kill()
            proc.wait()
