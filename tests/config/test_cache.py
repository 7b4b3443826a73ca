"""The configuration cache (prodserver/config/cache.py): a hit is exactly what resolving the
files again gives, every kind of input invalidates it, nothing secret is written, and an entry
that cannot be trusted is never used."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import stat
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import prodserver
from prodserver.config import cache
from prodserver.config.display import project_data
from prodserver.config.model import ResolvedProject
from prodserver.config.resolve import resolve_with_provenance

REPO = Path(__file__).resolve().parents[2]

TOML = """\
[project]
name = "shop"
env_files = [".env", "?.env.local"]

[env]
GREETING = "hello ${WHO:-world}"

[processes.web]
command = "python -m http.server ${PORT}"

[processes.worker]
command = ["python", "-c", "print('${GREETING}')"]

[profiles.base.env]
LEVEL = "base"

[profiles.prod]
extends = "base"
"""


class Counter:
    """Resolves ``file`` with ``environ`` through the cache, counting real resolutions."""

    def __init__(self, file: Path, environ: Mapping[str, str], profile: str | None = None):
        self.file = file
        self.environ = dict(environ)
        self.profile = profile
        self.resolutions = 0

    def __call__(self, **kw: object) -> tuple[ResolvedProject, frozenset[str]]:
        environ = dict(self.environ)

        def resolve() -> tuple[ResolvedProject, frozenset[str]]:
            self.resolutions += 1
            project, prov = resolve_with_provenance(
                file=self.file, profile=self.profile, environ=environ, cwd=self.file.parent
            )
            return project, frozenset(prov.configured)

        request = {"file": str(self.file), "profile": self.profile}
        return cache.cached(resolve, request, environ=environ, **kw)  # type: ignore[arg-type]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "shop"
    root.mkdir()
    (root / "prodserver.toml").write_text(TOML)
    (root / ".env").write_text("FROM_DOTENV=one\n")
    monkeypatch.chdir(root)
    environ = {"PATH": os.environ.get("PATH", "/usr/bin"), "XDG_CACHE_HOME": str(tmp_path / "c")}
    return root / "prodserver.toml", environ


def entries(environ: Mapping[str, str]) -> list[Path]:
    directory = Path(environ["XDG_CACHE_HOME"]) / "prodserver"
    return sorted(directory.glob("*.entry")) if directory.exists() else []


def _sets_sorted(value: Any) -> Any:
    """``value`` with every set in it, at any depth, as a sorted list."""
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changed = {f.name: _sets_sorted(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return dataclasses.replace(value, **changed)
    if isinstance(value, tuple):
        return tuple(_sets_sorted(v) for v in value)
    if isinstance(value, Mapping):
        return {k: _sets_sorted(v) for k, v in value.items()}
    return value


def shown(result: tuple[ResolvedProject, frozenset[str]]) -> str:
    """What a user can be shown of a resolution, every value included, byte for byte."""
    project, configured = result
    data = project_data(project, show_secrets=True, configured=configured)
    # a set's order is the interpreter's (it differs between any two runs): compared sorted
    return repr(_sets_sorted(project)) + json.dumps(data, sort_keys=True) + repr(sorted(configured))


def test_a_second_resolution_is_read_from_the_cache_and_is_the_same(project: tuple) -> None:
    file, environ = project
    resolve = Counter(file, environ)
    first = resolve()
    second = resolve()
    assert resolve.resolutions == 1
    assert shown(second) == shown(first)
    assert second[0].env["FROM_DOTENV"] == "one"
    assert len(entries(environ)) == 1


@pytest.mark.parametrize(
    "change",
    [
        "toml edit",
        "extended profile edit",
        "env file edit",
        "optional env file appears",
        "variable change",
        "new variable",
        "prodserver version",
        "python version",
    ],
)
def test_every_kind_of_input_invalidates(
    project: tuple, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    file, environ = project
    resolve = Counter(file, environ, profile="prod")
    before = resolve()
    root = file.parent
    if change == "toml edit":
        file.write_text(TOML.replace("hello", "howdy"))
    elif change == "extended profile edit":
        file.write_text(TOML.replace('LEVEL = "base"', 'LEVEL = "changed"'))
    elif change == "env file edit":
        (root / ".env").write_text("FROM_DOTENV=two\n")
    elif change == "optional env file appears":
        (root / ".env.local").write_text("LOCAL=yes\n")
    elif change == "variable change":
        resolve.environ["WHO"] = "you"
    elif change == "new variable":
        resolve.environ["UNRELATED"] = "x"  # the shell's variables are all a layer of values
    elif change == "prodserver version":
        monkeypatch.setattr(prodserver, "__version__", prodserver.__version__ + ".post1")
    elif change == "python version":
        monkeypatch.setattr(sys, "version", sys.version + " (another build)")
    after = resolve()
    assert resolve.resolutions == 2, "the change was not seen"
    expected = Counter(file, resolve.environ, profile="prod")(no_cache=True)
    assert shown(after) == shown(expected)
    if change not in ("prodserver version", "python version", "new variable"):
        assert shown(after) != shown(before)
    assert resolve().__eq__(after) and resolve.resolutions == 2  # and cached again


def test_a_file_of_the_same_size_and_time_with_other_bytes_is_seen(project: tuple) -> None:
    file, environ = project
    resolve = Counter(file, environ)
    resolve()
    st = file.stat()
    file.write_text(TOML.replace("hello", "HELLO"))
    os.utime(file, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert resolve()[0].env["GREETING"] == "HELLO world"
    assert resolve.resolutions == 2


def test_no_cache_and_the_variable_bypass_it(project: tuple) -> None:
    file, environ = project
    resolve = Counter(file, environ)
    resolve(no_cache=True)
    resolve(no_cache=True)
    resolve.environ[cache.NO_CACHE_ENV] = "1"
    resolve()
    resolve()
    assert resolve.resolutions == 4
    assert entries(environ) == []
    resolve.environ[cache.NO_CACHE_ENV] = "0"
    resolve()
    assert len(entries(resolve.environ)) == 1


def test_files_are_private(project: tuple, tmp_path: Path) -> None:
    file, environ = project
    directory = Path(environ["XDG_CACHE_HOME"]) / "prodserver"
    directory.mkdir(parents=True, mode=0o755)
    directory.chmod(0o755)
    Counter(file, environ)()
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    (entry,) = entries(environ)
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert not [p for p in directory.iterdir() if p.name.startswith(".tmp-")]


SECRETS_TOML = """\
[project]
name = "vault"

[env]
DATABASE_URL = "postgres://app:${DB_PASSWORD}@db.internal/app"
API_TOKEN = "${UPSTREAM_TOKEN}"

[processes.web]
command = "python -c pass --token ${API_TOKEN}"
env = { SECRET_KEY = "${DJANGO_SECRET_KEY}" }
"""


def test_no_secret_value_is_written_and_a_hit_gives_them_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "vault"
    root.mkdir()
    (root / "prodserver.toml").write_text(SECRETS_TOML)
    (root / ".env").write_text("DB_PASSWORD=canary-dotenv-7f3a9\n")
    monkeypatch.chdir(root)
    environ = {
        "PATH": "/usr/bin:/bin",
        "XDG_CACHE_HOME": str(tmp_path / "c"),
        "UPSTREAM_TOKEN": "canary-shell-token-51be",
        "DJANGO_SECRET_KEY": "canary-shell-key-c0de",
        "AWS_SECRET_ACCESS_KEY": "canary-unrelated-secret-99",
    }
    resolve = Counter(root / "prodserver.toml", environ)
    fresh = resolve(debug=True)
    (entry,) = entries(environ)
    written = b"".join(p.read_bytes() for p in entry.parent.iterdir())
    for canary in (b"canary-dotenv-7f3a9", b"canary-shell-token-51be", b"canary-shell-key-c0de"):
        assert canary not in written
    assert b"canary-unrelated-secret-99" not in written
    hit = resolve()
    assert resolve.resolutions == 1
    assert shown(hit) == shown(fresh)
    web = hit[0].processes["web"]
    assert web.argv[-1] == "canary-shell-token-51be"
    assert web.instances[0].env["SECRET_KEY"] == "canary-shell-key-c0de"
    assert hit[0].env["DATABASE_URL"] == "postgres://app:canary-dotenv-7f3a9@db.internal/app"


def test_a_secret_written_in_the_file_itself_is_not_cached(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "inline"
    root.mkdir()
    (root / "prodserver.toml").write_text(
        '[env]\nSECRET_KEY = "canary-inline-1234"\n[processes.web]\ncommand = "true"\n'
    )
    environ = {"PATH": "/usr/bin", "XDG_CACHE_HOME": str(tmp_path / "c")}
    resolve = Counter(root / "prodserver.toml", environ)
    assert resolve(debug=True)[0].env["SECRET_KEY"] == "canary-inline-1234"
    said = capsys.readouterr().err
    assert "not cached: the value of the secret SECRET_KEY is written in the configuration" in said
    assert entries(environ) == []
    resolve()
    assert resolve.resolutions == 2


def _damage(entry: Path, how: str, marker: Path) -> None:
    raw = entry.read_bytes()
    if how == "corrupt":
        entry.write_bytes(raw[:-10] + bytes(b ^ 0xFF for b in raw[-10:]))
    elif how == "truncated":
        entry.write_bytes(raw[: len(raw) // 2])
    elif how == "other format":
        entry.write_bytes(b"prodserver-config-cache-v0\x00" + raw[30:])
    elif how == "foreign":
        # a well-formed entry whose content names a function: it must never be called

        class Evil:
            def __reduce__(self) -> tuple[object, tuple[str]]:
                return (os.mkdir, (str(marker),))

        data = pickle.dumps((Evil(), frozenset()))
        body = pickle.dumps(([], (), data, {}))
        import hashlib

        entry.write_bytes(cache.MAGIC + hashlib.sha256(body).digest() + body)
    elif how == "open to others":
        entry.chmod(0o644)
    elif how == "another user's":
        os.chown(entry, 12345, 12345)


@pytest.mark.parametrize(
    "how", ["corrupt", "truncated", "other format", "foreign", "open to others", "another user's"]
)
def test_an_entry_that_cannot_be_trusted_is_ignored_and_rebuilt(
    project: tuple, how: str, tmp_path: Path
) -> None:
    if how == "another user's" and os.geteuid() != 0:
        pytest.skip("needs root to give a file to another user")
    file, environ = project
    resolve = Counter(file, environ)
    fresh = resolve()
    (entry,) = entries(environ)
    marker = tmp_path / "was-called"
    _damage(entry, how, marker)
    again = resolve()
    assert resolve.resolutions == 2
    assert shown(again) == shown(fresh)
    assert not marker.exists()
    (entry,) = entries(environ)
    assert entry.stat().st_uid == os.geteuid()
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    resolve()
    assert resolve.resolutions == 2, "the rebuilt entry is used"


def test_a_cache_directory_of_another_user_is_not_used(project: tuple) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to give a directory to another user")
    file, environ = project
    directory = Path(environ["XDG_CACHE_HOME"]) / "prodserver"
    directory.mkdir(parents=True, mode=0o700)
    os.chown(directory, 12345, 12345)
    resolve = Counter(file, environ)
    resolve()
    resolve()
    assert resolve.resolutions == 2
    assert entries(environ) == []


def test_a_working_directory_that_is_gone_resolves_without_the_cache(
    project: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file, environ = project
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    resolve = Counter(file, environ)
    resolve()
    resolve()
    assert resolve.resolutions == 2
    assert entries(environ) == []


def test_entries_are_bounded(project: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    file, environ = project
    monkeypatch.setattr(cache, "MAX_ENTRIES", 3)
    resolve = Counter(file, environ)
    for n in range(6):
        resolve.environ["N"] = str(n)
        resolve()
    assert len(entries(environ)) == 3


def test_errors_are_never_cached(project: tuple) -> None:
    from prodserver.errors import ConfigError

    file, environ = project
    file.write_text('[processes.web]\ncommand = "true"\nworkers = "x"\n')
    resolve = Counter(file, environ)
    for _ in range(2):
        with pytest.raises(ConfigError):
            resolve()
    assert resolve.resolutions == 2
    assert entries(environ) == []


# -- every configuration of the repository, with and without the cache ------------------------


def _cases() -> list[tuple[Path, str | None]]:
    cases: list[tuple[Path, str | None]] = []
    tomls = [REPO / "prodserver.toml", *sorted((REPO / "examples").glob("*/prodserver.toml"))]
    for path in tomls:
        import tomllib

        profiles = tomllib.loads(path.read_text()).get("profiles", {})
        cases += [(path, None), *((path, name) for name in profiles)]
    cases.append((REPO / "examples" / "procfile-app" / "Procfile", None))
    for path in sorted((REPO / "tests" / "procfiles").glob("*.Procfile")):
        if not path.name.endswith(".invalid.Procfile"):
            cases.append((path, None))
    return cases


CASES = _cases()


def test_the_corpus_is_not_empty() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize(
    ("path", "profile"), CASES, ids=[f"{p.parent.name}/{p.name}:{n}" for p, n in CASES]
)
def test_every_configuration_is_the_same_from_the_cache(
    path: Path, profile: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prodserver.errors import ConfigError

    monkeypatch.chdir(path.parent)
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin"),
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "c"),
        "SECRET_KEY": "s3cret-from-the-shell",
    }
    resolve = Counter(path, environ, profile=profile)
    try:
        uncached = resolve(no_cache=True)
    except ConfigError as exc:
        with pytest.raises(ConfigError) as again:
            resolve()
        assert again.value.render() == exc.render()
        return
    stored = resolve()
    hit = resolve()
    assert shown(stored) == shown(uncached)
    assert shown(hit) == shown(uncached)
    if entries(environ):
        assert resolve.resolutions == 2, "the second cached resolution was a miss"


# -- the command line ----------------------------------------------------------------------


def test_run_reads_the_same_environment_from_the_cache_and_no_cache_is_global(
    project: tuple, tmp_path: Path
) -> None:
    file, environ = project
    env = {**environ, "PYTHONPATH": str(REPO), "WHO": "cli"}
    script = "import os; print(os.environ['GREETING'], os.environ['FROM_DOTENV'])"
    argv = [sys.executable, "-m", "prodserver", "run", "--", sys.executable, "-c", script]

    def run(*extra: str) -> str:
        done = subprocess.run(
            [*argv[:3], *extra, *argv[3:]],
            env=env,
            cwd=file.parent,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    assert run("--no-cache") == "hello cli one\n"
    assert entries(environ) == []
    assert run() == "hello cli one\n"
    (entry,) = entries(environ)
    written = entry.stat().st_mtime_ns
    assert run() == "hello cli one\n"
    assert entry.stat().st_mtime_ns == written, "the second run did not read the entry"
    (file.parent / ".env").write_text("FROM_DOTENV=two\n")
    assert run() == "hello cli two\n"
