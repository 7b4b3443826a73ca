"""``prodserver backends [NAME]``: the registered backends and their options."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="show one backend's options in full")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _option_data(opt: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": opt.name, "type": opt.type, "doc": opt.doc}
    for key in ("flag", "default", "choices", "minimum", "maximum"):
        value = getattr(opt, key)
        if value not in (None, ()):
            data[key] = list(value) if isinstance(value, tuple) else value
    if opt.required:
        data["required"] = True
    return data


def run(args: argparse.Namespace) -> int:
    from prodserver.backends.registry import get_backend, registry
    from prodserver.errors import ConfigError, UsageError

    infos = registry()
    if args.name:
        try:
            backend = get_backend(args.name)
        except ConfigError as exc:
            # no configuration is involved: a misspelt argument is a usage error
            raise UsageError(exc.message, hint=exc.hint) from None
        info = infos[backend.name]
        missing = backend.missing_requirements()
        data = {
            "name": backend.name,
            "summary": backend.summary,
            "kind": backend.kind,
            "origin": info.origin,
            "extra": backend.extra,
            "installed": not missing,
            "listens": backend.listens,
            "stop_signal": backend.stop_signal.name,
            "kill_mode": backend.kill_mode,
            "options": [_option_data(o) for o in backend.options],
        }
        if args.json:
            sys.stdout.write(json.dumps(data, indent=2) + "\n")
            return 0
        out = [f"{backend.name} - {backend.summary}", ""]
        out.append(f"  kind: {backend.kind}   origin: {info.origin}")
        hint = backend.install_hint()
        status = "installed" if not missing else f"not installed ({hint})"
        out.append(f"  package: {status}")
        out.append(
            f"  listens: {'yes' if backend.listens else 'no'}   stop: {backend.stop_signal.name}"
            f" to the {'main process' if backend.kill_mode == 'main' else 'process group'}"
        )
        out.append("")
        out.append("  options:")
        width = max((len(o.name) for o in backend.options), default=4)
        for opt in backend.options:
            flag = f" ({opt.flag})" if opt.flag else ""
            default = f" [default: {opt.default!r}]" if opt.default is not None else ""
            req = " (required)" if opt.required else ""
            out.append(f"    {opt.name:<{width}}  {opt.type}{flag}{req}{default}")
            out.append(f"    {'':<{width}}  {opt.doc}")
        out.append("")
        out.append("  every backend also takes the common keys: `prodserver schema` lists them")
        sys.stdout.write("\n".join(out) + "\n")
        return 0
    rows = []
    for name, info in infos.items():
        backend = info.backend
        missing = backend.missing_requirements()
        rows.append(
            {
                "name": name,
                "kind": backend.kind,
                "summary": backend.summary,
                "origin": info.origin,
                "installed": not missing,
                "extra": backend.extra,
                "options": [o.name for o in backend.options],
            }
        )
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return 0
    width = max(len(str(r["name"])) for r in rows)
    lines = []
    for r in rows:
        mark = "" if r["installed"] else f"  (install: pip install 'prodserver[{r['extra']}]')"
        lines.append(f"{r['name']:<{width}}  {r['kind']:<9}  {r['summary']}{mark}")
    lines.append("")
    lines.append("`prodserver backends NAME` shows one backend's options.")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0
