"""The keys of ``prodserver.toml`` that are not backend options, declared once.

The JSON schema, the configuration reference in ``docs/`` and the resolver's validation all
come from these declarations (backend options come from each backend's own declaration).
"""

from __future__ import annotations

from typing import Any

from prodserver.declarations.defaults import DEFAULT_BASE_PORT, DEFAULT_STOP_TIMEOUT, MAX_SCALE
from prodserver.options import Option

_DURATION: dict[str, Any] = {"$ref": "#/$defs/duration"}
_STR_MAP: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {"type": ["string", "integer", "number", "boolean"]},
}
#: a project, profile or process name: it becomes a file, unit, service and object name in the
#: exports (systemd units, Compose services, Kubernetes objects: at most 63 characters)
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"
NAME_RULE = "use letters, digits, '_' and '-', starting with a letter or digit, at most 63 long"
#: an environment variable name every target can carry: the shell (a Procfile line), systemd's
#: Environment=, Compose, Kubernetes and supervisord. No space, newline, ';', '$' or quote.
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]*$"
ENV_NAME_RULE = "names start with a letter or '_' and hold letters, digits, '_', '.' or '-'"
_ENV_MAP: dict[str, Any] = {**_STR_MAP, "propertyNames": {"pattern": ENV_NAME_PATTERN}}

_KINDS = ("http", "tcp", "cmd", "notify")
_HEALTHCHECK: dict[str, Any] = {
    "oneOf": [
        {"const": False, "description": "disable the backend's default probe"},
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "http": {"type": "string", "description": "URL to GET"},
                "tcp": {"type": "string", "description": "host:port that must accept"},
                "notify": {
                    "const": True,
                    "description": "no probe: ready once the process sends READY=1 over "
                    "$NOTIFY_SOCKET (gunicorn does)",
                },
                "cmd": {
                    "description": "command that must exit 0",
                    "anyOf": [
                        {"type": "string"},
                        {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    ],
                },
                "interval": _DURATION,
                "timeout": _DURATION,
                "retries": {"$ref": "#/$defs/integer", "minimum": 1},
                "start_period": _DURATION,
                "watchdog": {
                    **_DURATION,
                    "description": "with notify = true: WATCHDOG=1 must come at least this "
                    "often (WATCHDOG_USEC is set); a missed deadline is a liveness failure",
                },
                "status": {
                    "description": "healthy HTTP status: a code or [low, high]",
                    "anyOf": [
                        {"type": "integer", "minimum": 100, "maximum": 599},
                        {
                            "type": "array",
                            "items": {"type": "integer", "minimum": 100, "maximum": 599},
                            "minItems": 2,
                            "maxItems": 2,
                        },
                    ],
                },
                "expect": {"type": "string", "description": "text the body must contain"},
                "role": {"enum": ["readiness", "liveness", "both"]},
            },
            # exactly one probe kind
            "oneOf": [
                {
                    "required": [kind],
                    "not": {"anyOf": [{"required": [o]} for o in _KINDS if o != kind]},
                }
                for kind in _KINDS
            ],
        },
    ]
}

#: the values of ``restart`` (and of ``[export] restart``)
RESTART_MODES = ("no", "on-failure", "always")
_EXIT_CODES: dict[str, Any] = {
    "type": "array",
    "items": {"type": "integer", "minimum": 0, "maximum": 255},
    "uniqueItems": True,
}
_RESTART: dict[str, Any] = {
    "anyOf": [
        {"enum": RESTART_MODES},
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "policy": {"enum": RESTART_MODES},
                "max_restarts": {"$ref": "#/$defs/integer", "minimum": 0},
                "backoff": _DURATION,
                "backoff_max": _DURATION,
                "window": _DURATION,
                "success_exit_codes": _EXIT_CODES,
                "prevent_exit_codes": _EXIT_CODES,
            },
        },
    ]
}

_DEPENDS_ON: dict[str, Any] = {
    "anyOf": [
        {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        {
            "type": "object",
            "additionalProperties": {"enum": ["started", "healthy", "completed"]},
        },
    ]
}

_SIGNAL: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "pattern": r"^(SIG)?[A-Z0-9+]+$"},
        {"type": "integer", "minimum": 1, "maximum": 64},
    ]
}

#: keys every process accepts, whatever its backend
COMMON_OPTIONS: tuple[Option, ...] = (
    Option("backend", "string", "Which server or worker runs this process.", default="command"),
    Option("description", "string", "What this process is for (shown by `config`)."),
    Option(
        "enabled",
        "boolean",
        "Set to false to drop the process from a profile (or from the root).",
        default=True,
    ),
    Option(
        "args",
        "argv",
        "Extra arguments appended to the backend's argv: flags it does not model.",
        examples=('["--timeout", "120"]',),
    ),
    Option(
        "shell",
        "boolean",
        "Run `command` through `/bin/sh -c`. Opt-in only; prodserver then leaves `$VAR` "
        "expansion in `command` to the shell (no double expansion).",
        default=False,
    ),
    Option("cwd", "string", "Working directory, relative to the project root.", default="."),
    Option("env", "table", "Environment of this process (the highest layer).", schema=_ENV_MAP),
    Option(
        "inherit_env",
        "boolean",
        "Override `[project] inherit_env` for this process.",
    ),
    Option(
        "scale", "integer", "How many instances to run.", default=1, minimum=0, maximum=MAX_SCALE
    ),
    Option(
        "port",
        "integer",
        "The port of instance 1 (instance N gets port + N - 1). Default: assigned like foreman "
        "does, base + 100 x position.",
        minimum=1,
        maximum=65535,
    ),
    Option(
        "depends_on",
        "table",
        "Processes to wait for: a list of names (`started`), or a table of name -> "
        "`started` | `healthy` | `completed`.",
        schema=_DEPENDS_ON,
        examples=('{ migrate = "completed" }', '["redis"]'),
    ),
    Option(
        "healthcheck",
        "table",
        "A probe: one of `http` (URL), `tcp` (host:port), `cmd`, or `notify = true` (ready when "
        "the process sends READY=1), with `interval`, `timeout`, `retries`, `start_period`; "
        "`false` disables the backend's default.",
        schema=_HEALTHCHECK,
        examples=('{ http = "http://127.0.0.1:${PORT}/healthz", interval = "5s" }',),
    ),
    Option(
        "restart",
        "table",
        "`no`, `on-failure` or `always`, or a table with `policy`, `max_restarts`, `backoff`, "
        "`backoff_max`, `window`, `success_exit_codes` (exits that count as success, like "
        "systemd's SuccessExitStatus=) and `prevent_exit_codes` (exits never restarted, like "
        "RestartPreventExitStatus=).",
        schema=_RESTART,
        default="no",
    ),
    Option(
        "max_restarts",
        "integer",
        "Give up after this many restarts in a row of runs shorter than `window` (60s by "
        "default; a longer run starts the count again). 0 = never give up.",
        default=5,
        minimum=0,
    ),
    Option(
        "backoff", "duration", "Delay before the first restart; doubles each time.", default=1.0
    ),
    Option(
        "oneshot",
        "boolean",
        "The process is expected to finish; exit 0 does not stop the others.",
        default=False,
    ),
    Option(
        "stop_signal",
        "string",
        "Signal that asks for a graceful stop (default per backend).",
        schema=_SIGNAL,
    ),
    Option(
        "reload_signal",
        "string",
        "Signal sent on `prodserver reload` (or SIGHUP to `up`) when this process's own "
        "configuration did not change, to reload in place (gunicorn: SIGHUP).",
        schema=_SIGNAL,
    ),
    Option(
        "kill_mode",
        "enum",
        "Send the stop signal to the `main` process only or to its whole process `group`.",
        choices=("group", "main"),
    ),
    Option(
        "stop_timeout",
        "duration",
        "Grace period between the stop signal and SIGKILL.",
        default=DEFAULT_STOP_TIMEOUT,
    ),
    Option("user", "string", "Run as this user (needs root)."),
    Option("labels", "table", "Free-form labels, passed to exports.", schema=_STR_MAP),
    Option(
        "max_memory",
        "size",
        "Restart the process gracefully when its process tree uses more memory than this.",
    ),
    Option(
        "autoscale",
        "table",
        "Horizontal autoscaling for exports that support it: `{ min, max, cpu }`.",
        schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["max"],
            "properties": {
                "min": {"$ref": "#/$defs/integer", "minimum": 1},
                "max": {"$ref": "#/$defs/integer", "minimum": 1},
                "cpu": {"$ref": "#/$defs/integer", "minimum": 1, "maximum": 100},
            },
        },
    ),
    Option(
        "export",
        "table",
        "Per-format settings passed to that exporter: `export.compose`, `export.kubernetes`, ...",
        schema={"type": "object", "additionalProperties": {"type": "object"}},
    ),
)

COMMON_NAMES: frozenset[str] = frozenset(o.name for o in COMMON_OPTIONS)

#: keys of [project]
PROJECT_KEYS: tuple[Option, ...] = (
    Option(
        "name",
        "string",
        "Project name: the Compose project, systemd unit prefix, Kubernetes labels.",
        pattern=NAME_PATTERN,
    ),
    Option("description", "string", "What the project is."),
    Option("default_profile", "string", "Profile used when none is chosen."),
    Option(
        "env_files",
        "list",
        "`.env` files loaded in order (relative to the project root); `?name` is optional.",
        default=[".env"],
    ),
    Option(
        "base_port",
        "integer",
        "First port for automatic PORT assignment.",
        default=DEFAULT_BASE_PORT,
        minimum=1,
        maximum=65535,
    ),
    Option(
        "allow_root",
        "boolean",
        "Let `prodserver up`, `exec` and `run` run processes as root in a production profile "
        "(refused otherwise, like `--allow-root` and `PRODSERVER_ALLOW_ROOT=1`; prefer "
        "`user =` on each process).",
        default=False,
    ),
    Option(
        "inherit_env",
        "boolean",
        "Pass the shell's environment on to the processes. When false, a process gets only "
        "PATH, HOME, USER, LOGNAME, LANG, LANGUAGE, LC_*, TZ and TMPDIR from the shell, plus "
        "what the configuration sets; `${VAR}` substitution still reads the shell.",
        default=True,
    ),
    Option(
        "secrets",
        "list",
        "Extra variable name patterns (globs) whose values are secret, besides the built-in "
        "ones (*SECRET*, *PASSWORD*, *TOKEN*, *_KEY, ...).",
        examples=('["STRIPE_*"]',),
    ),
)

#: keys of [profiles.NAME]
PROFILE_KEYS: tuple[Option, ...] = (
    Option(
        "extends",
        "list",
        "The profile(s) this one builds on, merged left to right (default: the root).",
        schema={
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            ]
        },
    ),
    Option("description", "string", "What this profile is for."),
    Option(
        "production",
        "boolean",
        "Treat this profile as production: pre-start checks run in full (required variables, "
        "brokers, Django's `check --deploy`) and running as root is refused. Profiles named "
        "`prod` or `production` count as production anyway, and so does a profile that extends "
        "a production one unless it (or a profile between them) sets `production = false`.",
    ),
    Option("env_files", "list", "More `.env` files, read after the project's."),
    Option("env", "table", "Environment for every process of this profile.", schema=_ENV_MAP),
    Option(
        "inherit_env",
        "boolean",
        "Override `[project] inherit_env` for this profile.",
    ),
    Option("processes", "table", "Process overrides and additions for this profile."),
)
