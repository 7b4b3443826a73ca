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

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from prodserver import codes as error_codes
from prodserver.config.model import ProcessSpec, ResolvedProject, RestartPolicy
from prodserver.config.target import INSTANCE
from prodserver.errors import ConfigError, Location
from prodserver.exporters import base, shell
from prodserver.exporters.systemd_syntax import (
    Section,
    apply_extra,
    assignment,
    env_file_value,
    exec_word,
    ini,
    unit_value,
)
from prodserver.template import Template

RESTART = {"no": "no", "on-failure": "on-failure", "always": "always"}
#: systemd's own PATH for services (systemd.exec(5)), after the virtualenv's
SYSTEMD_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
KILL_MODE = {"main": "mixed", "group": "control-group"}

# Stands for the instance name (%i, the port of a listening process) until the text is
# escaped; a private-use character refused in user values so that it cannot be forged.
_INSTANCE = "\ue000"


def render(project: ResolvedProject, options: base.ExportOptions) -> base.ExportResult:
    """The unit files and environment file of ``project``."""
    lost = base.Lost("systemd")
    prefix = project.name
    etc = PurePosixPath("/etc") / prefix
    env, secrets = base.secret_env(
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
    files: list[base.ExportFile] = []
    wants: list[str] = []
    root = project.deploy.settings("systemd").root or f"/srv/{project.name}"
    # the target's own env files (optional, like `?.env`), below what the configuration sets
    env_files = [f"-{base.under_root(root, p)}" for p in base.target_env_files(project, lost)]
    env_sources = _EnvSources(
        etc=etc,
        has_env_file=bool(file_env),
        has_secrets=bool(provided),
        # read only if it is there when every variable it may set has a default
        secrets_file=("-" if provided and set(provided) <= base.optional_names(project) else "")
        + str(etc / "secrets.env"),
        env_files=tuple(env_files),
    )
    for name in project.start_order():
        spec = project.processes[name]
        unit_name, instances = _names(prefix, spec)
        wants.extend(instances)
        sections, holds_secret = _unit(
            project, spec, files=env_sources, shell_env=shell_env, options=options, lost=lost
        )
        extra = spec.export.get("systemd")
        if extra:
            apply_extra(spec, sections, extra)
        files.append(
            base.generated_file(unit_name, "systemd", project, ini(sections), secret=holds_secret)
        )

    target = {
        "Unit": [
            ("Description", unit_value(f"{project.name} (prodserver profile {project.profile})")),
            ("Wants", " ".join(wants)),
            ("After", " ".join(wants)),
        ],
        "Install": [("WantedBy", "multi-user.target")],
    }
    files.insert(0, base.generated_file(f"{prefix}.target", "systemd", project, ini(target)))
    if file_env:
        lines = "".join(f"{k}={env_file_value(v)}\n" for k, v in file_env.items())
        files.append(base.generated_file(f"{prefix}.env", "systemd", project, lines, secret=True))
    advice = [
        f"install: copy the units to /etc/systemd/system/, {prefix}.env to {etc}/ (mode 0600),"
        f" then: systemctl daemon-reload && systemctl enable --now {prefix}.target"
    ]
    advice += base.provide_notes(
        project,
        provided,
        f"write {etc}/secrets.env (mode 0600) setting: ",
        f"and optionally in {etc}/secrets.env (each has a default): ",
    )
    return base.ExportResult(
        files=tuple(files), warnings=tuple(lost.items), advice=tuple(advice), single_file=False
    )


@dataclass(frozen=True)
class _EnvSources:
    """The files every unit reads its environment from, the same for all the project's units."""

    #: /etc/<project>: where the environment and secrets files go
    etc: PurePosixPath
    #: the configuration's literal variables are in /etc/<project>/<project>.env
    has_env_file: bool
    #: variables only the deploying machine knows are read from ``secrets_file``
    has_secrets: bool
    #: the secrets file (``-`` first where a missing file is fine)
    secrets_file: str
    #: the target's own env files, each optional
    env_files: tuple[str, ...]


def _names(prefix: str, spec: ProcessSpec) -> tuple[str, list[str]]:
    if spec.oneshot:
        unit = f"{prefix}-{spec.name}.service"
        return unit, [unit] if spec.scale else []
    instances = [
        f"{prefix}-{spec.name}@{base.default_port(spec, n) if spec.listens else n}.service"
        for n in range(1, spec.scale + 1)
    ]
    return f"{prefix}-{spec.name}@.service", instances


def _unit(
    project: ResolvedProject,
    spec: ProcessSpec,
    *,
    files: _EnvSources,
    shell_env: Mapping[str, Template],
    options: base.ExportOptions,
    lost: base.Lost,
) -> tuple[dict[str, Section], bool]:
    unit: Section = [
        # %i is the instance: the port of a listening process, else the copy's number.
        (
            "Description",
            unit_value(f"{project.name} {spec.name}") + ("" if spec.oneshot else " %i"),
        ),
        ("PartOf", f"{project.name}.target"),
    ]
    unit += _ordering(project, spec, lost)
    policy = base.export_restart(project, spec, "systemd")
    unit += _start_limits(spec, policy)
    service = _service_type(spec)
    service += _files_and_fixed_env(project, spec, files)
    env, secrets = base.secret_env(
        project, spec.env_templates(), include_secrets=options.include_secrets
    )
    holds_secret = any(key in project.secret_names for key in env)
    proc_shell_env = dict(shell_env)
    for key, value in env.items():
        if value.is_literal:
            service.append(("Environment", assignment(f"{key}={value.literal}")))
        else:
            proc_shell_env[key] = value
    if secrets and not files.has_secrets:
        # A secret named in the process's own env is read from the secrets file like the rest.
        service.append(("EnvironmentFile", files.secrets_file))
    service.append(("ExecStart", _exec_start(spec, proc_shell_env)))
    service += _stop_and_restart(spec, policy, lost)
    service += _user_and_limits(project, spec, options, lost)
    return {"Unit": unit, "Service": service}, holds_secret


def _ordering(project: ResolvedProject, spec: ProcessSpec, lost: base.Lost) -> Section:
    """``After=`` every unit the process depends on, ``Requires=`` those it needs done."""
    after: list[str] = []
    requires: list[str] = []
    for dep in spec.depends_on:
        other = project.processes.get(dep.name)
        if other is None:
            continue
        dep_units = _names(project.name, other)[1]
        after.extend(dep_units)
        if dep.condition == "completed" or other.oneshot:
            requires.extend(dep_units)
        if dep.condition == "healthy":
            lost.add(spec.name, f"depends_on {dep.name} (healthy)", "systemd orders on start only")
    section: Section = []
    if after:
        section.append(("After", " ".join(after)))
    if requires:
        section.append(("Requires", " ".join(requires)))
    return section


def _start_limits(spec: ProcessSpec, policy: RestartPolicy) -> Section:
    """How many restarts in what window: systemd reads these from [Unit], not [Service]."""
    if spec.oneshot or policy.mode == "no":
        return []
    interval = base.duration(policy.window) if policy.max_restarts else "0"
    section: Section = [("StartLimitIntervalSec", interval)]
    if policy.max_restarts:
        section.append(("StartLimitBurst", str(policy.max_restarts)))
    return section


def _service_type(spec: ProcessSpec) -> Section:
    """``Type=``: when systemd takes the process as started."""
    if spec.oneshot:
        # A migration may take longer than the default 90s start timeout.
        return [("Type", "oneshot"), ("RemainAfterExit", "yes"), ("TimeoutStartSec", "infinity")]
    if spec.healthcheck is not None and spec.healthcheck.kind == "notify":
        # the process says READY=1 itself: systemd understands exactly that
        section: Section = [("Type", "notify"), ("NotifyAccess", "main")]
        if spec.healthcheck.watchdog:
            section.append(("WatchdogSec", base.duration(spec.healthcheck.watchdog)))
        return section
    return [("Type", "exec")]


def _files_and_fixed_env(
    project: ResolvedProject, spec: ProcessSpec, files: _EnvSources
) -> Section:
    """The working directory, the environment files, and what the unit itself sets."""
    root = project.deploy.settings("systemd").root or f"/srv/{project.name}"
    section: Section = [
        ("WorkingDirectory", unit_value(base.under_root(root, base.relative_cwd(project, spec))))
    ]
    path = base.target_path(project, spec, "systemd", root, SYSTEMD_PATH)
    if path is not None:
        # commands are found in the virtualenv, not in the PATH of whoever runs systemctl
        section.append(("Environment", assignment(f"PATH={path}")))
    section += [("EnvironmentFile", unit_value(env_file)) for env_file in files.env_files]
    if files.has_env_file:
        section.append(("EnvironmentFile", str(files.etc / f"{project.name}.env")))
    if files.has_secrets:
        section.append(("EnvironmentFile", files.secrets_file))
    if spec.listens and not spec.oneshot:
        section.append(("Environment", "PORT=%i"))
    if spec.numbered_copies and spec.names_copy():
        # the copy's identity (Celery's node name, a ${PRODSERVER_INSTANCE} of the user's):
        # its instance name, the copy's number, or for a listening process its port
        section.append(("Environment", f"{INSTANCE}=%i"))
    return section


def _stop_and_restart(spec: ProcessSpec, policy: RestartPolicy, lost: base.Lost) -> Section:
    """How the process is stopped, which exits count as success, and when it restarts."""
    section: Section = [
        ("KillMode", KILL_MODE[spec.kill_mode]),
        ("KillSignal", spec.stop_signal.name),
        ("TimeoutStopSec", base.duration(spec.stop_timeout)),
    ]
    if policy.success_exit_codes:
        section.append(("SuccessExitStatus", " ".join(map(str, policy.success_exit_codes))))
    if policy.prevent_exit_codes and not spec.oneshot:
        codes = " ".join(map(str, policy.prevent_exit_codes))
        section.append(("RestartPreventExitStatus", codes))
    if not spec.oneshot:
        section.append(("Restart", RESTART[policy.mode]))
        section.append(("RestartSec", base.duration(policy.backoff)))
        if (
            policy.mode != "no"
            and base.restart_tuned(policy)
            and policy.backoff_max != policy.backoff
        ):
            lost.add(
                spec.name,
                f"restart backoff_max {policy.backoff_max:g}s",
                "systemd 252 restarts after a fixed RestartSec",
            )
    return section


def _user_and_limits(
    project: ResolvedProject, spec: ProcessSpec, options: base.ExportOptions, lost: base.Lost
) -> Section:
    """The user and group it runs as, its memory limit, and what systemd cannot express."""
    section: Section = []
    user, group = base.run_as(project, spec, "systemd", allow_root=options.allow_root)
    if user:
        section.append(("User", unit_value(user)))
    if group:
        section.append(("Group", unit_value(group)))
    if spec.max_memory:
        section.append(("MemoryMax", str(spec.max_memory)))
    if spec.healthcheck is not None and spec.healthcheck.kind != "notify":
        lost.add(spec.name, f"healthcheck ({spec.healthcheck.kind})", "systemd has no probes")
    if spec.labels:
        lost.add(spec.name, "labels", "units have no labels")
    if spec.autoscale:
        lost.add(spec.name, "autoscale", "systemd does not scale")
    return section


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
