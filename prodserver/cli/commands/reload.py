"""``prodserver reload``: the running ``up`` re-reads its configuration (same as SIGHUP).

It asks over the control socket (see :mod:`prodserver.runtime.control`) and prints what the
reload did: processes added, removed, restarted because they changed, and left alone. A
configuration that does not resolve changes nothing: its problems are printed and the exit
code is 1. Exit code 3 (``NOT_RUNNING``) when no ``up`` runs for the project.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from prodserver.config.sources import discover
    from prodserver.exitcodes import ExitCode
    from prodserver.runtime.control import request
    from prodserver.runtime.rundir import runtime_dir

    config = discover(Path(args.file) if args.file else None)
    outcome = request(runtime_dir(config.parent), {"command": "reload"}, timeout=30.0)
    if args.json:
        sys.stdout.write(json.dumps(outcome, indent=2) + "\n")
    elif outcome.get("ok"):
        for group in ("added", "removed", "changed", "unchanged"):
            names = outcome.get(group) or []
            if names:
                sys.stdout.write(f"{group}: {', '.join(names)}\n")
        signalled = outcome.get("signalled") or []
        if signalled:
            sys.stdout.write(f"reload signal sent to: {', '.join(signalled)}\n")
    else:
        sys.stderr.write("prodserver: reload refused; nothing changed\n")
        for problem in outcome.get("problems") or []:
            sys.stderr.write(f"  {problem}\n")
    return int(ExitCode.OK) if outcome.get("ok") else int(ExitCode.FAILURE)
