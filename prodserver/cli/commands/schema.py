"""``prodserver schema``: print the JSON schema of prodserver.toml."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--with-plugins",
        action="store_true",
        help="include backends registered by installed plugins (the committed file has built-ins)",
    )


def run(args: argparse.Namespace) -> int:
    from prodserver.schema.build import build_schema, render_schema

    backends = None
    if args.with_plugins:
        from prodserver.backends.registry import registry

        backends = {name: info.backend for name, info in registry().items()}
    sys.stdout.write(render_schema(build_schema(backends)))
    return 0
