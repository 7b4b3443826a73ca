"""The keys of the ``[export]`` table and of its per-format tables, declared once.

The schema and the reference docs come from these declarations; ``config/deploy.py`` resolves
the table against them.
"""

from __future__ import annotations

from prodserver.declarations.keys import NAME_PATTERN, RESTART_MODES
from prodserver.options import Option

#: the export formats a ``[export.<format>]`` table may name
FORMATS = ("procfile", "compose", "systemd", "supervisord", "kubernetes")
#: a user or group name every engine accepts (POSIX portable names, or a numeric id)
ACCOUNT_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?$"

#: the keys of ``[export]`` and of every ``[export.<format>]`` table
EXPORT_KEYS: tuple[Option, ...] = (
    Option(
        "root",
        "string",
        "The application root on the target: the absolute directory that holds "
        "`prodserver.toml` there (each process's `cwd` is relative to it). Default: systemd "
        "`/srv/<project>`; supervisord the directory of the generated file (`%(here)s`); "
        "Compose and Kubernetes the image's WORKDIR; a Procfile runs where the platform puts it.",
        examples=('"/srv/shop"',),
        schema={"type": "string", "pattern": r"^/[^\x00-\x1f:%$\\]*$"},
    ),
    Option(
        "venv",
        "string",
        "The virtualenv whose `bin` leads PATH on the target, relative to `root` or absolute; "
        '`""` for none. Used by systemd and supervisord (a container image or a platform sets '
        "its own PATH).",
        default=".venv",
        schema={"type": "string", "pattern": r"^[^\n\r:]*$"},
    ),
    Option(
        "path",
        "list",
        "More absolute directories put on PATH after the virtualenv's (before the engine's "
        "own PATH).",
        schema={"type": "array", "items": {"type": "string", "pattern": r"^/[^\x00-\x1f:%$\\]*$"}},
    ),
    Option(
        "user",
        "string",
        "The user the processes run as (systemd `User=`, supervisord `user=`, Compose `user:`; "
        "Kubernetes takes a numeric uid). A process's own `user` wins. A production profile "
        "needs one for systemd and supervisord, or an explicit `--allow-root`.",
        examples=('"shop"',),
        schema={"type": "string", "pattern": ACCOUNT_PATTERN},
    ),
    Option(
        "group",
        "string",
        "The group the processes run as (systemd `Group=`; Kubernetes `runAsGroup` if numeric).",
        schema={"type": "string", "pattern": ACCOUNT_PATTERN},
    ),
    Option(
        "image",
        "string",
        "The container image of Compose services and Kubernetes containers. Default: "
        "`<project>:latest` (Compose also builds it from `.`).",
        examples=('"registry.example.com/shop:1.4.2"',),
        schema={"type": "string", "pattern": r"^[^\s]+$"},
    ),
    Option(
        "restart",
        "string",
        "The restart policy of a long-running process that sets no `restart` itself. "
        "`prodserver up` stops everything when such a process exits (as foreman does); a "
        "service manager keeps it up instead.",
        default="on-failure",
        schema={"enum": list(RESTART_MODES)},
    ),
    Option(
        "singletons",
        "list",
        "Processes that must never run as more than one copy, besides `celery-beat` and "
        "`rq-scheduler` processes (always singletons): one replica, no autoscaling, and in "
        "Kubernetes `strategy: Recreate` so that a rollout never runs two.",
        examples=('["scheduler"]',),
        schema={"type": "array", "items": {"type": "string", "pattern": NAME_PATTERN}},
    ),
)
#: keys only ``[export.compose]`` (and ``[export]``, for Compose) takes
COMPOSE_KEYS: tuple[Option, ...] = (
    Option(
        "publish_ports",
        "boolean",
        "Publish each listening process's port on the host (`ports:`). A process's own "
        "`export.compose.ports` replaces it.",
        default=True,
        schema={"type": "boolean"},
    ),
    Option(
        "backing_services",
        "boolean",
        "A broker or database URL that points at this machine (`redis://127.0.0.1...`, "
        "`postgres://localhost...`) gets a generated `redis` or `postgres` service with a "
        "healthcheck, the processes wait for it to be healthy, and the URL names it.",
        default=True,
        schema={"type": "boolean"},
    ),
)
