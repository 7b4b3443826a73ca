"""``prodserver config``: the resolved configuration, secrets masked unless asked."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("toml", "json"), default="toml", help="output format")
    parser.add_argument(
        "--explain", action="store_true", help="show which layer set each value (file:line)"
    )
    parser.add_argument(
        "--show-secrets", action="store_true", help="print secret values instead of ********"
    )
    parser.add_argument(
        "--names", action="store_true", help="print only the process names, one per line"
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from prodserver.config.display import masker_for, project_data
    from prodserver.config.resolve import resolve_with_provenance

    project, prov = resolve_with_provenance(
        file=Path(args.file) if args.file else None,
        profile=args.profile,
        env_files=[Path(p) for p in args.env_file],
    )
    if getattr(args, "names", False):
        sys.stdout.write("".join(f"{name}\n" for name in project.processes))
        return 0
    data = project_data(project, show_secrets=args.show_secrets, configured=prov.configured)
    if args.explain:
        masker = masker_for(project, show=args.show_secrets)
        explain: dict[str, Any] = {"profile": f"{project.profile} ({prov.profile_origin})"}
        explain["env"] = {k: prov.env[k].render() for k in data["env"] if k in prov.env}
        for name in project.processes:
            entry: dict[str, str] = {}
            for key, loc in prov.keys.get(name, {}).items():
                entry[key] = loc.render()
            for var, origin in prov.process_env.get(name, {}).items():
                entry[f"env.{var}"] = origin.render()
            explain[f"processes.{name}"] = entry
        data["explain"] = masker.any(explain)
    if args.format == "json":
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    else:
        import tomlkit

        sys.stdout.write(tomlkit.dumps(data))
    return 0
