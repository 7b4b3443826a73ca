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
import signal
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from prodserver import codes as error_codes
from prodserver.config.model import ProcessSpec, ResolvedProject
from prodserver.config.target import INSTANCE
from prodserver.errors import ConfigError, Location
from prodserver.exporters import shell
from prodserver.exporters.base import (
    MODE_PUBLIC,
    MODE_SECRET,
    ExportFile,
    ExportOptions,
    ExportResult,
    Lost,
    default_port,
    header,
    line_break,
    restart_tuned,
    seconds,
    secret_env,
)
from prodserver.template import Template

SIGNALS = {signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGKILL}
SIGNALS |= {signal.SIGUSR1, signal.SIGUSR2}
AUTORESTART = {"no": "false", "on-failure": "unexpected", "always": "true"}
_INLINE_COMMENT = re.compile(r"\s[;#]")
# Stands for the copy's port (or number) until the text is escaped, then becomes %(process_num)d: a
# private-use character, refused in user values so that it cannot be forged.
_PORT = "\ue000"


def render(project: ResolvedProject, options: ExportOptions) -> ExportResult:
    """The ``<project>.conf`` of ``project`` (for supervisord's ``conf.d``)."""
    lost = Lost("supervisord")
    env, _secrets = secret_env(
        project, project.env_templates(), include_secrets=options.include_secrets
    )
    holds_secret = options.include_secrets and any(n in project.secret_names for n in project.env)
    blocks: list[str] = [
        f"[group:{project.name}]\nprograms={','.join(project.processes)}\n",
    ]
    for index, name in enumerate(project.start_order()):
        spec = project.processes[name]
        own, _ = secret_env(project, spec.env_templates(), include_secrets=options.include_secrets)
        holds_secret = holds_secret or (
            options.include_secrets and any(k in project.secret_names for k in spec.env)
        )
        settings = _program(spec, {**env, **own}, index, lost)
        extra = spec.export.get("supervisord")
        if extra:
            _apply_extra(spec, settings, extra)
        body = "".join(f"{key}={value}\n" for key, value in settings.items())
        blocks.append(f"[program:{name}]\n{body}")
    content = header("supervisord", project, comment=";") + "\n".join(blocks)
    # PORT comes from supervisord itself (%(process_num)d), and so does the copy's number of a
    # scaled process
    engine_set = {"PORT"} | ({INSTANCE} if project.copy_numbers_from_engine() else set())
    runtime = sorted(set(_secrets) | (set(project.runtime_refs) - engine_set))
    advice = []
    if runtime:
        advice.append("supervisord's environment must provide: " + ", ".join(runtime))
    return ExportResult(
        files=(
            ExportFile(
                PurePosixPath(f"{project.name}.conf"),
                content,
                MODE_SECRET if holds_secret else MODE_PUBLIC,
            ),
        ),
        warnings=tuple(lost.items),
        advice=tuple(advice),
    )


def _program(
    spec: ProcessSpec, env: Mapping[str, Template], index: int, lost: Lost
) -> dict[str, str]:
    name = spec.name
    settings: dict[str, str] = {}
    fixed = {"PORT": _PORT} if spec.listens else {}
    argv = spec.argv_words()
    numbered = bool(spec.numbered_words) and spec.scale > 1 and not spec.oneshot
    if numbered:
        # each copy's argv names the copy (Celery's ``-n worker.%(process_num)d@%%h``)
        argv = spec.numbered_words
    names_instance = spec.numbered_copies and spec.names_copy()
    if names_instance:
        fixed[INSTANCE] = _PORT
    texts = [p for t in (*argv, *env.values()) for p in t.pieces]
    if any(isinstance(p, str) and "\r" in p for p in texts):
        raise ConfigError(
            f"process {name!r}: a command argument or environment value holds a carriage "
            "return (\\r), which a supervisord configuration cannot carry",
            location=Location(key_path=f"processes.{name}"),
            hint="remove the carriage return (a .env file saved with Windows line endings "
            "is read without them)",
            code=error_codes.SUPERVISORD_SETTING,
        )
    if any(isinstance(p, str) and _PORT in p for p in texts):
        raise ConfigError(
            f"process {name!r}: the character U+E000 cannot be exported to supervisord",
            location=Location(key_path=f"processes.{name}"),
            code=error_codes.SUPERVISORD_SETTING,
        )
    words = [arg.with_values(fixed) for arg in argv]
    environment: dict[str, str] = {}
    shell_env: dict[str, Template] = {}
    for key, value in env.items():
        filled = value.with_values(fixed)
        if filled.is_literal and _env_ok(filled.literal):
            environment[key] = filled.literal
        else:
            shell_env[key] = value
    if spec.listens:
        environment["PORT"] = _PORT
    if names_instance:
        environment[INSTANCE] = _PORT
    needs_shell = bool(shell_env) or any(not word.is_literal for word in words)
    if needs_shell:
        exports = "".join(
            f"export {key}={shell.word(value.pieces)}; " for key, value in shell_env.items()
        )
        script = exports + "exec " + shell.command([w.pieces for w in words])
        command = "/bin/sh -c " + _word(script)
    else:
        command = " ".join(_word(w.literal) for w in words)
    settings["command"] = command
    if spec.scale > 1 and not spec.oneshot:
        settings["process_name"] = "%(program_name)s_%(process_num)d"
        settings["numprocs"] = str(spec.scale)
        settings["numprocs_start"] = str(default_port(spec) if spec.listens else 1)
    elif spec.listens:
        settings["process_name"] = "%(program_name)s_%(process_num)d"
        settings["numprocs_start"] = str(default_port(spec))
    settings["directory"] = _value(str(spec.cwd))
    if environment:
        settings["environment"] = ",".join(
            f"{key}={_env_quote(value)}" for key, value in environment.items()
        )
    settings["priority"] = str(100 + 10 * index)
    settings["autostart"] = "true" if spec.scale else "false"
    if spec.oneshot:
        settings["autorestart"] = "false"
        settings["startsecs"] = "0"
        settings["exitcodes"] = ",".join(map(str, (0, *spec.restart.success_exit_codes)))
    else:
        settings["autorestart"] = AUTORESTART[spec.restart.mode]
        settings["startsecs"] = "1"
        if spec.restart.success_exit_codes:
            # "expected" exits: autorestart=unexpected leaves them alone
            codes = (0, *spec.restart.success_exit_codes)
            settings["exitcodes"] = ",".join(map(str, codes))
        if spec.restart.prevent_exit_codes:
            lost.add(name, "restart.prevent_exit_codes", "supervisord restarts on any exit code")
        if spec.restart.max_restarts:
            settings["startretries"] = str(spec.restart.max_restarts)
        if spec.restart.mode != "no" and restart_tuned(spec.restart):
            lost.add(name, "restart backoff", "supervisord waits one more second per retry")
    if spec.stop_signal in SIGNALS:
        settings["stopsignal"] = spec.stop_signal.name.removeprefix("SIG")
    else:
        settings["stopsignal"] = "TERM"
        lost.add(name, f"stop_signal {spec.stop_signal.name}", "supervisord cannot send it")
    settings["stopwaitsecs"] = str(seconds(spec.stop_timeout))
    settings["stopasgroup"] = "true" if spec.kill_mode == "group" else "false"
    # Whatever is left after the grace period is killed with the whole process group.
    settings["killasgroup"] = "true"
    if spec.user:
        settings["user"] = _value(spec.user)
    settings["redirect_stderr"] = "true"
    for dep in spec.depends_on:
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
    return settings


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
    return text.replace("%", "%%").replace(_PORT, "%(process_num)d")


def _value(text: str) -> str:
    if line_break(text) or _INLINE_COMMENT.search(text) or text != text.strip():
        raise ConfigError(
            f"{text!r} cannot be written as a supervisord setting",
            hint="avoid newlines, surrounding spaces, and ' ;' or ' #' in paths and user names",
            code=error_codes.SUPERVISORD_SETTING,
        )
    return text.replace("%", "%%")


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
        if line_break(text) or not re.fullmatch(r"[a-z_]+", str(key)):
            raise ConfigError(
                f"export.supervisord.{key}: not a supervisord program setting on one line",
                location=Location(key_path=f"processes.{spec.name}.export.supervisord.{key}"),
                code=error_codes.SUPERVISORD_SETTING,
            )
        settings[str(key)] = text
