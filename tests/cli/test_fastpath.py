"""The fast path of ``run`` and ``exec`` (prodserver/fastpath.py): it never changes what a user
sees, it is never taken on a stale record, and it writes nothing secret.

Every command here runs as a user runs it (``python -m prodserver``, whose start is the console
script's). Which path a start took is read from ``-X importtime``: the normal path imports
``argparse``, the fast path does not.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")

PROBE = """\
import json, os, signal, sys
status = dict(
    line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line
)
print(json.dumps({
    "argv": sys.argv,
    "cwd": os.getcwd(),
    # PRODSERVER_NO_CACHE: set for the normal path's run, and passed on as any variable
    "env": {k: v for k, v in os.environ.items() if k not in ("PWD", "PRODSERVER_NO_CACHE")},
    "ignored": status.get("SigIgn", "").strip(),
    "blocked": status.get("SigBlk", "").strip(),
    "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
}, sort_keys=True))
sys.stderr.write("probe says bye\\n")
end = os.environ.get("PROBE_END", "0")
if end.startswith("kill"):
    sys.stdout.flush()
    os.kill(os.getpid(), int(end[4:]))
sys.exit(int(end))
"""

WAITER = """\
import os, signal, sys
def note(signum, frame):
    os.write(1, signal.Signals(signum).name.encode() + b"\\n")  # no buffer lock to re-enter
    if signum == signal.SIGTERM:
        sys.exit(7)
for sig in (signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP, signal.SIGINT):
    signal.signal(sig, note)
print("ready", os.getppid(), flush=True)
while True:
    signal.pause()
"""

TOML = """\
[project]
name = "shop"
env_files = [".env", "?.env.local"]

[env]
GREETING = "hello ${WHO:-world}"
DATABASE_URL = "postgres://shop:${DB_PASSWORD}@db:5432/shop"

[processes.web]
command = ["python", "PROBE", "web", "${GREETING}", "$$literal"]
scale = 2

[processes.worker]
command = "python PROBE 'two words' ${GREETING}"
cwd = "sub"
env = { WORKER_LEVEL = "3" }

[processes.sh]
command = "python PROBE from-a-shell \\"$GREETING\\""
shell = true

[profiles.prod]
production = true
"""


@dataclass
class Result:
    code: int
    out: str
    err: str
    fast: bool


def prodserver(
    args: Sequence[str], env: dict[str, str], cwd: Path, stdin: str | None = None
) -> Result:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "prodserver", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
    )
    lines = proc.stderr.splitlines(keepends=True)
    imported = [line for line in lines if line.startswith("import time:")]
    err = "".join(line for line in lines if not line.startswith("import time:"))
    fast = not any(re.search(r"\|\s+argparse$", line.rstrip()) for line in imported)
    return Result(proc.returncode, proc.stdout, err, fast)


@pytest.fixture
def shop(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "shop"
    (root / "sub").mkdir(parents=True)
    probe = root / "probe.py"
    probe.write_text(PROBE)
    (root / "waiter.py").write_text(WAITER)
    (root / "prodserver.toml").write_text(TOML.replace("PROBE", str(probe)))
    (root / ".env").write_text("FROM_DOTENV=one\nDB_PASSWORD=hunter2-in-dotenv\n")
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PYTHONPATH": str(REPO),
        "SECRET_KEY": "shell-secret-canary",
        "MY_SETTING": "shell-plain-canary",
        "LANG": "C.UTF-8",
    }
    return root, env


def both_ways(args: Sequence[str], env: dict[str, str], cwd: Path, **kw: str) -> list[Result]:
    """The command without the cache, then twice with it: the second start is the fast one."""
    off = prodserver(args, {**env, "PRODSERVER_NO_CACHE": "1"}, cwd, **kw)
    first = prodserver(args, env, cwd, **kw)
    second = prodserver(args, env, cwd, **kw)
    assert not off.fast and not first.fast
    return [off, first, second]


def same(results: list[Result]) -> None:
    off = results[0]
    for other in results[1:]:
        assert (other.code, other.out, other.err) == (off.code, off.out, off.err)


def probe_data(result: Result) -> dict[str, object]:
    data: dict[str, object] = json.loads(result.out.splitlines()[0])
    return data


CASES = [
    ["run", "--", "python", "{root}/probe.py", "a b", "$HOME", "${SECRET_KEY}"],
    ["run", "--no-color-is-not-an-option-here", "--", "true"],
    ["exec", "web"],
    ["exec", "web.2", "--", "--extra", "two words"],
    ["exec", "worker"],
    ["exec", "sh"],
    ["-f", "prodserver.toml", "exec", "worker", "--profile", "prod", "--allow-root"],
    ["run", "-p", "prod", "--allow-root", "--", "python", "{root}/probe.py"],
    ["--env-file", ".env", "run", "--", "python", "{root}/probe.py"],
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: " ".join(c)[:60])
def test_the_fast_path_shows_exactly_what_the_normal_path_shows(
    shop: tuple[Path, dict[str, str]], case: list[str]
) -> None:
    root, env = shop
    args = [word.replace("{root}", str(root)) for word in case]
    results = both_ways(args, env, root)
    same(results)
    if results[0].code == 0:
        assert results[2].fast, "an identical second start takes the fast path"


@pytest.mark.parametrize(
    ("end", "code"), [("0", 0), ("3", 3), ("kill15", 128 + 15), ("kill9", 128 + 9)]
)
def test_exit_codes_and_signals_are_the_same(
    shop: tuple[Path, dict[str, str]], end: str, code: int
) -> None:
    root, env = shop
    env = {**env, "PROBE_END": end}
    for args in (["run", "--", "python", str(root / "probe.py")], ["exec", "web"]):
        results = both_ways(args, env, root)
        same(results)
        assert results[2].fast
        expected = code if args[0] == "run" else (-int(end[4:]) if end.startswith("kill") else code)
        assert results[0].code == expected
        assert "probe says bye" in results[2].err


def test_run_keeps_a_parent_and_the_command_starts_clean(
    shop: tuple[Path, dict[str, str]],
) -> None:
    """The command's parent is prodserver (it maps the exit code), and it starts with no signal
    ignored or blocked and no inherited descriptor above 2, whatever prodserver inherited."""
    root, env = shop
    script = (
        "import os, signal, subprocess, sys\n"
        "signal.signal(signal.SIGUSR2, signal.SIG_IGN)\n"
        "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})\n"
        "r, w = os.pipe(); os.set_inheritable(w, True)\n"
        "p = subprocess.Popen(sys.argv[1:], close_fds=False)\n"
        "sys.exit(p.wait())\n"
    )
    args = ["run", "--", "python", str(root / "probe.py")]
    outs = []
    for extra in ({"PRODSERVER_NO_CACHE": "1"}, {}, {}):
        proc = subprocess.run(
            [sys.executable, "-c", script, sys.executable, "-m", "prodserver", *args],
            env={**env, **extra},
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
        )
        outs.append(json.loads(proc.stdout.splitlines()[0]))
    assert outs[0] == outs[1] == outs[2]
    # (the probe is Python, which ignores SIGPIPE and SIGXFSZ itself)
    assert not int(outs[0]["ignored"], 16) & (1 << (signal.SIGUSR2 - 1))
    assert int(outs[0]["blocked"], 16) == 0
    assert outs[0]["fds"] == [0, 1, 2, 3]  # the probe's own listing


def test_run_forwards_signals_the_same_way(shop: tuple[Path, dict[str, str]]) -> None:
    root, env = shop
    args = [sys.executable, "-m", "prodserver", "run", "--", "python", str(root / "waiter.py")]
    seen = []
    for extra in ({"PRODSERVER_NO_CACHE": "1"}, {}, {}):
        proc = subprocess.Popen(
            args, env={**env, **extra}, cwd=root, stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        assert ready == ["ready", str(proc.pid)], "the command's parent is prodserver"
        got = []
        for sig in (signal.SIGUSR1, signal.SIGHUP, signal.SIGTERM):
            proc.send_signal(sig)
            got.append(proc.stdout.readline().strip())  # one at a time: each is acknowledged
        proc.communicate(timeout=30)
        seen.append((proc.returncode, got))
    assert seen == [(7, ["SIGUSR1", "SIGHUP", "SIGTERM"])] * 3


def _read_until(fd: int, word: bytes, seen: bytearray) -> None:
    while word not in seen:
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # EIO: the terminal's other side is closed
            chunk = b""
        assert chunk, f"the terminal closed before {word!r}: {bytes(seen)[-2000:]!r}"
        seen += chunk


def test_ctrl_c_on_a_terminal_reaches_the_command_once(
    shop: tuple[Path, dict[str, str]],
) -> None:
    """On a terminal, Ctrl-C reaches the command (from the terminal itself: prodserver is in
    the same foreground group) and is the command's to handle: prodserver does not stop, and
    goes on forwarding. (Whether a second SIGINT is sent cannot be seen here: the kernel merges
    two pending SIGINTs.)"""
    import pty

    root, env = shop
    args = [sys.executable, "-X", "importtime", "-m", "prodserver", "run", "--", "python"]
    args.append(str(root / "waiter.py"))
    seen_by_each = []
    for extra in ({"PRODSERVER_NO_CACHE": "1"}, {}, {}):
        pid, fd = pty.fork()
        if pid == 0:  # the child: a session of its own on the new terminal
            os.chdir(root)
            os.execve(sys.executable, args, {**env, **extra})
        seen = bytearray()
        try:
            _read_until(fd, b"ready", seen)
            os.write(fd, b"\x03")  # Ctrl-C: the terminal signals its foreground group
            _read_until(fd, b"SIGINT", seen)
            os.kill(pid, signal.SIGTERM)  # forwarded: it follows any SIGINT prodserver sent
            _read_until(fd, b"SIGTERM", seen)
        except BaseException:
            os.killpg(pid, signal.SIGKILL)  # the session: prodserver and the command
            raise
        finally:
            _, status = os.waitpid(pid, 0)
            os.close(fd)
        names = re.findall(rb"SIG[A-Z]+", bytes(seen))
        fast = re.search(rb"\|\s+argparse\r?\n", bytes(seen)) is None
        seen_by_each.append((os.waitstatus_to_exitcode(status), names, fast))
    assert seen_by_each == [
        (7, [b"SIGINT", b"SIGTERM"], False),
        (7, [b"SIGINT", b"SIGTERM"], False),
        (7, [b"SIGINT", b"SIGTERM"], True),
    ]


def test_stdin_reaches_the_command(shop: tuple[Path, dict[str, str]]) -> None:
    root, env = shop
    args = ["run", "--", "python", "-c", "print(input()[::-1])"]
    results = [prodserver(args, env, root, stdin="hello\n") for _ in range(3)]
    assert [r.out for r in results] == ["olleh\n"] * 3
    assert results[2].fast


def test_errors_are_never_fast_and_stay_the_same(shop: tuple[Path, dict[str, str]]) -> None:
    root, env = shop
    for args, code in (
        (["exec", "nope"], 2),
        (["run", "--", "no-such-program-here"], 69),
        (["run", "-p", "prod", "--", "true"], 78 if os.geteuid() == 0 else 0),
        (["exec", "web", "--no-such-option"], 2),
    ):
        results = both_ways(args, env, root)
        same(results)
        assert results[0].code == code
        if code:
            assert not results[2].fast
            assert results[2].err.startswith("prodserver") or "usage" in results[2].err


def warm(args: Sequence[str], env: dict[str, str], cwd: Path) -> Result:
    prodserver(args, env, cwd)
    result = prodserver(args, env, cwd)
    assert result.fast
    return result


def greeting(result: Result) -> object:
    return probe_data(result)["argv"]


def test_editing_the_configuration_is_seen(shop: tuple[Path, dict[str, str]]) -> None:
    root, env = shop
    warm(["exec", "web"], env, root)
    toml = root / "prodserver.toml"
    toml.write_text(toml.read_text().replace('"hello ${WHO', '"bonjour ${WHO'))
    after = prodserver(["exec", "web"], env, root)
    assert not after.fast
    assert "bonjour world" in greeting(after)  # type: ignore[operator]


def test_editing_an_env_file_is_seen(shop: tuple[Path, dict[str, str]]) -> None:
    root, env = shop
    warm(["exec", "web"], env, root)
    (root / ".env").write_text("FROM_DOTENV=two\nDB_PASSWORD=hunter2-in-dotenv\n")
    after = prodserver(["exec", "web"], env, root)
    assert not after.fast
    assert probe_data(after)["env"]["FROM_DOTENV"] == "two"  # type: ignore[index]


def test_an_optional_env_file_appearing_is_seen(shop: tuple[Path, dict[str, str]]) -> None:
    root, env = shop
    warm(["exec", "web"], env, root)
    (root / ".env.local").write_text("LOCAL=yes\n")
    after = prodserver(["exec", "web"], env, root)
    assert not after.fast
    assert probe_data(after)["env"]["LOCAL"] == "yes"  # type: ignore[index]


def test_a_variable_the_configuration_reads_is_seen(shop: tuple[Path, dict[str, str]]) -> None:
    root, env = shop
    warm(["exec", "web"], env, root)
    after = prodserver(["exec", "web"], {**env, "WHO": "you"}, root)
    assert not after.fast
    assert "hello you" in greeting(after)  # type: ignore[operator]


def test_a_new_program_earlier_on_path_is_seen(shop: tuple[Path, dict[str, str]]) -> None:
    root, env = shop
    first, second = root / "bin1", root / "bin2"
    first.mkdir()
    second.mkdir()
    for where, word in ((second, "second"), (first, "first")):
        tool = where / "mytool"
        tool.write_text(f"#!/bin/sh\necho {word}\n")
    (second / "mytool").chmod(0o755)
    env = {**env, "PATH": f"{first}:{second}:{env['PATH']}"}
    assert warm(["run", "--", "mytool"], env, root).out == "second\n"
    (first / "mytool").chmod(0o755)  # now the first one on PATH
    after = prodserver(["run", "--", "mytool"], env, root)
    assert not after.fast
    assert after.out == "first\n"


def test_another_prodserver_version_is_seen(
    shop: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, env = shop
    tree = tmp_path / "tree"
    shutil.copytree(REPO / "prodserver", tree / "prodserver")
    env = {**env, "PYTHONPATH": str(tree)}
    before = warm(["exec", "web"], env, root)
    init = tree / "prodserver" / "__init__.py"
    init.write_text(init.read_text().replace('__version__ = "', '__version__ = "9'))
    after = prodserver(["exec", "web"], env, root)
    assert not after.fast
    assert (after.code, after.out) == (before.code, before.out)


def test_an_exec_that_fails_falls_back_to_the_normal_path_and_its_error(
    shop: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """A record whose program can no longer start (here its script's interpreter is gone, which
    no input of the record shows) is left for the normal path, whose error the user sees."""
    root, env = shop
    interpreter = tmp_path / "interp"
    interpreter.symlink_to("/bin/sh")
    script = root / "tool"
    script.write_text(f"#!{interpreter}\necho tool ran\n")
    script.chmod(0o755)
    toml = root / "prodserver.toml"
    toml.write_text(toml.read_text() + f'\n[processes.tool]\ncommand = ["{script}"]\n')
    assert warm(["exec", "tool"], env, root).out == "tool ran\n"
    interpreter.unlink()
    after = prodserver(["exec", "tool"], env, root)
    off = prodserver(["exec", "tool"], {**env, "PRODSERVER_NO_CACHE": "1"}, root)
    assert not after.fast
    assert (after.code, after.out, after.err) == (off.code, off.out, off.err)
    assert after.code == 71 and "cannot start" in after.err


def test_a_damaged_or_foreign_record_is_ignored_and_rebuilt(
    shop: tuple[Path, dict[str, str]],
) -> None:
    root, env = shop
    good = warm(["exec", "web"], env, root)
    records = list((Path(env["XDG_CACHE_HOME"]) / "prodserver").glob("*.fast"))
    assert len(records) == 1
    record = records[0]
    data = record.read_bytes()
    for damaged, mode in ((data[:-3] + b"xyz", 0o600), (data, 0o644), (b"junk", 0o600)):
        record.write_bytes(damaged)
        record.chmod(mode)
        after = prodserver(["exec", "web"], env, root)
        assert not after.fast
        assert (after.code, after.out, after.err) == (good.code, good.out, good.err)
        assert prodserver(["exec", "web"], env, root).fast, "rebuilt"


def test_no_secret_in_clear_and_private_modes(shop: tuple[Path, dict[str, str]]) -> None:
    root, env = shop
    for args in (["exec", "web"], ["run", "--", "python", str(root / "probe.py")]):
        result = warm(args, env, root)
        shown = probe_data(result)["env"]
        assert shown["SECRET_KEY"] == "shell-secret-canary"  # type: ignore[index]
        assert "hunter2-in-dotenv" in shown["DATABASE_URL"]  # type: ignore[index]
    directory = Path(env["XDG_CACHE_HOME"]) / "prodserver"
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    records = list(directory.glob("*.fast"))
    assert len(records) == 2
    for path in directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        data = path.read_bytes()
        assert b"shell-secret-canary" not in data
        assert b"hunter2-in-dotenv" not in data
    for path in records:
        # a fast record does not even copy the shell's plain variables: it names them
        assert b"shell-plain-canary" not in path.read_bytes()


def test_a_secret_written_in_the_toml_gets_no_record(shop: tuple[Path, dict[str, str]]) -> None:
    root, env = shop
    toml = root / "prodserver.toml"
    toml.write_text(toml.read_text() + '\n[profiles.prod.env]\nAPI_TOKEN = "toml-canary"\n')
    args = ["run", "-p", "prod", "--allow-root", "--", "python", str(root / "probe.py")]
    results = both_ways(args, env, root)
    same(results)
    assert not results[2].fast
    for path in (Path(env["XDG_CACHE_HOME"]) / "prodserver").iterdir():
        assert b"toml-canary" not in path.read_bytes()


@pytest.mark.parametrize(
    "dotenv",
    [
        'TOKEN_SECRET="quoted-canary"\n',  # read from between quotes: a byte range of the file
        'TOKEN_SECRET="esc\\"aped-canary"\n',  # not in the file as it is read: no record
        "export TOKEN_SECRET=exported-canary # a comment\n",
    ],
)
def test_secrets_from_an_env_file_in_any_form(
    shop: tuple[Path, dict[str, str]], dotenv: str
) -> None:
    root, env = shop
    (root / ".env").write_text("DB_PASSWORD=hunter2-in-dotenv\n" + dotenv)
    args = ["run", "--", "python", str(root / "probe.py")]
    results = both_ways(args, env, root)
    same(results)
    value = probe_data(results[2])["env"]["TOKEN_SECRET"]  # type: ignore[index]
    assert value.endswith("-canary")
    assert results[2].fast == ("esc" not in dotenv)
    for path in (Path(env["XDG_CACHE_HOME"]) / "prodserver").iterdir():
        assert value.encode() not in path.read_bytes()


def test_a_procfile_project(shop: tuple[Path, dict[str, str]]) -> None:
    root, env = shop
    (root / "prodserver.toml").unlink()
    probe = root / "probe.py"
    (root / "Procfile").write_text(
        f"web: python {probe} $PORT\nworker: exec python {probe} \"$FROM_DOTENV\" 'a b'\n"
    )
    for args in (["exec", "web"], ["exec", "worker"], ["run", "--", "python", str(probe)]):
        results = both_ways(args, env, root)
        same(results)
        assert results[0].code == 0
        assert results[2].fast


def test_no_cache_never_takes_the_fast_path(shop: tuple[Path, dict[str, str]]) -> None:
    root, env = shop
    warm(["exec", "web"], env, root)
    assert not prodserver(["exec", "web"], {**env, "PRODSERVER_NO_CACHE": "1"}, root).fast
    assert not prodserver(["--no-cache", "exec", "web"], env, root).fast
