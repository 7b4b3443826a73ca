"""Every built-in server answers ``/healthz`` and every worker runs the demo task, for real.

Each test starts ``python -m prodserver up NAME --profile P`` on the demo project (which also
runs ``migrate`` first: NAME depends on it), proves the backend works, then stops prodserver
with SIGTERM and checks that it exits 0: every process stopped within its grace period.
"""

from __future__ import annotations

import re
import uuid

import pytest

from tests.live.conftest import START_DEADLINE, Demo, http_status, wait_for

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.timeout(180)]

# (profile, process, path that must answer 200, needs redis)
WEB = [
    pytest.param("dev", "web", "/healthz", False, id="runserver"),
    pytest.param("prod", "web", "/healthz", True, id="gunicorn"),
    pytest.param("asgi", "web", "/healthz", False, id="uvicorn"),
    pytest.param("asgi", "channels", "/healthz", False, id="daphne"),
    pytest.param("rq", "web", "/healthz", True, id="waitress"),
    pytest.param("granian", "web", "/healthz", False, id="granian"),
    pytest.param("hypercorn", "web", "/healthz", False, id="hypercorn"),
    pytest.param("staging", "flower", "/healthcheck", True, id="celery-flower"),
]
#: uvicorn re-raises the signal it handled once its graceful shutdown is done, so that its
#: parent sees why it ended: "stopped by SIGTERM" is its clean exit
REINSTATES_SIGNAL = {"uvicorn"}


@pytest.mark.parametrize(("profile", "process", "path", "redis"), WEB)
def test_web_backend_serves_the_demo(
    demo: Demo, request: pytest.FixtureRequest, profile: str, process: str, path: str, redis: bool
) -> None:
    backend = request.node.callspec.id
    if redis:
        demo.env["REDIS_URL"] = request.getfixturevalue("redis_url")
    url = f"http://127.0.0.1:{demo.port_of(profile, process)}{path}"
    running = demo.up(profile, process)
    try:
        wait_for(lambda: http_status(url) == 200, f"200 from {url}", deadline=START_DEADLINE,
                 proc=running.proc)  # fmt: skip
    except BaseException:
        running.stop()
        print(running.output())
        raise
    code = running.stop()
    assert code == 0, running.output()
    assert_stopped_cleanly(running.output(), process, by_signal=backend in REINSTATES_SIGNAL)


# (profile, processes to run, how the task is enqueued, needs redis)
WORKERS = [
    pytest.param("dev", ("worker",), "django-tasks", False, id="django-tasks"),
    pytest.param("prod", ("worker",), "celery", True, id="celery-worker"),
    pytest.param("rq", ("worker",), "rq", True, id="rq-worker"),
    pytest.param("rq", ("scheduler", "worker"), "rq-scheduler", True, id="rq-scheduler"),
    pytest.param("dramatiq", ("worker",), "dramatiq", True, id="dramatiq"),
    pytest.param("q2", ("worker",), "django-q2", False, id="django-q2"),
]


@pytest.mark.parametrize(("profile", "names", "via", "redis"), WORKERS)
def test_worker_backend_runs_the_demo_task(
    demo: Demo,
    request: pytest.FixtureRequest,
    profile: str,
    names: tuple[str, ...],
    via: str,
    redis: bool,
) -> None:
    if redis:
        demo.env["REDIS_URL"] = request.getfixturevalue("redis_url")
    demo.manage("migrate", "--noinput")
    source = f"live-{via}-{uuid.uuid4().hex[:8]}"
    running = demo.up(profile, *names)
    try:
        demo.manage("enqueue_visit", "--via", via, "--source", source)
        wait_for(lambda: demo.rows(source) == 1, f"the row written by {via}",
                 deadline=START_DEADLINE, proc=running.proc)  # fmt: skip
    except BaseException:
        running.stop()
        print(running.output())
        raise
    code = running.stop()
    assert code == 0, running.output()
    for name in names:
        assert_stopped_cleanly(running.output(), name)
    assert demo.rows(source) == 1


def test_celery_beat_schedules_the_demo_task(demo: Demo, redis_url: str) -> None:
    demo.env["REDIS_URL"] = redis_url
    demo.env["DEMO_BEAT_INTERVAL"] = "1"
    running = demo.up("prod", "beat", "worker")
    try:
        wait_for(lambda: demo.rows("celery-beat") >= 1, "a row from the beat schedule",
                 deadline=START_DEADLINE, proc=running.proc)  # fmt: skip
    except BaseException:
        running.stop()
        print(running.output())
        raise
    code = running.stop()
    assert code == 0, running.output()
    assert_stopped_cleanly(running.output(), "beat")
    assert_stopped_cleanly(running.output(), "worker")


def assert_stopped_cleanly(log: str, process: str, *, by_signal: bool = False) -> None:
    """The process itself ended well: exit code 0 (or its stop signal, where ``by_signal``)."""
    ends = r"(\(exited with code 0\)|by SIGTERM)" if by_signal else r"\(exited with code 0\)"
    pattern = rf"^{re.escape(process)}\.1\s+\* stopped {ends}$"
    assert re.search(pattern, log, re.MULTILINE), log
