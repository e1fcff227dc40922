"""``spacetimedb-sdk serve``: run the local server in the foreground.

::

    spacetimedb-sdk serve [--host 127.0.0.1] [--port 3000] [--data-dir DIR] NAME=PATH [NAME=PATH ...]

Prints the base URL once listening (and the owner token, which may read private tables and run
SQL DML), then serves until Ctrl-C or SIGTERM; shutdown sends every WebSocket client a Close
frame (1001) and waits for in-flight work, so every acknowledged commit is on disk.

A module that cannot be served (no such path, an import error, an invalid definition) is one
line on stderr (``spacetimedb-sdk serve: error: ...``) and exit status 1, like ``generate``;
``--debug`` (or ``--log-level debug``) adds the traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spacetimedb_sdk.errors import SpacetimeDBError

if TYPE_CHECKING:
    from spacetimedb_sdk.local_server.server import LocalServer

__all__ = ["add_serve_parser", "missing_server_dependencies", "parse_database_specs", "run_serve"]


def parse_database_specs(specs: list[str]) -> dict[str, Path]:
    """``["chat=server/", ...]`` -> ``{"chat": Path("server/")}`` (ValueError on bad input)."""
    from spacetimedb_sdk.local_server.database_address import database_name_problem

    out: dict[str, Path] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"expected NAME=PATH, got {spec!r}")
        problem = database_name_problem(name)
        if problem is not None:
            shown = name if len(name) <= 80 else f"{name[:80]}..."
            raise ValueError(f"invalid database name {shown!r}: {problem}")
        if name in out:
            raise ValueError(f"database {name!r} given twice")
        out[name] = Path(path)
    return out


def add_serve_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``serve`` subcommand on an ``argparse`` subparsers object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run a local SpacetimeDB-compatible server hosting Python modules",
        description="Serve Python modules over the SpacetimeDB HTTP and WebSocket API.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=3000, help="port (0 = pick a free one)")
    parser.add_argument("--data-dir", type=Path, help="keep keys and data here (default: memory)")
    parser.add_argument(
        "--fresh-database",
        action="store_true",
        help="start the databases empty: move their files in --data-dir aside first "
        "(e.g. to recover from a damaged database; nothing is deleted)",
    )
    parser.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error")
    )
    parser.add_argument(
        "--debug", action="store_true", help="print the traceback of a start-up failure"
    )
    parser.add_argument(
        "databases", nargs="+", metavar="NAME=PATH", help="a database name and its module"
    )
    parser.set_defaults(handler=run_serve)
    return parser


def missing_server_dependencies() -> list[str]:
    """The packages of the ``server`` extra that cannot be imported here."""
    import importlib.util

    wanted = {"aiohttp": "aiohttp", "sqlglot": "sqlglot", "jwt": "pyjwt", "blake3": "blake3"}
    return [pkg for module, pkg in wanted.items() if importlib.util.find_spec(module) is None]


def run_serve(args: argparse.Namespace) -> int:
    """Run the server until interrupted; the process exit code."""
    missing = missing_server_dependencies()
    if missing:
        print(
            "spacetimedb-sdk serve: the local server needs the 'server' extra "
            f"(missing: {', '.join(missing)}); install it from a checkout of this "
            "repository with: pip install -e '.[server]'",
            file=sys.stderr,
        )
        return 2
    try:
        databases = parse_database_specs(list(args.databases))
    except ValueError as exc:
        print(f"spacetimedb-sdk serve: {exc}", file=sys.stderr)
        return 2
    debug = bool(getattr(args, "debug", False)) or args.log_level == "debug"
    missing_path = _first_missing_module(databases)
    if missing_path is not None:
        print(f"spacetimedb-sdk serve: error: {missing_path}", file=sys.stderr)
        return 1
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if getattr(args, "fresh_database", False):
        if args.data_dir is None:
            print("spacetimedb-sdk serve: --fresh-database needs --data-dir", file=sys.stderr)
            return 2
        _set_aside_databases(args.data_dir, databases)
    try:
        return asyncio.run(_serve(databases, args.host, args.port, args.data_dir, debug))
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 130


def _first_missing_module(databases: dict[str, Path]) -> str | None:
    """Say which ``NAME=PATH`` names no file or directory (paths are relative to the cwd)."""
    for name, path in databases.items():
        if not path.exists():
            where = (
                "" if path.is_absolute() else f" (relative to the current directory {os.getcwd()})"
            )
            return f"{name}={path}: no module at {path}{where}"
    return None


def _start_failure(exc: BaseException, debug: bool) -> None:
    """One line for a server that could not start; the traceback only when debugging."""
    if debug:
        traceback.print_exception(exc)
    detail = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, (SpacetimeDBError, OSError)):
        detail = f"{type(exc).__name__}: {detail}"
    hint = "" if debug else " (--debug shows the traceback)"
    print(f"spacetimedb-sdk serve: error: {detail}{hint}", file=sys.stderr)


def _warn_about_empty_modules(server: LocalServer) -> None:
    for name in server.modules:
        schema = server.runtime(name).database.schema
        if not schema.tables:
            print(
                f"spacetimedb-sdk serve: warning: the module of {name!r} defines no tables "
                "(is it the right file? tables are classes decorated with @table)",
                file=sys.stderr,
                flush=True,
            )


async def _serve(
    databases: dict[str, Path], host: str, port: int, data_dir: Path | None, debug: bool = False
) -> int:
    from spacetimedb_sdk.local_server.server import LocalServer
    from spacetimedb_sdk.local_server.stop_signals import StopSignals

    try:
        server = LocalServer(databases, host=host, port=port, data_dir=data_dir)
        url = await server.start()
    except OSError as exc:
        if exc.filename is not None:  # a file of the data directory, not the socket
            _start_failure(exc, debug)
            return 1
        if debug:
            traceback.print_exception(exc)
        print(f"spacetimedb-sdk serve: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # any start-up failure is one line, not a traceback
        _start_failure(exc, debug)
        return 1
    _warn_about_empty_modules(server)
    # Not loop.add_signal_handler: under load its self-pipe overflows and signals are lost.
    with StopSignals() as signals:
        names = ", ".join(databases)
        print(f"Serving {names} at {url}", flush=True)
        print(f"Owner token: {server.owner_token}", flush=True)
        try:
            await signals.wait()
        finally:
            print("Shutting down...", file=sys.stderr, flush=True)
            await server.stop()
    return 0


def _set_aside_databases(data_dir: Path, databases: dict[str, Path]) -> None:
    """``--fresh-database``: move each database's files aside (the server's data layout)."""
    from spacetimedb_sdk.local_server.durability import set_aside

    for name in databases:
        moved = set_aside(data_dir / "databases" / name)
        if moved is not None:
            print(
                f"spacetimedb-sdk serve: {name}: moved the old database to {moved}", file=sys.stderr
            )
