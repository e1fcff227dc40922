"""``spacetimedb-sdk generate``: the command-line front end of the code generator.

::

    spacetimedb-sdk generate --lang python --out-dir DIR SOURCE [--include-private]

    SOURCE is exactly one of
      --module-def FILE                       RawModuleDef as BSATN or SATS-JSON (V9/V10)
      --server URL --database NAME [--token]  GET /v1/database/NAME/schema (v10, then v9)
      --bin-path FILE                         a compiled module: .wasm or a .js bundle
      --project-path DIR                      a Python module, or a Rust/C#/TS/C++ project

Every failure prints one line (``error: ...``) and exits with status 1; nothing is written
unless generation succeeded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from spacetimedb_sdk.codegen.errors import CodegenError
from spacetimedb_sdk.codegen.source import ModuleDefSource

__all__ = ["register", "run_generate"]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``generate`` subcommand to ``subparsers`` (from ``add_subparsers``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "generate",
        help="generate typed Python client bindings for a SpacetimeDB module",
        description=(
            "Generate a Python bindings package for a SpacetimeDB module from exactly one "
            "source. Only files this command generated earlier are ever overwritten."
        ),
    )
    parser.add_argument(
        "--lang",
        "-l",
        default="python",
        choices=["python"],
        help="language of the bindings (only python)",
    )
    parser.add_argument(
        "--out-dir", "-o", required=True, type=Path, help="directory of the generated package"
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--module-def",
        type=Path,
        metavar="FILE",
        help='a RawModuleDef file: BSATN, or SATS-JSON wrapped ({"V10": ...}) or bare',
    )
    source.add_argument(
        "--server", metavar="URL", help="a server to fetch the schema of --database from"
    )
    source.add_argument(
        "--bin-path", type=Path, metavar="FILE", help="a compiled module: .wasm or .js bundle"
    )
    source.add_argument(
        "--project-path",
        type=Path,
        metavar="DIR",
        help="a Python module (package dir or .py), or a Rust/C#/TypeScript/C++ project",
    )
    parser.add_argument("--database", "-d", metavar="NAME", help="database name (with --server)")
    parser.add_argument("--token", metavar="TOKEN", help="bearer token (with --server)")
    parser.add_argument(
        "--include-private",
        action="store_true",
        help="also generate private tables, reducers and procedures",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="print nothing on success")
    parser.set_defaults(handler=run_generate)
    # Usage mistakes are reported like every other failure: one line, no usage dump.
    setattr(parser, "error", _usage_error(parser.prog))  # noqa: B010
    return parser


def _usage_error(prog: str) -> Any:
    def error(message: str) -> None:
        print(f"{prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)

    return error


def _load_source(args: argparse.Namespace) -> ModuleDefSource:
    if args.server is None and (args.database is not None or args.token is not None):
        raise CodegenError("--database and --token only go with --server")
    if args.module_def is not None:
        from spacetimedb_sdk.codegen.source import load_module_def_file

        return load_module_def_file(args.module_def)
    if args.server is not None:
        if not args.database:
            raise CodegenError("--server needs --database NAME")
        from spacetimedb_sdk.codegen.extract_server import fetch_module_def

        return fetch_module_def(args.server, args.database, token=args.token)
    if args.bin_path is not None:
        path: Path = args.bin_path
        suffix = path.suffix.lower()
        if not path.is_file():
            raise CodegenError(f"module file not found: {path}")
        if suffix == ".wasm":
            from spacetimedb_sdk.codegen.extract_wasm import extract_wasm_module_def

            return extract_wasm_module_def(path)
        if suffix in (".js", ".mjs"):
            from spacetimedb_sdk.codegen.extract_js import extract_js_module_def

            return extract_js_module_def(path)
        raise CodegenError(f"--bin-path takes a .wasm module or a .js bundle, not {path.name}")
    from spacetimedb_sdk.codegen.extract_project import extract_project_module_def

    return extract_project_module_def(args.project_path)


def run_generate(args: argparse.Namespace) -> int:
    """Run ``generate`` for parsed arguments; returns the exit status."""
    from spacetimedb_sdk.codegen.generator import generate_package
    from spacetimedb_sdk.codegen.writer import write_package

    try:
        source = _load_source(args)
        package = generate_package(source, include_private=args.include_private)
        report = write_package(args.out_dir, package.files)
    except CodegenError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 1
    for warning in package.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not args.quiet:
        parts = [f"{len(report.written)} written", f"{len(report.unchanged)} unchanged"]
        if report.removed:
            parts.append(f"{len(report.removed)} stale removed")
        print(
            f"Generated {len(package.files)} files in {args.out_dir} from {source.origin} "
            f"({', '.join(parts)})."
        )
    return 0


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
