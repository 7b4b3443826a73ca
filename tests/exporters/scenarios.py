"""Export resolutions built by hand: the exporters' input, independent of the resolver.

The strings are written as Compose interpolation text (``${NAME}`` for what is resolved where
the export runs, ``$$`` for a literal dollar sign) and read once, with the one grammar
(``parse_template``), into the templates the model carries.
"""

from __future__ import annotations

import dataclasses
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prodserver.config.model import (
    Dependency,
    HealthCheck,
    Instance,
    ProcessSpec,
    ResolvedProject,
    RestartPolicy,
    frozen_map,
)
from prodserver.config.substitute import parse_template

ROOT = Path("/srv/shop")


def process(
    name: str,
    position: int,
    argv: tuple[str, ...],
    *,
    listens: bool = False,
    scale: int = 1,
    env: Mapping[str, str] | None = None,
    export: Mapping[str, Any] | None = None,
    **fields: Any,
) -> ProcessSpec:
    """A ProcessSpec with its instances filled in as the resolver would for an export."""
    check = fields.get("healthcheck")
    if check is not None:
        words = check.target if isinstance(check.target, tuple) else (check.target,)
        fields["healthcheck"] = dataclasses.replace(
            check, template=tuple(parse_template(w) for w in words)
        )
    instances = tuple(
        Instance(
            process=name,
            number=n,
            argv=argv,
            env=frozen_map(env),
            port=5000 + 100 * position + n - 1 if listens else None,
        )
        for n in range(1, scale + 1)
    )
    return ProcessSpec(
        name=name,
        backend=fields.pop("backend", "command"),
        position=position,
        options=frozen_map({}),
        argv=argv,
        shell=False,
        cwd=fields.pop("cwd", ROOT),
        env=frozen_map(env),
        scale=scale,
        instances=instances,
        listens=listens,
        export=frozen_map({k: frozen_map(v) for k, v in (export or {}).items()}),
        words=tuple(parse_template(a) for a in argv),
        env_values=frozen_map({k: parse_template(v) for k, v in (env or {}).items()}),
        **fields,
    )


def project(
    processes: list[ProcessSpec],
    *,
    name: str = "shop",
    env: Mapping[str, str] | None = None,
    secrets: frozenset[str] = frozenset(),
    runtime_refs: frozenset[str] = frozenset({"PORT"}),
    profile: str = "prod",
    root: Path = ROOT,
) -> ResolvedProject:
    return ResolvedProject(
        name=name,
        root=root,
        source=root / "prodserver.toml",
        profile=profile,
        profiles=("dev", "prod"),
        processes=frozen_map({p.name: p for p in processes}),
        env=frozen_map(env),
        env_values=frozen_map({k: parse_template(v) for k, v in (env or {}).items()}),
        secret_names=secrets,
        runtime_refs=runtime_refs,
    )


def shop() -> ResolvedProject:
    """A Django shop in production: web, worker, beat and a migration release step."""
    web = process(
        "web",
        0,
        (
            "gunicorn",
            "shop.wsgi:application",
            "--bind",
            "0.0.0.0:${PORT:-8000}",
            "--workers",
            "${WEB_CONCURRENCY:-2}",
        ),
        backend="gunicorn",
        listens=True,
        scale=2,
        healthcheck=HealthCheck("http", "http://127.0.0.1:${PORT:-8000}/healthz", interval=5.0),
        restart=RestartPolicy("always"),
        depends_on=(Dependency("migrate", "completed"),),
        kill_mode="main",
        stop_timeout=20.0,
        autoscale=frozen_map({"min": 2, "max": 6, "cpu": 70}),
        export={
            "kubernetes": {
                "resources": {
                    "requests": {"cpu": "250m", "memory": "256Mi"},
                    "limits": {"memory": "512Mi"},
                }
            },
        },
    )
    worker = process(
        "worker",
        1,
        ("celery", "-A", "shop", "worker", "--queues", "default,mail"),
        backend="celery-worker",
        env={"C_FORCE_ROOT": "false"},
        depends_on=(Dependency("migrate", "completed"),),
        restart=RestartPolicy("on-failure", max_restarts=5),
        kill_mode="main",
        stop_timeout=30.0,
    )
    beat = process(
        "beat",
        2,
        ("celery", "-A", "shop", "beat", "--schedule", "/tmp/celerybeat-schedule"),
        backend="celery-beat",
        depends_on=(Dependency("worker", "started"),),
        stop_signal=signal.SIGINT,
        restart=RestartPolicy("always"),
    )
    migrate = process(
        "migrate",
        3,
        ("python", "manage.py", "migrate", "--noinput"),
        oneshot=True,
    )
    return project(
        [web, worker, beat, migrate],
        env={
            "DJANGO_SETTINGS_MODULE": "shop.settings",
            "DJANGO_DEBUG": "0",
            "SECRET_KEY": "${SECRET_KEY}",
            "DATABASE_URL": "postgres://shop:${DB_PASSWORD}@db/shop",
        },
        secrets=frozenset({"SECRET_KEY", "DB_PASSWORD"}),
        runtime_refs=frozenset({"PORT", "SECRET_KEY", "DB_PASSWORD", "WEB_CONCURRENCY"}),
    )


#: literal arguments no exporter may mangle (no newline: see NEWLINE)
HOSTILE_WORDS = (
    "it's",
    'say "hi"',
    "100%",
    "%i %n %%",
    "a b  c",
    "tab\there",
    "ünïcødé ☃ 😀",
    "back\\slash",
    "#hash ;semi",
    ";",
    "",
    "-dash",
    "`tick` $(cmd) *glob?",
    "{brace}",
    "0o17",
    "yes",
)
#: literal dollar signs, as interpolation text: "$$HOME" means the four characters "$HOME"
DOLLARS = ("$$HOME", "cost: $$5", "$${NOT_A_REF}", "$$")
NEWLINE = "line1\nline2"
#: the hostile process prints what it received, as JSON
REPORT = (
    "import json, os, sys; print(json.dumps({'argv': sys.argv[1:], "
    "'env': {k: os.environ.get(k) for k in sorted(os.environ) if k in "
    "('HOSTILE_QUOTES', 'HOSTILE_PCT', 'HOSTILE_NL', 'PLAIN', 'SHARED', 'UNICODE', 'PORT')}}))"
)
HOSTILE_ENV = {"HOSTILE_QUOTES": 'it\'s "quoted"', "HOSTILE_PCT": "50% $$off", "PLAIN": "x"}
SHARED_ENV = {"SHARED": "a b ; c # d", "UNICODE": "ünï"}


def hostile(*, newline: bool = True) -> ResolvedProject:
    """A process whose arguments and environment hold every character formats trip over."""
    words = list(HOSTILE_WORDS) + list(DOLLARS)
    if newline:
        words.append(NEWLINE)
    argv = (
        "/usr/bin/python3",
        "-c",
        REPORT,
        *words,
        "--port=${PORT}",
    )
    env = {**HOSTILE_ENV, "HOSTILE_NL": NEWLINE + " x"} if newline else HOSTILE_ENV
    return project(
        [process("odd_name-1", 0, argv, listens=True, env=env)],
        name="hostile",
        env=SHARED_ENV,
    )


def literal_words(*, newline: bool = True) -> list[str]:
    """What the hostile process must receive after its first three words, PORT aside."""
    words = list(HOSTILE_WORDS) + [d.replace("$$", "$") for d in DOLLARS]
    if newline:
        words.append(NEWLINE)
    return words


def expected_report(port: int, *, newline: bool = True) -> dict[str, object]:
    """What the hostile process must print when it runs with ``PORT=port``."""
    env = {k: v.replace("$$", "$") for k, v in {**HOSTILE_ENV, **SHARED_ENV}.items()}
    env["PORT"] = str(port)
    if newline:
        env["HOSTILE_NL"] = NEWLINE + " x"
    return {"argv": [*literal_words(newline=newline), f"--port={port}"], "env": env}


def options() -> ResolvedProject:
    """Every optional setting and every pass-through table, once."""
    api = process(
        "api",
        0,
        ("/usr/bin/python3", "-m", "http.server", "${PORT}"),
        listens=True,
        scale=3,
        cwd=ROOT / "src",
        user="1000",
        max_memory=256 * 1024 * 1024,
        labels={"team": "payments"},
        healthcheck=HealthCheck(
            "http",
            "https://127.0.0.1:${PORT}/ready?full=1",
            interval=2.5,
            timeout=1.0,
            retries=5,
            start_period=10.0,
            role="readiness",
            expect="ok",
        ),
        restart=RestartPolicy("on-failure", max_restarts=0, backoff=2.0, backoff_max=60.0),
        stop_signal=signal.SIGHUP,
        stop_timeout=2.5,
        export={
            "compose": {"ports": ["8080:5000"], "logging": {"driver": "local"}},
            "systemd": {"Service": {"Nice": 5, "ProtectSystem": "strict"}},
            "supervisord": {"stdout_logfile": "/var/log/api.log", "umask": "022"},
            "kubernetes": {
                "image": "registry.example.com/shop/api:1.2",
                "pod": {"serviceAccountName": "api"},
                "service": {"type": "ClusterIP"},
                "deployment": {"revisionHistoryLimit": 3},
            },
        },
    )
    cache = process(
        "cache",
        1,
        ("/usr/bin/redis-server", "--port", "${PORT}"),
        listens=True,
        healthcheck=HealthCheck("tcp", "127.0.0.1:${PORT}", role="liveness"),
        restart=RestartPolicy("always"),
        kill_mode="main",
    )
    tick = process(
        "tick",
        2,
        ("/usr/bin/python3", "-c", "import time; time.sleep(60)"),
        healthcheck=HealthCheck("cmd", ("/usr/bin/test", "-e", "/tmp/tick-${PORT:-0}")),
        depends_on=(Dependency("cache", "healthy"), Dependency("api", "started")),
        restart=RestartPolicy("always", max_restarts=3, window=30.0),
    )
    seed = process(
        "seed",
        3,
        ("/usr/bin/python3", "-c", "print('seeded')"),
        oneshot=True,
        restart=RestartPolicy("on-failure", max_restarts=2),
        export={"kubernetes": {"job": {"ttlSecondsAfterFinished": 600}}},
    )
    return project([api, cache, tick, seed], name="opts")
