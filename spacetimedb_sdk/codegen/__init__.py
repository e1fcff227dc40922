"""The Python code generator (``spacetimedb-sdk generate --lang python``) and dynamic mode.

Generate bindings from the command line::

    spacetimedb-sdk generate --lang python --out-dir module_bindings --module-def chat.json
    spacetimedb-sdk generate --lang python --out-dir module_bindings \\
        --server http://localhost:3000 --database quickstart-chat
    spacetimedb-sdk generate --lang python --out-dir module_bindings --bin-path module.wasm
    spacetimedb-sdk generate --lang python --out-dir module_bindings --project-path server/

or from Python::

    from spacetimedb_sdk.codegen import generate_package, load_module_def_file, write_package

    package = generate_package(load_module_def_file("chat.json"))
    write_package("module_bindings", package.files)

Without generating anything (REPLs, notebooks, scripts), :mod:`spacetimedb_sdk.codegen.dynamic`
builds the same classes at run time::

    from spacetimedb_sdk.codegen import dynamic

    conn = dynamic.connect("http://localhost:3000", "quickstart-chat").build()

Modules: :mod:`~.source` (inputs), :mod:`~.extract_server`, :mod:`~.extract_wasm`,
:mod:`~.extract_js`, :mod:`~.extract_project` (where a module def comes from), :mod:`~.plan`
(what is generated and its Python names), :mod:`~.naming`, :mod:`~.type_render`,
:mod:`~.emit_types`, :mod:`~.emit_modern`, :mod:`~.emit_legacy` (the files),
:mod:`~.generator` (all files of a package), :mod:`~.writer` (the output directory),
:mod:`~.cli` (the ``generate`` subcommand), :mod:`~.dynamic`.
"""

from spacetimedb_sdk.codegen.errors import CodegenError
from spacetimedb_sdk.codegen.extract_server import fetch_module_def
from spacetimedb_sdk.codegen.generator import GeneratedPackage, generate_package
from spacetimedb_sdk.codegen.plan import CodegenPlan, build_plan
from spacetimedb_sdk.codegen.source import (
    ModuleDefSource,
    load_module_def_file,
    module_def_from_bytes,
)
from spacetimedb_sdk.codegen.writer import WriteReport, write_package

__all__ = [
    "CodegenError",
    "CodegenPlan",
    "GeneratedPackage",
    "ModuleDefSource",
    "WriteReport",
    "build_plan",
    "fetch_module_def",
    "generate_package",
    "load_module_def_file",
    "module_def_from_bytes",
    "write_package",
]
