"""Finding and reading the configuration: every bad file gets a clean ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodserver.config.resolve import resolve_project
from prodserver.config.sources import discover, index_lines, read_source
from prodserver.errors import ConfigError
from tests.conftest import BASE_ENV

MINIMAL = '[processes.web]\ncommand = "python -m http.server"\n'


def read_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        resolve_project(file=path, environ=BASE_ENV, cwd=path.parent)
    return exc.value


class TestDiscovery:
    def test_walks_up(self, project):
        root = project(MINIMAL)
        deep = root / "a" / "b"
        deep.mkdir(parents=True)
        assert discover(cwd=deep, environ={}) == root / "prodserver.toml"

    def test_env_variable_overrides(self, tmp_path):
        other = tmp_path / "other.toml"
        other.write_text(MINIMAL)
        assert discover(cwd=tmp_path, environ={"PRODSERVER_FILE": str(other)}) == other

    def test_file_argument_beats_env_variable(self, tmp_path):
        a, b = tmp_path / "a.toml", tmp_path / "b.toml"
        a.write_text(MINIMAL)
        b.write_text(MINIMAL)
        assert discover(a, cwd=tmp_path, environ={"PRODSERVER_FILE": str(b)}) == a

    def test_pyproject_tool_table(self, tmp_path):
        (tmp_path / "pyproject.toml").write_text(
            '[project]\nname = "x"\n\n[tool.prodserver.processes.web]\ncommand = "true"\n'
        )
        found = discover(cwd=tmp_path, environ={})
        assert found.name == "pyproject.toml"
        project = resolve_project(cwd=tmp_path, environ=BASE_ENV)
        assert list(project.processes) == ["web"]

    def test_pyproject_error_lines_point_into_the_tool_table(self, tmp_path):
        (tmp_path / "pyproject.toml").write_text(
            '[project]\nname = "x"\n\n[tool.prodserver.processes.web]\n'
            'command = "true"\nscael = 1\n'
        )
        err = read_error(tmp_path / "pyproject.toml")
        assert err.problems[0].location.line == 6

    def test_pyproject_without_table_is_skipped(self, tmp_path):
        (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
        (tmp_path / "Procfile").write_text("web: python -m http.server\n")
        assert discover(cwd=tmp_path, environ={}).name == "Procfile"

    def test_nothing_found(self, tmp_path):
        with pytest.raises(ConfigError) as exc:
            discover(cwd=tmp_path, environ={})
        assert "prodserver init" in exc.value.render()

    def test_directory_instead_of_file(self, tmp_path):
        with pytest.raises(ConfigError) as exc:
            discover(tmp_path, environ={})
        assert "is a directory" in exc.value.render()


class TestBadFiles:
    def test_malformed_toml_has_line_and_column(self, tmp_path):
        path = tmp_path / "prodserver.toml"
        path.write_text('[processes.web]\ncommand = "unterminated\n')
        err = read_error(path)
        assert err.problems[0].location.line == 2
        assert err.problems[0].location.column is not None
        assert "invalid TOML" in err.render()

    def test_duplicate_table(self, tmp_path):
        path = tmp_path / "prodserver.toml"
        path.write_text(MINIMAL + "\n" + MINIMAL)
        err = read_error(path)
        assert "invalid TOML" in err.render()
        assert err.problems[0].location.line == 4

    def test_empty_file_is_valid_but_has_no_processes(self, tmp_path):
        path = tmp_path / "prodserver.toml"
        path.write_text("")
        assert resolve_project(file=path, environ=BASE_ENV).processes == {}

    def test_not_utf8(self, tmp_path):
        path = tmp_path / "prodserver.toml"
        path.write_bytes(b'[env]\nA = "caf\xe9"\n')
        err = read_error(path)
        assert "not valid UTF-8" in err.render()
        assert err.problems[0].location.line == 2

    def test_nul_byte(self, tmp_path):
        path = tmp_path / "prodserver.toml"
        path.write_bytes(b"[env]\nA = 1\x00\n")
        assert "NUL" in read_error(path).render()

    def test_deep_nesting_is_a_clean_error(self, tmp_path):
        path = tmp_path / "prodserver.toml"
        path.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n")
        err = read_error(path)
        assert "TOML" in err.render()

    def test_huge_file_refused_before_parsing(self, tmp_path):
        path = tmp_path / "prodserver.toml"
        path.write_text("# " + "x" * (5 * 1024 * 1024) + "\n")
        assert "limit" in read_error(path).render()

    def test_bom_accepted(self, tmp_path):
        path = tmp_path / "prodserver.toml"
        path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
        assert list(read_source(path).data["processes"]) == ["web"]

    def test_unknown_top_level_key(self, tmp_path):
        path = tmp_path / "prodserver.toml"
        path.write_text('[proceses.web]\ncommand = "true"\n')
        text = read_error(path).render()
        assert "unknown key 'proceses'" in text
        assert "did you mean 'processes'" in text

    def test_wrong_type_names_path_and_line(self, tmp_path):
        path = tmp_path / "prodserver.toml"
        path.write_text('[processes.web]\ncommand = "true"\nscale = [1]\n')
        err = read_error(path)
        problem = err.problems[0]
        assert problem.location.key_path == "processes.web.scale"
        assert problem.location.line == 3
        assert "expected" in problem.message

    def test_out_of_range(self, tmp_path):
        path = tmp_path / "prodserver.toml"
        path.write_text('[processes.web]\ncommand = "true"\nport = 70000\n')
        assert "out of range" in read_error(path).render()

    def test_unknown_key_in_a_profile_process(self, tmp_path):
        path = tmp_path / "prodserver.toml"
        path.write_text(MINIMAL + '[profiles.prod.processes.web]\nstop_timout = "5s"\n')
        text = read_error(path).render()
        assert "profiles.prod.processes.web.stop_timout" in text
        assert "did you mean 'stop_timeout'" in text


class TestProcfileSource:
    def test_procfile_and_its_env(self, tmp_path):
        (tmp_path / "Procfile").write_text(
            "web: python -m http.server $PORT\r\nworker: python worker.py\r\n"
        )
        (tmp_path / ".env").write_text("GREETING=hello\n")
        project = resolve_project(cwd=tmp_path, environ=BASE_ENV)
        assert list(project.processes) == ["web", "worker"]
        web = project.processes["web"].instances[0]
        # the shell expands $PORT at run time from the process's own environment
        assert web.argv == ("/bin/sh", "-c", "exec python -m http.server $PORT")
        assert web.env["PORT"] == "5000"
        assert project.processes["worker"].argv == ("python", "worker.py")
        assert project.env["GREETING"] == "hello"

    def test_shell_syntax_runs_through_sh_as_written(self, tmp_path):
        (tmp_path / "Procfile").write_text("web: cd app && python serve.py\n")
        project = resolve_project(cwd=tmp_path, environ=BASE_ENV)
        # a compound line keeps its shell (no exec); running it so is what a Procfile means
        assert project.processes["web"].argv == ("/bin/sh", "-c", "cd app && python serve.py")
        assert project.warnings == ()

    def test_duplicate_name(self, tmp_path):
        (tmp_path / "Procfile").write_text("web: a\nweb: b\n")
        with pytest.raises(ConfigError) as exc:
            resolve_project(cwd=tmp_path, environ=BASE_ENV)
        assert "web" in exc.value.render()


def test_line_index_handles_inline_tables_and_quoted_keys():
    index = index_lines(
        '[processes."my-web"]\nhealthcheck = { http = "x", interval = "5s" }\n'
        '[profiles.prod.env]\nA = "1"\n'
    )
    assert index.line_of(("processes", "my-web", "healthcheck", "interval")) == 2
    assert index.line_of(("profiles", "prod", "env", "A")) == 4


class TestJsonAndYamlSources:
    """`prodserver init --format json|yaml` writes these; the engine reads them the same."""

    def test_json(self, tmp_path):
        path = tmp_path / "prodserver.json"
        path.write_text('{"processes": {"web": {"command": "python -m http.server"}}}')
        project = resolve_project(file=path, environ=BASE_ENV)
        assert project.processes["web"].argv[:3] == ("python", "-m", "http.server")

    def test_yaml(self, tmp_path):
        path = tmp_path / "prodserver.yaml"
        path.write_text("processes:\n  web:\n    command: [python, -m, http.server]\n")
        assert list(resolve_project(file=path, environ=BASE_ENV).processes) == ["web"]

    def test_bad_json_has_line_and_column(self, tmp_path):
        path = tmp_path / "prodserver.json"
        path.write_text('{"processes": {\n  "web": }\n}')
        err = read_error(path)
        assert err.problems[0].location.line == 2
        assert "invalid JSON" in err.render()

    def test_bad_yaml_has_line(self, tmp_path):
        path = tmp_path / "prodserver.yml"
        path.write_text("processes:\n  web: [unclosed\n")
        err = read_error(path)
        assert "invalid YAML" in err.render()
        assert err.problems[0].location.line is not None

    def test_yaml_that_is_not_a_table(self, tmp_path):
        path = tmp_path / "prodserver.yaml"
        path.write_text("- a\n- b\n")
        assert "must be a table" in read_error(path).render()


# -- pyproject.toml (folded in from test_spec_review.py) -----------------------------------------


def test_pyproject_source_takes_the_project_name_from_pep621(project):
    """SPEC §1: `[tool.prodserver]` in `pyproject.toml` is an alternative source, and
    `[project] name` is "used by exports: compose project, systemd unit prefix, k8s labels".
    A user of `[tool.prodserver]` has already named the project in `[project] name`; falling
    back to the directory name (a CI checkout's random path) gives exports a wrong name."""
    root = project(
        None,
        **{
            "pyproject.toml": (
                '[project]\nname = "shop-app"\nversion = "1.0"\n\n'
                '[tool.prodserver.processes.web]\ncommand = "s"\n'
            )
        },
    )
    assert resolve_project(cwd=root, environ=dict(BASE_ENV)).name == "shop-app"


def test_a_removed_working_directory_is_a_clear_error(tmp_path):
    import subprocess
    import sys

    script = "import os, sys; os.rmdir(os.getcwd()); sys.argv[0] = 'prodserver'\n"
    script += "from prodserver.cli.main import entrypoint; entrypoint()"
    for command in ("up", "check"):
        gone = tmp_path / command
        gone.mkdir()
        done = subprocess.run(
            [sys.executable, "-c", script, command],
            cwd=gone,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 78, done.stderr
        assert "PS101: the current directory no longer exists" in done.stderr
        assert "hint: cd to the project again" in done.stderr
        assert "Traceback" not in done.stderr
