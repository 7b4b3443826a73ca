"""``prodserver export FORMAT``: the profile's processes as Procfile, Compose, systemd, ...

A thin adapter: resolve for export (runtime values stay references), render, then print the
single file to stdout or write the files under ``-o``. Every setting the format could not
express is printed to stderr as a warning.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path, PurePosixPath

from prodserver import codes

FORMAT_NAMES = ("procfile", "compose", "systemd", "supervisord", "kubernetes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "format", metavar="FORMAT", choices=FORMAT_NAMES, help=", ".join(FORMAT_NAMES)
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        default=None,
        help="file (single-file formats) or directory to write; default: print to stdout",
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite files prodserver did not write"
    )
    parser.add_argument(
        "--include-secrets",
        action="store_true",
        help="write secret values (files become mode 0600) instead of references",
    )
    parser.add_argument(
        "--allow-root",
        action="store_true",
        help="systemd, supervisord: let a production profile's processes run as root when no "
        "user is set (refused by default; also PRODSERVER_ALLOW_ROOT=1 or [project] allow_root)",
    )
    parser.add_argument(
        "--kustomize",
        action="store_true",
        help="kubernetes: a kustomize base plus one overlay per profile (needs -o DIR)",
    )


def run(args: argparse.Namespace) -> int:
    from prodserver.cli.common import load_project
    from prodserver.errors import UsageError
    from prodserver.exporters import ExportOptions, render, write_files

    if args.kustomize and args.format != "kubernetes":
        raise UsageError("--kustomize applies to the kubernetes format only")
    project = load_project(args, for_export=True, include_secrets=args.include_secrets)
    profiles = {}
    if args.kustomize:
        from prodserver.config.resolve import resolve_project

        for name in project.profiles or (project.profile,):
            profiles[name] = resolve_project(
                file=project.source,
                profile=name,
                env_files=[Path(p) for p in args.env_file],
                for_export=True,
                include_secrets=args.include_secrets,
            )
    from prodserver.checks.root import root_allowed

    options = ExportOptions(
        include_secrets=args.include_secrets,
        kustomize=args.kustomize,
        profiles=profiles,
        allow_root=root_allowed(args.allow_root),
    )
    result = render(args.format, project, options)
    for line in (*project.warnings, *result.warnings):
        sys.stderr.write(f"{line}\n" if line.startswith("warning") else f"warning: {line}\n")
    for line in result.advice:
        sys.stderr.write(f"note: {line}\n")

    if args.output is None:
        if not result.single_file or len(result.files) != 1:
            raise UsageError(
                f"the {args.format} export writes several files",
                hint=f"give a directory: prodserver export {args.format} -o DIR",
            )
        sys.stdout.write(result.files[0].content)
        sys.stdout.flush()
        return 0

    output = Path(args.output)
    if output.is_symlink():
        # `-o link` would write wherever the link points, now or after a swap
        from prodserver.errors import OutputError

        raise OutputError(
            f"refusing to write through the symbolic link {output}",
            hint="give the real path, or remove the link",
            code=codes.THROUGH_SYMLINK,
        )
    files = list(result.files)
    if (
        result.single_file
        and len(files) == 1
        and not output.is_dir()
        and not args.output.endswith("/")
    ):
        # -o names the file itself.
        only = files[0]
        files = [type(only)(PurePosixPath(output.name), only.content, only.mode)]
        outdir = output.parent
    else:
        outdir = output
    for path in write_files(files, outdir, force=args.force):
        sys.stderr.write(f"wrote {path}\n")
    return 0
