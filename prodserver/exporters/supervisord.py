"""supervisord: one ``[program:x]`` per process type, in one ``[group:<project>]``.

Several copies of a process are supervisord's ``numprocs``; for a listening process the
numbering starts at its first port, so ``%(process_num)d`` is the copy's ``PORT``. Where a
process's argv names the copy (Celery's node name), ``PRODSERVER_INSTANCE`` is
``%(process_num)d`` too: the copy's number, or the port of a listening process. Variables
only known where supervisord runs (secrets, anything left to the environment) are inherited
from supervisord's own environment, and a command that uses them runs through ``/bin/sh -c``
so that the shell, not supervisord, puts their values in (a value can then never add
arguments).

Escaping: supervisord expands ``%(name)s`` in every value (so ``%`` is written ``%%``), reads
values with inline comments (a ``;`` or ``#`` after whitespace ends the value) and splits
``command`` like a POSIX shell would. Words are single-quoted, ``;`` and ``#`` are escaped
with a backslash outside the quotes, and a newline is put on a continuation line that starts
inside a new quote, so the INI reader's stripping of leading whitespace cannot touch it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from prodserver import codes as error_codes
from prodserver.config.model import ProcessSpec, ResolvedProject, RestartPolicy
from prodserver.config.target import INSTANCE
from prodserver.errors import ConfigError, Location
from prodserver.exporters import base, shell
from prodserver.template import Piece, Template

#: the stop signals supervisord can send (its ``stopsignal`` names), by name: the module is also
#: loaded where Python has no SIGHUP or SIGQUIT (Windows), to export for a Linux server
SIGNALS = frozenset({"SIGTERM", "SIGHUP", "SIGINT", "SIGQUIT", "SIGKILL", "SIGUSR1", "SIGUSR2"})
AUTORESTART = {"no": "false", "on-failure": "unexpected", "always": "true"}
_INLINE_COMMENT = re.compile(r"\s[;#]")
# Stands for the copy's port (or number) until the text is escaped, then becomes %(process_num)d: a
# private-use character, refused in user values so that it cannot be forged.
_PORT = "\ue000"
# Likewise for %(here)s (the directory of the generated file: the default root on the target)
# and %(ENV_PATH)s (supervisord's own PATH, after the virtualenv's).
_HERE = "\ue001"
_ENV_PATH = "\ue002"
_EXPANSIONS = {_PORT: "%(process_num)d", _HERE: "%(here)s", _ENV_PATH: "%(ENV_PATH)s"}
_PRIVATE = re.compile("[\ue000-\ue002]")


def render(project: ResolvedProject, options: base.ExportOptions) -> base.ExportResult:
    """The ``<project>.conf`` of ``project`` (for supervisord's ``conf.d``)."""
    lost = base.Lost("supervisord")
    env, _secrets = base.secret_env(
        project, project.env_templates(), include_secrets=options.include_secrets
    )
    holds_secret = options.include_secrets and any(n in project.secret_names for n in project.env)
    blocks: list[str] = [
        f"[group:{project.name}]\nprograms={','.join(project.processes)}\n",
    ]
    for index, name in enumerate(project.start_order()):
        spec = project.processes[name]
        own, _ = base.secret_env(
            project, spec.env_templates(), include_secrets=options.include_secrets
        )
        holds_secret = holds_secret or (
            options.include_secrets and any(k in project.secret_names for k in spec.env)
        )
        settings = _program(
            project, spec, env={**env, **own}, index=index, lost=lost, options=options
        )
        extra = spec.export.get("supervisord")
        if extra:
            _apply_extra(spec, settings, extra)
        body = "".join(f"{key}={value}\n" for key, value in settings.items())
        blocks.append(f"[program:{name}]\n{body}")
    content = base.header("supervisord", project, comment=";") + "\n".join(blocks)
    # PORT comes from supervisord itself (%(process_num)d), and so does the copy's number of a
    # scaled process
    engine_set = {"PORT"} | ({INSTANCE} if project.copy_numbers_from_engine() else set())
    runtime = sorted(set(_secrets) | (set(project.runtime_refs) - engine_set))
    advice = []
    oneshots = [n for n in project.start_order() if project.processes[n].oneshot]
    if oneshots:
        group = project.name
        others = " ".join(
            f"{group}:{n}" for n in project.start_order() if not project.processes[n].oneshot
        )
        runs = " && ".join(f"supervisorctl start {group}:{n}" for n in oneshots)
        advice.append(
            "supervisord does not wait for one-shot steps, so it does not start them: on each "
            f"deploy run {runs}, wait until `supervisorctl status` shows them EXITED, then: "
            f"supervisorctl restart {others}"
        )
    advice += base.provide_notes(
        project,
        runtime,
        "supervisord's environment must provide: ",
        "supervisord's environment may set (each has a default): ",
    )
    return base.ExportResult.one_file(
        f"{project.name}.conf", content, holds_secret=holds_secret, lost=lost, advice=advice
    )


def _program(
    project: ResolvedProject,
    spec: ProcessSpec,
    *,
    env: Mapping[str, Template],
    index: int,
    lost: base.Lost,
    options: base.ExportOptions,
) -> dict[str, str]:
    policy = base.export_restart(project, spec, "supervisord")
    # a oneshot runs once, not as numbered copies: its PORT is its own port
    port = str(base.default_port(spec)) if spec.oneshot else _PORT
    fixed = {"PORT": port} if spec.listens else {}
    argv = spec.argv_words()
    if spec.numbered_words and spec.scale > 1 and not spec.oneshot:
        # each copy's argv names the copy (Celery's ``-n worker.%(process_num)d@%%h``)
        argv = spec.numbered_words
    names_instance = spec.numbered_copies and spec.names_copy()
    if names_instance:
        fixed[INSTANCE] = _PORT
    _check_characters(spec.name, [p for t in (*argv, *env.values()) for p in t.pieces])
    words = [arg.with_values(fixed) for arg in argv]
    environment, shell_env = _split_env(env, fixed)
    # the root on the target: [export] root, else the directory of this file (%(here)s)
    root = project.deploy.settings("supervisord").root or _HERE
    path = base.target_path(project, spec, "supervisord", root, (_ENV_PATH,))
    if path is not None:
        # commands are found in the virtualenv whatever supervisord's own PATH is
        environment["PATH"] = path
    if spec.listens:
        environment["PORT"] = port
    if names_instance:
        environment[INSTANCE] = _PORT
    settings = {"command": _command(words, shell_env), **_numbering(spec)}
    settings["directory"] = _value(base.under_root(root, base.relative_cwd(project, spec)))
    if environment:
        settings["environment"] = ",".join(
            f"{key}={_env_quote(value)}" for key, value in environment.items()
        )
    settings["priority"] = str(100 + 10 * index)
    # supervisord starts every program at once: a oneshot (the release step) is not started
    # with them, the notes say how to run it first
    settings["autostart"] = "true" if spec.scale and not spec.oneshot else "false"
    settings |= _restart(spec, policy, lost)
    settings |= _stopping(spec, lost)
    user, group = base.run_as(project, spec, "supervisord", allow_root=options.allow_root)
    if user:
        settings["user"] = _value(user)
    if group:
        lost.add(spec.name, f"group {group}", "supervisord runs a program with its user's groups")
    settings["redirect_stderr"] = "true"
    _note_unsupported(project, spec, lost)
    return settings


def _check_characters(name: str, texts: Sequence[Piece]) -> None:
    """Refuse what no supervisord file can carry, and the stand-ins for its expansions."""
    if any(isinstance(p, str) and "\r" in p for p in texts):
        raise ConfigError(
            f"process {name!r}: a command argument or environment value holds a carriage "
            "return (\\r), which a supervisord configuration cannot carry",
            location=Location(key_path=f"processes.{name}"),
            hint="remove the carriage return (a .env file saved with Windows line endings "
            "is read without them)",
            code=error_codes.SUPERVISORD_SETTING,
        )
    if any(isinstance(p, str) and _PRIVATE.search(p) for p in texts):
        raise ConfigError(
            f"process {name!r}: the characters U+E000 to U+E002 cannot be exported to supervisord",
            location=Location(key_path=f"processes.{name}"),
            code=error_codes.SUPERVISORD_SETTING,
        )


def _split_env(
    env: Mapping[str, Template], fixed: Mapping[str, str]
) -> tuple[dict[str, str], dict[str, Template]]:
    """Values ``environment=`` can hold as they are, and those the shell must build."""
    environment: dict[str, str] = {}
    shell_env: dict[str, Template] = {}
    for key, value in env.items():
        filled = value.with_values(fixed)
        if filled.is_literal and _env_ok(filled.literal):
            environment[key] = filled.literal
        else:
            shell_env[key] = value
    return environment, shell_env


def _command(words: Sequence[Template], shell_env: Mapping[str, Template]) -> str:
    """``command=``: the argv as it is, or through ``/bin/sh -c`` where a value needs it."""
    if shell_env or any(not word.is_literal for word in words):
        exports = "".join(
            f"export {key}={shell.word(value.pieces)}; " for key, value in shell_env.items()
        )
        script = exports + "exec " + shell.command([w.pieces for w in words])
        return "/bin/sh -c " + _word(script)
    return " ".join(_word(w.literal) for w in words)


def _numbering(spec: ProcessSpec) -> dict[str, str]:
    """Numbered copies: ``%(process_num)d`` counts from the first port of a listening one."""
    if spec.oneshot:
        return {}
    if spec.scale > 1:
        return {
            "process_name": "%(program_name)s_%(process_num)d",
            "numprocs": str(spec.scale),
            "numprocs_start": str(base.default_port(spec) if spec.listens else 1),
        }
    if spec.listens:
        return {
            "process_name": "%(program_name)s_%(process_num)d",
            "numprocs_start": str(base.default_port(spec)),
        }
    return {}


def _restart(spec: ProcessSpec, policy: RestartPolicy, lost: base.Lost) -> dict[str, str]:
    """When supervisord restarts the program, and which exits it takes as expected."""
    if spec.oneshot:
        return {
            "autorestart": "false",
            "startsecs": "0",
            "exitcodes": ",".join(map(str, (0, *spec.restart.success_exit_codes))),
        }
    settings = {"autorestart": AUTORESTART[policy.mode], "startsecs": "1"}
    if policy.success_exit_codes:
        # "expected" exits: autorestart=unexpected leaves them alone
        settings["exitcodes"] = ",".join(map(str, (0, *policy.success_exit_codes)))
    if policy.prevent_exit_codes:
        lost.add(spec.name, "restart.prevent_exit_codes", "supervisord restarts on any exit code")
    if policy.max_restarts:
        settings["startretries"] = str(policy.max_restarts)
    if policy.mode != "no" and base.restart_tuned(policy):
        lost.add(spec.name, "restart backoff", "supervisord waits one more second per retry")
    return settings


def _stopping(spec: ProcessSpec, lost: base.Lost) -> dict[str, str]:
    """The stop signal, the grace period, and what is killed after it."""
    if spec.stop_signal.name in SIGNALS:
        stopsignal = spec.stop_signal.name.removeprefix("SIG")
    else:
        stopsignal = "TERM"
        lost.add(spec.name, f"stop_signal {spec.stop_signal.name}", "supervisord cannot send it")
    return {
        "stopsignal": stopsignal,
        "stopwaitsecs": str(base.seconds(spec.stop_timeout)),
        "stopasgroup": "true" if spec.kill_mode == "group" else "false",
        # Whatever is left after the grace period is killed with the whole process group.
        "killasgroup": "true",
    }


def _note_unsupported(project: ResolvedProject, spec: ProcessSpec, lost: base.Lost) -> None:
    """Warn of what the configuration asks that supervisord cannot do."""
    name = spec.name
    for dep in spec.depends_on:
        other = project.processes.get(dep.name)
        if other is not None and other.oneshot:
            continue  # the release step: the note says to run it first
        if dep.condition != "started":
            lost.add(
                name,
                f"depends_on {dep.name} ({dep.condition})",
                "supervisord only orders starts by priority",
            )
    if spec.healthcheck is not None:
        lost.add(name, f"healthcheck ({spec.healthcheck.kind})", "supervisord has no probes")
    if spec.max_memory:
        lost.add(name, "max_memory", "supervisord has no memory limit")
    if spec.autoscale:
        lost.add(name, "autoscale", "supervisord does not scale")
    if spec.labels:
        lost.add(name, "labels", "supervisord programs have no labels")


def _word(text: str) -> str:
    """One argument of ``command``: read back by supervisord as exactly ``text``."""
    if "\r" in text:
        # supervisord reads its files with universal newlines: a carriage return ends the
        # line, wherever it stands, and no quoting can carry it
        raise ConfigError(
            "a command argument or environment value holds a carriage return (\\r), which "
            "a supervisord configuration cannot carry",
            hint="remove the carriage return (a .env file saved with Windows line endings "
            "is read without them)",
            code=error_codes.SUPERVISORD_SETTING,
        )
    if not text:
        return "''"
    out: list[str] = []
    for index, line in enumerate(text.split("\n")):
        if index:
            # The newline sits in its own quotes, and the continuation line starts with a
            # quote: the INI reader strips only the indentation before it.
            out.append("'\n '")
        # Only a ";" or "#" after whitespace (or first on the line) starts an inline comment.
        for part in re.split(r"((?:^|(?<=\s))[;#])", line):
            if part in (";", "#"):
                out.append("\\" + part)
            elif part:
                out.append(shlex.quote(part) if part != "'" else "\\'")
    return _escape_percent("".join(out))


def _escape_percent(text: str) -> str:
    text = text.replace("%", "%%")
    return _PRIVATE.sub(lambda m: _EXPANSIONS[m.group()], text)


def _value(text: str) -> str:
    if base.line_break(text) or _INLINE_COMMENT.search(text) or text != text.strip():
        raise ConfigError(
            f"{text!r} cannot be written as a supervisord setting",
            hint="avoid newlines, surrounding spaces, and ' ;' or ' #' in paths and user names",
            code=error_codes.SUPERVISORD_SETTING,
        )
    return _escape_percent(text)


def _env_ok(value: str) -> bool:
    # supervisord reads environment= with a non-POSIX shlex: no escapes, and it strips every
    # quote character from both ends of a value, so some values need the shell instead.
    if "\n" in value or "\r" in value or _INLINE_COMMENT.search(value):
        return False
    if value and (value[0] in "'\"" or value[-1] in "'\""):
        return False
    return not ("'" in value and '"' in value)


def _env_quote(value: str) -> str:
    quote = "'" if '"' in value else '"'
    return quote + _escape_percent(value) + quote


def _apply_extra(spec: ProcessSpec, settings: dict[str, str], extra: Mapping[str, Any]) -> None:
    """``export.supervisord.<key> = value`` sets a program setting as written (``%`` kept)."""
    for key, value in extra.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if base.line_break(text) or not re.fullmatch(r"[a-z_]+", str(key)):
            raise ConfigError(
                f"export.supervisord.{key}: not a supervisord program setting on one line",
                location=Location(key_path=f"processes.{spec.name}.export.supervisord.{key}"),
                code=error_codes.SUPERVISORD_SETTING,
            )
        settings[str(key)] = text
