"""systemd: a target, one templated service per process type, a oneshot unit per release step.

``<project>.target`` wants every instance (``<project>-web@5000.service`` ...): the instance
name of a listening process is its port, so ``Environment=PORT=%i`` gives each copy its own.
Where a process's argv names the copy (Celery's node name), ``PRODSERVER_INSTANCE`` is the
instance name too: the copy's number, or the port of a listening process.
The shared environment goes to ``<project>.env`` (mode 0600), read through ``EnvironmentFile=``;
secrets stay out of it unless asked for and come from ``/etc/<project>/secrets.env``, which the
administrator writes.

Escaping follows systemd.syntax(7) and systemd.service(5): in every value ``%`` starts a
specifier (written ``%%``); in ``ExecStart=`` a literal ``$`` is ``$$`` while ``${NAME}`` is
replaced by the variable's value as exactly one argument; words holding spaces, quotes or
control characters are double-quoted with C escapes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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
    duration,
    export_restart,
    header,
    optional_names,
    provide_notes,
    relative_cwd,
    restart_tuned,
    run_as,
    secret_env,
    target_env_files,
    target_path,
    under_root,
)
from prodserver.template import Piece, Template

RESTART = {"no": "no", "on-failure": "on-failure", "always": "always"}
#: systemd's own PATH for services (systemd.exec(5)), after the virtualenv's
SYSTEMD_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
KILL_MODE = {"main": "mixed", "group": "control-group"}

# Stands for the instance name (%i, the port of a listening process) until the text is
# escaped; a private-use character refused in user values so that it cannot be forged.
_INSTANCE = "\ue000"
_SETTING_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_BARE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")
_C_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def render(project: ResolvedProject, options: ExportOptions) -> ExportResult:
    """The unit files and environment file of ``project``."""
    lost = Lost("systemd")
    prefix = project.name
    etc = PurePosixPath("/etc") / prefix
    env, secrets = secret_env(
        project, project.env_templates(), include_secrets=options.include_secrets
    )
    # Variables whose value needs another variable cannot go in an environment file (it does
    # not expand); the start command's shell sets them instead.
    file_env = {k: v.literal for k, v in env.items() if v.is_literal}
    shell_env = {k: v for k, v in env.items() if not v.is_literal}

    # Variables only the deploying machine knows (secrets, and anything the configuration
    # leaves to the environment) are read from a file the administrator writes.
    # PORT comes from the unit itself (%i), and so does the copy's number of a scaled process
    from_unit = {"PORT"} | ({INSTANCE} if project.copy_numbers_from_engine() else set())
    provided = sorted(set(secrets) | (set(project.runtime_refs) - from_unit))
    files: list[ExportFile] = []
    wants: list[str] = []
    root = project.deploy.settings("systemd").root or f"/srv/{project.name}"
    # the target's own env files (optional, like `?.env`), below what the configuration sets
    env_files = [f"-{under_root(root, p)}" for p in target_env_files(project, lost)]
    for name in project.start_order():
        spec = project.processes[name]
        unit_name, instances = _names(prefix, spec)
        wants.extend(instances)
        sections, holds_secret = _unit(
            project,
            spec,
            etc=etc,
            has_env_file=bool(file_env),
            has_secrets=bool(provided),
            # read only if it is there when every variable it may set has a default
            secrets_file=("-" if provided and set(provided) <= optional_names(project) else "")
            + str(etc / "secrets.env"),
            env_files=env_files,
            shell_env=shell_env,
            options=options,
            lost=lost,
        )
        extra = spec.export.get("systemd")
        if extra:
            _apply_extra(spec, sections, extra)
        files.append(
            ExportFile(
                PurePosixPath(unit_name),
                header("systemd", project) + _ini(sections),
                MODE_SECRET if holds_secret else MODE_PUBLIC,
            )
        )

    target = {
        "Unit": [
            ("Description", _value(f"{project.name} (prodserver profile {project.profile})")),
            ("Wants", " ".join(wants)),
            ("After", " ".join(wants)),
        ],
        "Install": [("WantedBy", "multi-user.target")],
    }
    files.insert(
        0, ExportFile(PurePosixPath(f"{prefix}.target"), header("systemd", project) + _ini(target))
    )
    if file_env:
        lines = "".join(f"{k}={_env_file_value(v)}\n" for k, v in file_env.items())
        files.append(
            ExportFile(
                PurePosixPath(f"{prefix}.env"), header("systemd", project) + lines, MODE_SECRET
            )
        )
    advice = [
        f"install: copy the units to /etc/systemd/system/, {prefix}.env to {etc}/ (mode 0600),"
        f" then: systemctl daemon-reload && systemctl enable --now {prefix}.target"
    ]
    advice += provide_notes(
        project,
        provided,
        f"write {etc}/secrets.env (mode 0600) setting: ",
        f"and optionally in {etc}/secrets.env (each has a default): ",
    )
    return ExportResult(
        files=tuple(files), warnings=tuple(lost.items), advice=tuple(advice), single_file=False
    )


def _names(prefix: str, spec: ProcessSpec) -> tuple[str, list[str]]:
    if spec.oneshot:
        unit = f"{prefix}-{spec.name}.service"
        return unit, [unit] if spec.scale else []
    instances = [
        f"{prefix}-{spec.name}@{default_port(spec, n) if spec.listens else n}.service"
        for n in range(1, spec.scale + 1)
    ]
    return f"{prefix}-{spec.name}@.service", instances


Section = list[tuple[str, str]]


def _unit(
    project: ResolvedProject,
    spec: ProcessSpec,
    *,
    etc: PurePosixPath,
    has_env_file: bool,
    has_secrets: bool,
    secrets_file: str,
    env_files: Sequence[str],
    shell_env: Mapping[str, Template],
    options: ExportOptions,
    lost: Lost,
) -> tuple[dict[str, Section], bool]:
    prefix = project.name
    name = spec.name
    unit: Section = [
        # %i is the instance: the port of a listening process, else the copy's number.
        ("Description", _value(f"{project.name} {name}") + ("" if spec.oneshot else " %i")),
        ("PartOf", f"{prefix}.target"),
    ]
    after: list[str] = []
    requires: list[str] = []
    for dep in spec.depends_on:
        other = project.processes.get(dep.name)
        if other is None:
            continue
        dep_units = _names(prefix, other)[1]
        after.extend(dep_units)
        if dep.condition == "completed" or other.oneshot:
            requires.extend(dep_units)
        if dep.condition == "healthy":
            lost.add(name, f"depends_on {dep.name} (healthy)", "systemd orders on start only")
    if after:
        unit.append(("After", " ".join(after)))
    if requires:
        unit.append(("Requires", " ".join(requires)))
    policy = export_restart(project, spec, "systemd")
    if not spec.oneshot and policy.mode != "no":
        # systemd reads the start limits from [Unit], not [Service].
        interval = duration(policy.window) if policy.max_restarts else "0"
        unit.append(("StartLimitIntervalSec", interval))
        if policy.max_restarts:
            unit.append(("StartLimitBurst", str(policy.max_restarts)))

    service: Section = []
    if spec.oneshot:
        service += [("Type", "oneshot"), ("RemainAfterExit", "yes")]
        # A migration may take longer than the default 90s start timeout.
        service.append(("TimeoutStartSec", "infinity"))
    elif spec.healthcheck is not None and spec.healthcheck.kind == "notify":
        # the process says READY=1 itself: systemd understands exactly that
        service += [("Type", "notify"), ("NotifyAccess", "main")]
        if spec.healthcheck.watchdog:
            service.append(("WatchdogSec", duration(spec.healthcheck.watchdog)))
    else:
        service.append(("Type", "exec"))
    root = project.deploy.settings("systemd").root or f"/srv/{project.name}"
    service.append(("WorkingDirectory", _value(under_root(root, relative_cwd(project, spec)))))
    path = target_path(project, spec, "systemd", root, SYSTEMD_PATH)
    if path is not None:
        # commands are found in the virtualenv, not in the PATH of whoever runs systemctl
        service.append(("Environment", _assignment(f"PATH={path}")))
    for env_file in env_files:
        service.append(("EnvironmentFile", _value(env_file)))
    if has_env_file:
        service.append(("EnvironmentFile", str(etc / f"{prefix}.env")))
    if has_secrets:
        service.append(("EnvironmentFile", secrets_file))
    if spec.listens and not spec.oneshot:
        service.append(("Environment", "PORT=%i"))
    if spec.numbered_copies and spec.names_copy():
        # the copy's identity (Celery's node name, a ${PRODSERVER_INSTANCE} of the user's):
        # its instance name, the copy's number, or for a listening process its port
        service.append(("Environment", f"{INSTANCE}=%i"))
    env, secrets = secret_env(
        project, spec.env_templates(), include_secrets=options.include_secrets
    )
    holds_secret = any(key in project.secret_names for key in env)
    proc_shell_env = dict(shell_env)
    for key, value in env.items():
        if value.is_literal:
            service.append(("Environment", _assignment(f"{key}={value.literal}")))
        else:
            proc_shell_env[key] = value
    if secrets and not has_secrets:
        # A secret named in the process's own env is read from the secrets file like the rest.
        service.append(("EnvironmentFile", secrets_file))
    service.append(("ExecStart", _exec_start(spec, proc_shell_env)))
    service.append(("KillMode", KILL_MODE[spec.kill_mode]))
    service.append(("KillSignal", spec.stop_signal.name))
    service.append(("TimeoutStopSec", duration(spec.stop_timeout)))
    if policy.success_exit_codes:
        service.append(("SuccessExitStatus", " ".join(map(str, policy.success_exit_codes))))
    if policy.prevent_exit_codes and not spec.oneshot:
        codes = " ".join(map(str, policy.prevent_exit_codes))
        service.append(("RestartPreventExitStatus", codes))
    if not spec.oneshot:
        service.append(("Restart", RESTART[policy.mode]))
        service.append(("RestartSec", duration(policy.backoff)))
        if policy.mode != "no" and restart_tuned(policy) and policy.backoff_max != policy.backoff:
            lost.add(
                name,
                f"restart backoff_max {policy.backoff_max:g}s",
                "systemd 252 restarts after a fixed RestartSec",
            )
    user, group = run_as(project, spec, "systemd", allow_root=options.allow_root)
    if user:
        service.append(("User", _value(user)))
    if group:
        service.append(("Group", _value(group)))
    if spec.max_memory:
        service.append(("MemoryMax", str(spec.max_memory)))
    if spec.healthcheck is not None and spec.healthcheck.kind != "notify":
        lost.add(name, f"healthcheck ({spec.healthcheck.kind})", "systemd has no probes")
    if spec.labels:
        lost.add(name, "labels", "units have no labels")
    if spec.autoscale:
        lost.add(name, "autoscale", "systemd does not scale")
    return {"Unit": unit, "Service": service}, holds_secret


def _exec_start(spec: ProcessSpec, shell_env: Mapping[str, Template]) -> str:
    texts = [p for t in (*spec.numbered_argv_words(), *shell_env.values()) for p in t.pieces]
    if any(isinstance(p, str) and _INSTANCE in p for p in texts):
        raise ConfigError(
            f"process {spec.name!r}: the character U+E000 cannot be exported to systemd",
            location=Location(key_path=f"processes.{spec.name}"),
            code=error_codes.SYSTEMD_CHARACTER,
        )
    # The instance name of a listening process is its port: ${PORT} is %i, even with a
    # default, so the common case needs no shell.
    fixed = {"PORT": _INSTANCE} if spec.listens and not spec.oneshot else {}
    argv = spec.argv_words()
    if spec.numbered_words and not spec.oneshot:
        # each copy's argv names the copy (Celery's ``-n worker.%i@%%h``)
        argv = spec.numbered_words
    if spec.numbered_copies:
        fixed[INSTANCE] = _INSTANCE
    words = [arg.with_values(fixed).pieces for arg in argv]
    if shell_env or any(Template(w).has_modifier() for w in words):
        # systemd expands only plain ${NAME}: a default (${X:-d}) or a variable built from
        # others needs a shell, which gets the script as one argument.
        exports = "".join(
            f"export {key}={shell.word(value.pieces)}; " for key, value in shell_env.items()
        )
        script = exports + "exec " + shell.command(words)
        return "/bin/sh -c " + exec_word((script,)).replace(_INSTANCE, "%i")
    first = words[0] if words else ()
    prog = "".join(p for p in first if isinstance(p, str))
    rendered = [exec_word(w) for w in words]
    if not (len(first) == 1 and prog.startswith("/")):
        # A bare name is looked up in systemd's fixed PATH only; env looks in the unit's.
        rendered.insert(0, "/usr/bin/env")
    return " ".join(rendered).replace(_INSTANCE, "%i")


def exec_word(pieces: Sequence[Piece]) -> str:
    """One ``ExecStart=`` argument: specifiers and ``$`` escaped, quoted where needed."""
    if len(pieces) == 1 and pieces[0] == ";":
        # A lone ";" separates commands; systemd.service documents "\;" for the argument.
        return "\\;"
    text = "".join(
        _c_escape(p).replace("%", "%%").replace("$", "$$")
        if isinstance(p, str)
        else "${" + p.name + "}"
        for p in pieces
    )
    if text and _BARE.fullmatch(text):
        return text
    return f'"{text}"'


def _c_escape(text: str) -> str:
    out = []
    for char in text:
        if char in _C_ESCAPES:
            out.append(_C_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "".join(out)


def _value(text: str) -> str:
    """A free-text setting (Description, WorkingDirectory, User): specifiers escaped.

    These take the rest of the line as it is, so a character that would end or change the
    line cannot be written.
    """
    if re.search(r"[\x00-\x1f\x7f\\]", text) or text != text.strip():
        raise ConfigError(
            f"{text!r} cannot be written in a systemd unit",
            hint="avoid control characters, backslashes and surrounding spaces in names and paths",
            code=error_codes.SYSTEMD_CHARACTER,
        )
    return text.replace("%", "%%")


def _assignment(text: str) -> str:
    """One ``Environment=`` assignment: quoted with C escapes unless it is one plain word."""
    escaped = text.replace("%", "%%")
    if _BARE.fullmatch(escaped):
        return escaped
    return '"' + _c_escape(escaped) + '"'


def _env_file_value(value: str) -> str:
    """A value for an ``EnvironmentFile=``: double-quoted, shell-like escapes, no specifiers."""
    return '"' + re.sub(r'([\\"`$])', r"\\\1", value) + '"'


def _apply_extra(spec: ProcessSpec, sections: dict[str, Section], extra: Mapping[str, Any]) -> None:
    """``export.systemd.<Section>.<Key> = value`` replaces or adds a setting, as written."""
    for section, settings in extra.items():
        if not isinstance(settings, Mapping):
            raise ConfigError(
                f"export.systemd.{section} must be a table of settings",
                location=Location(key_path=f"processes.{spec.name}.export.systemd.{section}"),
                code=error_codes.SYSTEMD_CHARACTER,
            )
        _check_extra_name(spec, str(section), f"export.systemd.{section}")
        lines = sections.setdefault(section, [])
        for key, value in settings.items():
            path = f"export.systemd.{section}.{key}"
            _check_extra_name(spec, str(key), path)
            values = value if isinstance(value, list) else [value]
            lines[:] = [(k, v) for k, v in lines if k != key]
            for item in values:
                text = str(item).lower() if isinstance(item, bool) else str(item)
                if _CONTROL.search(text):
                    # systemd ends a line at \n and \r: no control character is written raw
                    raise ConfigError(
                        f"{path} cannot hold a line break or control character",
                        location=Location(key_path=f"processes.{spec.name}.{path}"),
                        code=error_codes.SYSTEMD_CHARACTER,
                    )
                lines.append((key, text))


def _check_extra_name(spec: ProcessSpec, name: str, path: str) -> None:
    """Section and setting names are identifiers: anything else would be structure."""
    if not _SETTING_NAME.fullmatch(name):
        raise ConfigError(
            f"{path}: {name!r} is not a systemd section or setting name",
            location=Location(key_path=f"processes.{spec.name}.{path}"),
            hint="use letters and digits, as systemd.directives(7) lists them (ExecStartPre)",
            code=error_codes.SYSTEMD_CHARACTER,
        )


def _ini(sections: Mapping[str, Section]) -> str:
    blocks = []
    for section, lines in sections.items():
        body = "".join(f"{key}={value}\n" for key, value in lines)
        blocks.append(f"[{section}]\n{body}")
    return "\n".join(blocks)
