"""Procfile: one line per process type, for Heroku and every Procfile runner.

The platform runs each line with a shell, so every argv word is quoted for the shell, and a
reference (``$PORT``, a secret) is expanded by that shell at run time, never replaced by a
local value. The oneshots become the ``release:`` line (Heroku's release phase runs it to
completion before the new processes start). Scale is not part of a Procfile: it is printed as
``heroku ps:scale`` advice.
"""

from __future__ import annotations

import re
import shlex
import signal

from prodserver import codes
from prodserver.config.model import ProcessSpec, ResolvedProject
from prodserver.config.shellline import exec_form
from prodserver.errors import ConfigError, Location
from prodserver.exporters import base, shell

#: Heroku sends SIGTERM and kills what is left after 30 seconds
HEROKU_GRACE = 30.0


def render(project: ResolvedProject, options: base.ExportOptions) -> base.ExportResult:
    """The Procfile of ``project``."""
    lost = base.Lost("procfile")
    release: list[str] = []
    lines: list[str] = []
    scale: list[str] = []
    for name in project.start_order():
        spec = project.processes[name]
        command = _command(project, spec, options)
        _report_losses(project, spec, lost)
        if spec.oneshot:
            release.append(command)
        else:
            lines.append(f"{name}: {command}")
            scale.append(f"{name}={spec.scale}")
    # Keep the file order for the process lines: it is the order the user wrote.
    order = {n: i for i, n in enumerate(project.processes)}
    lines.sort(key=lambda line: order[line.split(":", 1)[0]])
    if release:
        lines.insert(0, "release: " + " && ".join(release))
    content = base.header("procfile", project) + "\n".join(lines) + "\n"
    advice = []
    shared, secrets = base.secret_env(project, project.env_templates(), include_secrets=False)
    plain = {k: v.literal for k, v in shared.items() if v.is_literal}
    if plain:
        # The shared environment is the platform's config vars, not part of the Procfile.
        assignments = " ".join(shlex.quote(f"{k}={v}") for k, v in plain.items())
        advice.append(f"set the config vars: heroku config:set {assignments}")
    # and what the configuration leaves to the platform (PORT is the platform's own)
    left = {n for n in project.runtime_refs if n != "PORT" and n not in plain}
    provided = sorted({*secrets, *left, *(k for k in shared if k not in plain)})
    advice += base.provide_notes(
        project,
        provided,
        "and set these on the platform yourself: ",
        "and, if the defaults do not suit, these: ",
        # a config var is one value: one the configuration builds from others is the user's
        also_required={k for k in shared if k not in plain and k not in left},
    )
    if scale:
        advice.append("scale the process types with: heroku ps:scale " + " ".join(scale))
    holds_secret = options.include_secrets and any(
        key in project.secret_names for spec in project.processes.values() for key in spec.env
    )
    return base.ExportResult.one_file(
        "Procfile", content, holds_secret=holds_secret, lost=lost, advice=advice
    )


def _command(project: ResolvedProject, spec: ProcessSpec, options: base.ExportOptions) -> str:
    script = spec.options.get("command")
    if spec.shell and isinstance(script, str) and spec.argv[:2] == ("/bin/sh", "-c"):
        # A shell command line is what a Procfile line is: written back as it was, for the
        # platform's shell to run (and expand) exactly as `up` does.
        command = script if spec.argv[2] == exec_form(script) else spec.argv[2]
    else:
        command = shell.command([w.pieces for w in spec.argv_words()])
    if spec.cwd != project.root:
        relative = spec.cwd.relative_to(project.root).as_posix()
        command = f"cd {shell.word((relative,))} && {command}"
    env, _secrets = base.secret_env(
        project, spec.env_templates(), include_secrets=options.include_secrets
    )
    if env:
        # The process's own variables, set for this command only; the rest (secrets
        # included) are the platform's config vars.
        assignments = " ".join(f"{key}={shell.word(value.pieces)}" for key, value in env.items())
        command = f"env {assignments} {command}"
    if base.line_break(command):
        # A Procfile line ends at any line break its reader knows (honcho uses
        # str.splitlines); an argument holding one cannot be written.
        raise_newline(spec, base.line_break(command) or "\n")
    return command


def raise_newline(spec: ProcessSpec, char: str = "\n") -> None:
    """A line break inside a command cannot be put on one Procfile line."""
    raise ConfigError(
        f"process {spec.name!r}: a command argument or environment value holds a newline or "
        f"other line break ({char!r}), which a Procfile line cannot carry",
        location=Location(key_path=f"processes.{spec.name}.command"),
        hint="pass the value through an environment variable (a config var) instead",
        code=codes.PROCFILE_LINE_BREAK,
    )


def _report_losses(project: ResolvedProject, spec: ProcessSpec, lost: base.Lost) -> None:
    name = spec.name
    uses_port = any("PORT" in w.names() for w in spec.argv_words()) or any(
        "PORT" in value.names() for value in spec.env_templates().values()
    )
    script = spec.options.get("command")
    if spec.shell and isinstance(script, str) and re.search(r"\$\{?PORT\b", script):
        uses_port = True  # the platform's shell expands it in the line as written
    # a plain command may or may not listen: only a server backend is known to
    if spec.listens and not spec.oneshot and not uses_port and spec.backend != "command":
        # The platform chooses the port and passes it only in $PORT.
        lost.add(
            name,
            "the platform's $PORT",
            "the command does not use it (it listens on a fixed port); bind to ${PORT}",
        )
    if spec.stop_signal != signal.SIGTERM:
        lost.add(name, f"stop_signal {spec.stop_signal.name}", "the platform always sends SIGTERM")
    if spec.stop_timeout > HEROKU_GRACE:
        lost.add(
            name,
            f"stop_timeout {spec.stop_timeout:g}s",
            f"Heroku kills a process {HEROKU_GRACE:g}s after SIGTERM",
        )
    if spec.healthcheck is not None:
        lost.add(name, f"healthcheck ({spec.healthcheck.kind})", "a Procfile has no probes")
    for dep in spec.depends_on:
        if dep.condition != "completed":
            lost.add(
                name,
                f"depends_on {dep.name} ({dep.condition})",
                "process types start together; only the release phase runs first",
            )
    policy = base.export_restart(project, spec, "procfile")
    if not spec.oneshot and (policy.mode == "no" or base.restart_tuned(policy)):
        lost.add(name, f"restart {policy.mode}", "the platform restarts crashed processes")
    if spec.user:
        lost.add(name, f"user {spec.user}", "the platform chooses the user")
    if spec.max_memory:
        lost.add(name, "max_memory", "memory is set by the dyno size")
    if spec.autoscale:
        lost.add(name, "autoscale", "configure autoscaling on the platform")
