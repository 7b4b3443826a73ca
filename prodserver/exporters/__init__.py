"""Exporters: the same resolved processes written for the engines teams already run.

Each format is a module with ``render(project, options) -> ExportResult``; nothing here reads
raw configuration. :func:`render` is the single entry point the CLI uses; it checks names,
runs the format, and makes sure no secret value slipped into the output.
"""

from __future__ import annotations

import dataclasses
import importlib

from prodserver.config.model import ResolvedProject
from prodserver.errors import UsageError
from prodserver.exporters.base import (
    ExportFile,
    ExportOptions,
    ExportResult,
    check_env_names,
    check_names,
    check_singletons,
    guard_secrets,
    restart_warnings,
    write_files,
)

#: format name -> module under prodserver.exporters
FORMATS = {
    "procfile": "procfile",
    "compose": "compose",
    "systemd": "systemd",
    "supervisord": "supervisord",
    "kubernetes": "kubernetes",
}

__all__ = ["FORMATS", "ExportFile", "ExportOptions", "ExportResult", "render", "write_files"]


def render(
    fmt: str, project: ResolvedProject, options: ExportOptions | None = None
) -> ExportResult:
    """Export ``project`` (an export resolution) in format ``fmt``."""
    if fmt not in FORMATS:
        raise UsageError(
            f"unknown export format {fmt!r}", hint="choose one of: " + ", ".join(FORMATS)
        )
    options = options or ExportOptions()
    check_names(project)
    check_env_names(project)
    check_singletons(project, fmt)
    module = importlib.import_module(f"prodserver.exporters.{FORMATS[fmt]}")
    result: ExportResult = module.render(project, options)
    guard_secrets(
        project,
        result,
        lambda other: module.render(other, options),
        include_secrets=options.include_secrets,
    )
    extra = [w for w in restart_warnings(project, fmt) if w not in result.warnings]
    if extra:
        result = dataclasses.replace(result, warnings=(*result.warnings, *extra))
    return result
