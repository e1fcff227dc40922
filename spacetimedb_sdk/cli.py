"""The ``spacetimedb-sdk`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from spacetimedb_sdk import __version__

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="spacetimedb-sdk",
        description="Python SDK for SpacetimeDB: code generation and a local server.",
    )
    parser.add_argument("--version", action="version", version=f"spacetimedb-sdk {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return 0
