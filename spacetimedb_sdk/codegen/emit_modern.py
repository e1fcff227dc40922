"""Emit the modern (2.x) layout: ``<table>_table.py``, ``<procedure>_procedure.py``,
``_module_def.py`` and the package ``__init__.py`` with the typed ``DbConnection``.

The ``__init__`` follows docs/client-contract.md: table handles subclass the runtime's
``TableHandle`` family and expose typed index properties, ``RemoteReducers`` /
``RemoteProcedures`` methods forward to ``_call``, and ``DbConnection`` binds them together
with ``REMOTE_MODULE`` (schema + class bindings).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from spacetimedb_sdk.codegen.plan import (
    CodegenPlan,
    FieldPlan,
    IndexAccessorPlan,
    ProcedurePlan,
    ReducerPlan,
    TablePlan,
)
from spacetimedb_sdk.codegen.pywriter import Group, Imports, PyWriter, all_list, py_str
from spacetimedb_sdk.codegen.type_render import STDB_ALIAS, TYPING_ALIAS

__all__ = [
    "emit_init",
    "emit_module_def",
    "emit_procedure",
    "emit_table",
    "signature",
]

CLIENT_ALIAS = "_client"
_JSON_CHUNK = 76


def _needs(imports: Imports, annotations: Iterable[str | None]) -> None:
    texts = [a for a in annotations if a is not None]
    if any(f"{STDB_ALIAS}." in a for a in texts):
        imports.module("spacetimedb_sdk", STDB_ALIAS)
    if any(f"{TYPING_ALIAS}." in a for a in texts):
        imports.module("typing", TYPING_ALIAS)


def signature(name: str, params: Iterable[FieldPlan], returns: str, *, leading: str = "") -> Group:
    """``def name(leading, a: int, b: str) -> returns:``."""
    parts = [leading] if leading else []
    parts += [f"{p.attr}: {p.annotation}" for p in params]
    return Group(f"def {name}", tuple(parts), f" -> {returns}:")


def args_tuple(params: tuple[FieldPlan, ...]) -> Group:
    """``(a, b)`` / ``(a,)`` / ``()``."""
    return Group("", tuple(p.attr for p in params), tuple_comma=True)


# ================================================================================= tables


def _index_property(w: PyWriter, table: TablePlan, ix: IndexAccessorPlan) -> None:
    w.blank()
    w.line("@property")
    if ix.kind == "unique":
        returns = f"{CLIENT_ALIAS}.UniqueIndex[{table.row_class}, {ix.key_annotation}]"
        w.group(Group(f"def {ix.attr}", ("self",), f" -> {returns}:"))
        with w.indent():
            w.docstring(f"Find the row by its unique column ``{ix.target}``.")
            w.group(Group("return self._unique", (py_str(ix.target),)))
    else:
        cols = ", ".join(f"``{c}``" for c in ix.columns)
        returns = f"{CLIENT_ALIAS}.BTreeIndex[{table.row_class}, {ix.key_annotation}]"
        w.group(Group(f"def {ix.attr}", ("self",), f" -> {returns}:"))
        with w.indent():
            w.docstring(f"Filter rows by {cols} (a value or a range; index ``{ix.target}``).")
            w.group(Group("return self._btree", (py_str(ix.target),)))


def emit_table(table: TablePlan, header: list[str]) -> str:
    """``<table>_table.py``: the typed handle of one table or view."""
    imports = Imports()
    imports.names("__future__", "annotations")
    _needs(imports, [ix.key_annotation for ix in table.indexes])
    imports.module("spacetimedb_sdk.client.bindings_support", CLIENT_ALIAS)
    used = {table.row_class}.union(*(ix.uses for ix in table.indexes))
    imports.names(".types", *used)

    what = "view" if table.kind == "view" else ("event table" if table.is_event else "table")
    w = PyWriter()
    w.lines(header)
    w.blank()
    w.docstring(f"The {what} ``{table.wire_name}``: its typed handle (``conn.db.{table.attr}``).")
    w.blank()
    w.lines(imports.lines())
    w.blank(2)
    w.group(
        Group(
            f"class {table.handle_class}",
            (f"{CLIENT_ALIAS}.{table.handle_base}[{table.row_class}]",),
            ":",
        )
    )
    with w.indent():
        lines = [f"Rows of the {what} ``{table.wire_name}`` in the client cache."]
        if table.is_event:
            lines.append("")
            lines.append("Event rows are never cached: only ``on_insert`` callbacks see them.")
        elif table.primary_key is not None:
            lines.append("")
            lines.append(
                f"Its primary key ``{table.primary_key.wire_name}`` turns a delete and an insert"
            )
            lines.append("of the same key in one transaction into an ``on_update``.")
        if table.kind == "view":
            lines.append("")
            lines.append("Views are read-only; subscribe to them like tables.")
        w.docstring("\n".join(lines) + ("\n" if len(lines) > 1 else ""))
        for ix in table.indexes:
            _index_property(w, table, ix)
    return w.text()


# ============================================================================= procedures


def emit_procedure(plan: CodegenPlan, proc: ProcedurePlan, header: list[str]) -> str:
    """``<procedure>_procedure.py``: parameter and return types of one procedure."""
    renderer = plan.renderer()
    imports = Imports()
    imports.names("__future__", "annotations")
    imports.module("typing", TYPING_ALIAS)
    imports.module("spacetimedb_sdk.algebraic_type", "_at")
    w = PyWriter()
    w.lines(header)
    w.blank()
    w.docstring(f"The procedure ``{proc.wire_name}``: its parameter and return types.")
    w.blank()
    w.lines(imports.lines())
    w.blank()
    w.line("#: Canonical (wire) name of the procedure.")
    w.line(f"PROCEDURE_NAME: {TYPING_ALIAS}.Final = {py_str(proc.wire_name)}")
    w.line("#: The parameters, in wire order.")
    w.group(renderer.product_group(proc.params_type, f"PARAMS: {TYPING_ALIAS}.Final = "))
    w.line("#: The return type (refs index the module's typespace).")
    w.line(
        f"RETURN_TYPE: {TYPING_ALIAS}.Final[_at.AlgebraicType] = "
        f"{renderer.expression(proc.return_type)}"
    )
    return w.text()


# ============================================================================= module def


def emit_module_def(def_json: str, canonical: bool, header: list[str]) -> str:
    """``_module_def.py``: the module definition, rebuilt as a ``ModuleSchema`` on import."""
    imports = Imports()
    imports.names("__future__", "annotations")
    imports.module("typing", TYPING_ALIAS)
    imports.module("spacetimedb_sdk.schema", "_schema")
    w = PyWriter()
    w.lines(header)
    w.blank()
    w.docstring("The module definition the bindings were generated from.")
    w.blank()
    w.lines(imports.lines())
    w.blank()
    w.line("#: The RawModuleDef, as SATS-JSON.")
    w.line(f"MODULE_DEF_JSON: {TYPING_ALIAS}.Final = (")
    with w.indent():
        for start in range(0, len(def_json), _JSON_CHUNK):
            w.line(py_str(def_json[start : start + _JSON_CHUNK]))
    w.line(")")
    w.blank()
    w.line("#: The validated, canonical schema the runtime works from.")
    w.line(
        f"SCHEMA: {TYPING_ALIAS}.Final = _schema.ModuleSchema.from_json("
        f"MODULE_DEF_JSON, canonical={canonical})"
    )
    return w.text()


def compact_json(obj: object) -> str:
    """Deterministic compact JSON."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True)


# ================================================================================== init


def _dict_lines(head: str, items: list[str]) -> list[str]:
    """A dict display, one item per line (``{}`` when empty)."""
    if not items:
        return [f"{head}{{}}"]
    return [f"{head}{{", *(f"    {item}," for item in items), "}"]


def _reducer_method(w: PyWriter, r: ReducerPlan) -> None:
    w.blank()
    w.group(signature(r.method, r.params, f"{CLIENT_ALIAS}.ReducerCall", leading="self"))
    with w.indent():
        notes = []
        if r.is_scheduled:
            notes.append("scheduled")
        elif r.is_private:
            notes.append("private")
        extra = f" ({', '.join(notes)}: only the database owner may call it)" if notes else ""
        w.docstring(f"Call the reducer ``{r.wire_name}``{extra}.")
        w.group(Group("return self._call", (py_str(r.wire_name), args_tuple(r.params))))


def _procedure_method(w: PyWriter, p: ProcedurePlan) -> None:
    w.blank()
    returns = f"{CLIENT_ALIAS}.ProcedureCall[{p.return_annotation}]"
    w.group(signature(p.method, p.params, returns, leading="self"))
    with w.indent():
        w.docstring(f"Call the procedure ``{p.wire_name}``; resolves to its decoded result.")
        w.group(
            Group(
                "return self._call",
                (py_str(p.wire_name), args_tuple(p.params), f"_{p.module}.RETURN_TYPE"),
            )
        )


def _sdk_version_check(w: PyWriter, version: str) -> None:
    """Refuse an SDK older than the generator's major version, before importing anything of it.

    Every import of the bindings runs ``__init__.py`` first, so the check here covers the whole
    package. It uses only the standard library: the package index's ``spacetimedb-sdk`` is an
    unrelated 0.7 SDK that has none of the modules the bindings import.
    """
    major = int(version.split(".", maxsplit=1)[0])
    w.lines(
        [
            "# The SDK's version is checked before anything is imported from it: the package index's",
            "# spacetimedb-sdk is an unrelated 0.7 SDK that has none of the modules imported below.",
            "try:",
            '    _SDK_VERSION: str | None = _metadata.version("spacetimedb-sdk")',
            "except _metadata.PackageNotFoundError:  # not installed, e.g. a checkout on sys.path",
            "    _SDK_VERSION = None",
            "if (",
            "    _SDK_VERSION is not None",
            '    and _SDK_VERSION.split(".", maxsplit=1)[0].isdigit()',
            f'    and int(_SDK_VERSION.split(".", maxsplit=1)[0]) < {major}',
            "):",
            "    raise ImportError(",
            f'        f"these bindings need spacetimedb-sdk >= {major}.0, found {{_SDK_VERSION}} (the "',
            '        "spacetimedb-sdk on the package index is an unrelated 0.7 SDK: install this SDK "',
            "        \"from a checkout of its repository: pip install -e '.[server]')\"",
            "    )",
        ]
    )


def emit_init(plan: CodegenPlan, header: list[str], module_label: str, version: str) -> str:
    """The package ``__init__.py``."""
    imports = Imports()
    imports.names("__future__", "annotations")
    imports.module("importlib.metadata", "_metadata")
    imports.module("types", "_pytypes")
    imports.module("typing", TYPING_ALIAS)
    imports.module("spacetimedb_sdk.bsatn", "_bsatn")
    imports.module("spacetimedb_sdk.client.bindings_support", CLIENT_ALIAS)
    _needs(
        imports,
        [p.annotation for r in plan.reducers for p in r.params]
        + [p.annotation for q in plan.procedures for p in q.params]
        + [q.return_annotation for q in plan.procedures],
    )
    exported: set[str] = set()
    type_names = [t.class_name for t in plan.types]
    variant_names = [v.class_name for t in plan.types for v in getattr(t, "variants", ())]
    imports.names(".types", "BINDINGS", *type_names, *variant_names)
    exported |= {*type_names, *variant_names}
    imports.names("._module_def", "SCHEMA")
    for t in plan.tables:
        imports.names(f".{t.module}", t.handle_class)
        exported.add(t.handle_class)
        if t.legacy_module is not None:
            imports.aliased(".", t.legacy_module, f"_legacy_{t.legacy_module}")
    for r in plan.reducers:
        imports.aliased(".", r.module, f"_{r.module}")
    for p in plan.procedures:
        imports.aliased(".", p.module, f"_{p.module}")
    params = [r.params_class for r in plan.reducers]
    if params:
        imports.names(".types.reducers", *params)
        exported |= set(params)
    proc_types = [n for p in plan.procedures for n in (p.args_class, p.result_alias)]
    if proc_types:
        imports.names(".types.procedures", *proc_types)
        exported |= set(proc_types)
    exported |= {
        "BINDINGS",
        "SCHEMA",
        "REMOTE_MODULE",
        "DbConnection",
        "RemoteTables",
        "RemoteReducers",
        "RemoteProcedures",
        "LEGACY_ROW_CLASSES",
        "LEGACY_REDUCER_MODULES",
        "legacy_bindings",
        "legacy_row_class",
    }

    w = PyWriter()
    w.lines(header)
    w.blank()
    first_table = plan.tables[0].attr if plan.tables else None
    first_reducer = next((r for r in plan.reducers if r.callable), None)
    usage = [
        f"Typed client bindings for {module_label}.",
        "",
        "::",
        "",
        "    from module_bindings import DbConnection",
        "",
        "    conn = (",
        "        DbConnection.builder()",
        '        .with_uri("http://localhost:3000")',
        '        .with_database_name("<database>")',
        "        .build()",
        "    )",
    ]
    if first_table is not None:
        usage.append(f"    rows = list(conn.db.{first_table}.iter())")
    if first_reducer is not None:
        args = ", ".join("..." for _ in first_reducer.params)
        usage.append(f"    conn.reducers.{first_reducer.method}({args})")
    usage += [
        "",
        "The package also keeps the 0.7 layout: ``<table>.py`` (legacy row classes) and",
        "``<reducer>_reducer.py`` (legacy call/callback functions).",
        "",
    ]
    w.docstring("\n".join(usage))
    w.blank()
    w.lines(imports.lines(("future", "stdlib")))
    w.blank()
    _sdk_version_check(w, version)
    w.blank()
    w.lines(imports.lines(("sdk", "local")))
    w.blank()
    w.lines(all_list(exported))
    w.blank()
    w.line("#: Everything the runtime needs to know about the module.")
    w.line(f"REMOTE_MODULE: {TYPING_ALIAS}.Final = {CLIENT_ALIAS}.RemoteModule(")
    with w.indent():
        w.line("schema=SCHEMA,")
        w.line("bindings=BINDINGS,")
        rows = [f"{py_str(t.wire_name)}: {t.row_class}" for t in plan.tables]
        lines = _dict_lines("row_classes=", rows)
        w.lines([*lines[:-1], lines[-1] + ","])
        w.line(f"cli_version={py_str(version)},")
    w.line(")")

    # ---------------------------------------------------------------------- tables
    w.blank(2)
    w.line(f"class RemoteTables({CLIENT_ALIAS}.RemoteTablesBase):")
    with w.indent():
        w.docstring("The module's tables and views in the client cache (``conn.db``).")
        for t in plan.tables:
            w.blank()
            w.line("@property")
            w.group(Group(f"def {t.attr}", ("self",), f" -> {t.handle_class}:"))
            with w.indent():
                w.docstring(f"The {t.kind} ``{t.wire_name}``.")
                w.group(Group("return self._table", (py_str(t.wire_name), t.handle_class)))

    # -------------------------------------------------------------------- reducers
    w.blank(2)
    w.line(f"class RemoteReducers({CLIENT_ALIAS}.RemoteReducersBase):")
    with w.indent():
        w.docstring(
            "Calls to the module's reducers (``conn.reducers``).\n\n"
            "Each call sends the request at once and returns a ``ReducerCall``: await it,\n"
            "call ``.result()``, or ignore it (fire and forget).\n"
        )
        for r in plan.reducers:
            if r.callable:
                _reducer_method(w, r)

    # ------------------------------------------------------------------ procedures
    w.blank(2)
    w.line(f"class RemoteProcedures({CLIENT_ALIAS}.RemoteProceduresBase):")
    with w.indent():
        w.docstring("Calls to the module's procedures (``conn.procedures``).")
        for p in plan.procedures:
            _procedure_method(w, p)

    # ------------------------------------------------------------------ connection
    w.blank(2)
    w.group(
        Group(
            "class DbConnection",
            (f"{CLIENT_ALIAS}.DbConnection[RemoteTables, RemoteReducers, RemoteProcedures]",),
            ":",
        )
    )
    with w.indent():
        w.docstring(f"A connection to a database running {module_label}.")
        w.blank()
        w.line("MODULE = REMOTE_MODULE")
        w.line("TABLES = RemoteTables")
        w.line("REDUCERS = RemoteReducers")
        w.line("PROCEDURES = RemoteProcedures")

    # ---------------------------------------------------------------------- legacy
    w.blank(2)
    w.line(
        f"_LegacyClasses: {TYPING_ALIAS}.TypeAlias = {TYPING_ALIAS}.Mapping[str, type[{TYPING_ALIAS}.Any]]"
    )
    w.line(
        f"_LegacyModules: {TYPING_ALIAS}.TypeAlias = {TYPING_ALIAS}.Mapping[str, _pytypes.ModuleType]"
    )
    w.blank()
    w.line("#: Canonical table/view name -> legacy (0.7-style) row class (a row-class subclass).")
    w.lines(
        _dict_lines(
            f"LEGACY_ROW_CLASSES: {TYPING_ALIAS}.Final[_LegacyClasses] = ",
            [
                f"{py_str(t.wire_name)}: _legacy_{t.legacy_module}.{t.legacy_class}"
                for t in plan.tables
                if t.legacy_module is not None
            ],
        )
    )
    w.blank()
    w.line("#: Canonical reducer name -> its reducer module (legacy call/callback functions).")
    w.lines(
        _dict_lines(
            f"LEGACY_REDUCER_MODULES: {TYPING_ALIAS}.Final[_LegacyModules] = ",
            [f"{py_str(r.wire_name)}: _{r.module}" for r in plan.reducers],
        )
    )
    w.lines(_LEGACY_FUNCTIONS.split("\n"))
    return w.text()


_LEGACY_FUNCTIONS = f'''

def legacy_row_class(table_name: str) -> type[{TYPING_ALIAS}.Any]:
    """The legacy row class of a table or view, by canonical name (KeyError if absent)."""
    return LEGACY_ROW_CLASSES[table_name]


def legacy_bindings(table_name: str) -> _bsatn.Bindings:
    """``BINDINGS`` with the table's row type bound to its legacy row class.

    A codec compiled with these decodes rows that both the legacy and the modern API accept.
    """
    cls = LEGACY_ROW_CLASSES[table_name]
    table = SCHEMA.find_table(table_name)
    owner = table if table is not None else SCHEMA.view(table_name)
    ref = owner.product_type_ref
    base = BINDINGS[ref]
    assert isinstance(base, _bsatn.ProductBinding)
    return {{**BINDINGS, ref: _bsatn.ProductBinding(cls, base.attrs)}}'''
