"""The benchmark scripts keep working as the configuration grows: their generated files pass
``prodserver check`` and their readers of the load generators' output give the right numbers.
The benchmarks themselves run by hand (docs/performance.md), never as timed tests."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]

WRK = """\
Running 2s test @ http://127.0.0.1:41234/healthz
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     9.48ms   31.12ms 391.78ms   97.12%
    Req/Sec     1.31k   201.34     1.61k    70.00%
  Latency Distribution
     50%    7.84ms
     75%    8.51ms
     90%    9.80ms
     99%  302.08ms
  2620 requests in 2.00s, 611.72KB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:   1308.85
Transfer/sec:    305.39KB
"""

H2LOAD = """\
finished in 2.01s, 160.00 req/s, 43.55KB/s
requests: 320 total, 480 started, 320 done, 318 succeeded, 2 failed, 0 errored, 0 timeout
status codes: 320 2xx, 0 3xx, 0 4xx, 0 5xx
                     min         max         mean         sd        +/- sd
time for request:   246.37ms       1.17s    686.23ms    212.40ms    66.25%
"""


def load_bench(name: str) -> ModuleType:
    # run as scripts, the benchmarks import their shared module from their own folder
    if str(REPO / "bench") not in sys.path:
        sys.path.insert(0, str(REPO / "bench"))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", REPO / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def servers() -> ModuleType:
    return load_bench("servers")


def test_wrk_report_is_read(servers: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        assert argv[0] == "wrk" and "--latency" in argv
        return subprocess.CompletedProcess(argv, 0, WRK, "")

    monkeypatch.setattr(servers.subprocess, "run", fake_run)
    result = servers.load("http://127.0.0.1:41234/healthz", http2=False, duration=2)
    assert result == {"rps": 1308.85, "p50_ms": 7.84, "p99_ms": 302.08, "errors": 7.0}


def test_h2load_report_is_read(servers: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        assert argv[0] == "h2load"
        return subprocess.CompletedProcess(argv, 0, H2LOAD, "")

    monkeypatch.setattr(servers.subprocess, "run", fake_run)
    result = servers.load("http://127.0.0.1:41234/healthz", http2=True, duration=2)
    assert result == {"rps": 160.0, "p50_ms": 686.23, "p99_ms": 1170.0, "errors": 2.0}


def test_a_report_without_numbers_is_an_error(
    servers: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        servers.subprocess, "run",
        lambda argv, **kw: subprocess.CompletedProcess(argv, 1, "unable to connect", ""),
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="wrk printed no result"):
        servers.load("http://127.0.0.1:9/", http2=False, duration=1)


@pytest.mark.parametrize("name", [s.name for s in load_bench("servers").SERVERS])
def test_every_server_config_passes_check(servers: ModuleType, tmp_path: Path, name: str) -> None:
    server = next(s for s in servers.SERVERS if s.name == name)
    config = servers.write_config(tmp_path, server, 41234)
    done = subprocess.run(
        [sys.executable, "-m", "prodserver", "config", "-f", str(config), "--format", "json"],
        capture_output=True, text=True, env=servers.environment(), timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "127.0.0.1:41234" in done.stdout


def test_percentiles_of_the_worker_bench() -> None:
    workers = load_bench("workers")
    values = [float(v) for v in range(1, 101)]
    assert workers.percentile(values, 0.5) == 51.0
    assert workers.percentile(values, 0.99) == 99.0
    assert workers.percentile([3.0], 0.99) == 3.0


@pytest.mark.parametrize("name", [f.name for f in load_bench("workers").FAMILIES])
def test_every_worker_family_is_a_worker_of_the_demo(name: str) -> None:
    workers = load_bench("workers")
    family = next(f for f in workers.FAMILIES if f.name == name)
    done = subprocess.run(
        [sys.executable, "-m", "prodserver", "config", "-f", str(workers.CONFIG),
         "--profile", family.profile, "--format", "json"],
        capture_output=True, text=True, timeout=60, check=False, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    backend = json.loads(done.stdout)["processes"]["worker"]["backend"]
    assert backend.split("-")[0] in {"celery", "rq", "dramatiq", "django"}, backend


def test_the_scaled_configurations_of_the_check_benchmark_are_valid(tmp_path: Path) -> None:
    """bench/config_bench.py --sizes times `check` of these files: each must pass it."""
    config_bench = load_bench("config_bench")
    for size in (10, 700):  # 700: beyond the 655 processes the foreman port rule can number
        path = config_bench.generate_scaled(tmp_path, size)
        done = subprocess.run(
            [sys.executable, "-m", "prodserver", "check", "-f", str(path)],
            capture_output=True,
            text=True,
            check=False,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"{size} processes" in done.stdout
