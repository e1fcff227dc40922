"""The ``spacetimedb-sdk`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from spacetimedb_sdk import __version__
from spacetimedb_sdk.codegen.cli import register as add_generate_parser
from spacetimedb_sdk.local_server.serve_command import add_serve_parser

__all__ = ["main"]


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The argument parser with every subcommand registered, and each subcommand's parser."""
    parser = argparse.ArgumentParser(
        prog="spacetimedb-sdk",
        description="Python SDK for SpacetimeDB: code generation and a local server.",
    )
    parser.add_argument("--version", action="version", version=f"spacetimedb-sdk {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = {
        "generate": add_generate_parser(subparsers),
        "serve": add_serve_parser(subparsers),
    }
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser, commands = build_parser()
    # parse_known_args: an unknown option is reported by its subcommand's parser (its usage, its
    # one-line style), not by the top-level one, which knows nothing of the subcommand.
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        (commands.get(args.command) or parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    handler = getattr(args, "handler", None)
    if handler is None:
        return 0
    code: int = handler(args)
    return code
