"""Turn a module def into the files of a Python bindings package (no I/O).

Layout (paths relative to the output directory), mirroring the TypeScript generator
(docs/module-def.md#file-layout, with the Python adjustments of
docs/module-def.md#python-choices) plus the 0.7 layout:

==============================  ==========================================================
``__init__.py``                 ``REMOTE_MODULE``, ``RemoteTables``, ``RemoteReducers``,
                                ``RemoteProcedures``, ``DbConnection``, legacy lookups
``_module_def.py``              the module def (SATS-JSON) and its ``SCHEMA``
``types/__init__.py``           one class per type definition, ``BINDINGS``
``types/reducers.py``           ``<Reducer>Params`` dataclasses
``types/procedures.py``         ``<Procedure>Args`` dataclasses and ``<Procedure>Result``
``<table>_table.py``            typed table/view handle (``<Table>Table``)
``<reducer>_reducer.py``        ``PARAMS`` + the 0.7 reducer API
``<procedure>_procedure.py``    ``PARAMS`` and ``RETURN_TYPE``
``<table>.py``                  legacy 0.7 row class ``<Table>``
==============================  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from spacetimedb_sdk import __version__
from spacetimedb_sdk.codegen.emit_legacy import emit_legacy_table, emit_reducer
from spacetimedb_sdk.codegen.emit_modern import (
    compact_json,
    emit_init,
    emit_module_def,
    emit_procedure,
    emit_table,
)
from spacetimedb_sdk.codegen.emit_types import (
    emit_procedure_types,
    emit_reducer_types,
    emit_types,
)
from spacetimedb_sdk.codegen.errors import CodegenError
from spacetimedb_sdk.codegen.plan import CodegenPlan, build_plan
from spacetimedb_sdk.codegen.pywriter import header_lines
from spacetimedb_sdk.codegen.source import ModuleDefSource
from spacetimedb_sdk.errors import SpacetimeDBError
from spacetimedb_sdk.raw_module_def import raw_module_def_to_json

__all__ = ["GeneratedPackage", "generate_package"]


@dataclass(frozen=True)
class GeneratedPackage:
    """The generated files (relative POSIX path → text) and notes for the user."""

    files: dict[str, str]
    plan: CodegenPlan
    warnings: tuple[str, ...] = ()


def generate_package(
    source: ModuleDefSource, *, include_private: bool = False, version: str = __version__
) -> GeneratedPackage:
    """Generate the bindings package for ``source`` (deterministic: same input, same text)."""
    try:
        schema = source.schema
    except SpacetimeDBError as exc:
        raise CodegenError(
            f"{source.origin}: invalid module definition: {' | '.join(str(exc).splitlines())}"
        ) from exc
    plan = build_plan(schema, include_private=include_private)
    header = header_lines(version, source.description, source.origin)
    label = f"the module ``{source.name}``"
    files: dict[str, str] = {}
    files["__init__.py"] = emit_init(plan, header, label, version)
    files["_module_def.py"] = emit_module_def(
        compact_json(raw_module_def_to_json(source.raw)), source.canonical, header
    )
    files["types/__init__.py"] = emit_types(plan, header, label)
    files["types/reducers.py"] = emit_reducer_types(plan, header)
    files["types/procedures.py"] = emit_procedure_types(plan, header)
    for table in plan.tables:
        files[f"{table.module}.py"] = emit_table(table, header)
        if table.legacy_module is not None:
            files[f"{table.legacy_module}.py"] = emit_legacy_table(table, header)
    for reducer in plan.reducers:
        files[f"{reducer.module}.py"] = emit_reducer(plan, reducer, header)
    for procedure in plan.procedures:
        files[f"{procedure.module}.py"] = emit_procedure(plan, procedure, header)
    warnings = [
        f"no legacy module for {stem!r}: its file name is taken by a generated module"
        for stem in plan.legacy_conflicts
    ]
    warnings += [
        f"submodule {sub.namespace!r} is not generated (submodules are not supported yet)"
        for sub in schema.submodules
    ]
    return GeneratedPackage(dict(sorted(files.items())), plan, tuple(warnings))
