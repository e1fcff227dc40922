"""Emit the 0.7 layout: ``<table>.py`` row classes and ``<reducer>_reducer.py`` modules.

The old generated API (docs/guide-legacy.md#bindings) is kept name for name:

* ``<table>.py`` holds ``class <Table>`` with ``is_table_class = True``, ``primary_key``,
  ``register_row_update``, ``iter`` and ``filter_by_<col>``; rows have ``.data`` and answer
  ``None`` for unknown attributes. The class subclasses the modern row class, so a codec bound
  to it (``legacy_bindings(table)`` in the package) yields rows both APIs accept.
* ``<reducer>_reducer.py`` holds ``reducer_name``, ``<reducer>(*args)``,
  ``register_on_<reducer>(callback)`` and ``_decode_args(data)``; it is also the modern
  reducer module (``PARAMS``).

Both reach the legacy client through ``spacetimedb_sdk.spacetimedb_client.SpacetimeDBClient
.instance`` and its semi-private methods, imported when first used so the bindings import
without it.
"""

from __future__ import annotations

from spacetimedb_sdk.codegen.emit_modern import signature
from spacetimedb_sdk.codegen.plan import CodegenPlan, ReducerPlan, TablePlan
from spacetimedb_sdk.codegen.pywriter import LINE_LIMIT, Group, Imports, PyWriter, py_str
from spacetimedb_sdk.codegen.type_render import STDB_ALIAS, TYPING_ALIAS

__all__ = ["emit_legacy_table", "emit_reducer"]

LEGACY_CLIENT_MODULE = "spacetimedb_sdk.spacetimedb_client"

_LEGACY_CLIENT_FUNCTION = f'''def _legacy_client() -> {TYPING_ALIAS}.Any:
    """``SpacetimeDBClient.instance`` of the legacy client (imported on first use)."""
    module = _importlib.import_module({py_str(LEGACY_CLIENT_MODULE)})
    return module.SpacetimeDBClient.instance'''


def emit_legacy_table(table: TablePlan, header: list[str]) -> str:
    """``<table>.py``: the legacy row class of one table or view."""
    cls = table.legacy_class
    row = f"_types.{table.row_class}"
    imports = Imports()
    imports.names("__future__", "annotations")
    imports.module("importlib", "_importlib")
    imports.module("typing", TYPING_ALIAS)
    if any(f"{STDB_ALIAS}." in f.field.annotation for f in table.legacy_filters):
        imports.module("spacetimedb_sdk", STDB_ALIAS)
    imports.aliased(".", "types", "_types")
    skipped = set(table.legacy_skipped)
    name = py_str(table.wire_name)

    w = PyWriter()
    w.lines(header)
    w.blank()
    w.docstring(f"Legacy (0.7-style) access to the {table.kind} ``{table.wire_name}``: ``{cls}``.")
    w.blank()
    w.lines(imports.lines())
    w.blank(2)
    w.group(Group(f"class {cls}", (row,), ":"))
    with w.indent():
        doc = [
            f"A row of ``{table.wire_name}`` with the class-level API of the 0.7 bindings.",
            "",
            f"Instances are ordinary ``{table.row_class}`` rows (the modern API accepts them)",
            "that also offer ``.data`` and answer ``None`` for unknown attributes.",
        ]
        if skipped:
            doc.append(
                "Left out because a column has the same name: "
                + ", ".join(f"``{s}``" for s in sorted(skipped))
                + "."
            )
        w.docstring("\n".join(doc))
        w.blank()
        w.line("__slots__ = ()")
        if "is_table_class" not in skipped:
            w.line(f"is_table_class: {TYPING_ALIAS}.ClassVar[bool] = True")
        if table.primary_key is not None and "primary_key" not in skipped:
            pk = py_str(table.primary_key.wire_name)
            w.line(f"primary_key: {TYPING_ALIAS}.ClassVar[str] = {pk}")
        if "register_row_update" not in skipped:
            w.blank()
            w.line("@classmethod")
            callback = f"callback: {TYPING_ALIAS}.Callable[..., None]"
            w.group(Group("def register_row_update", ("cls", callback), " -> None:"))
            with w.indent():
                w.docstring(
                    "Run ``callback(row_op, old_row, new_row, reducer_event)`` on every change."
                )
                w.group(Group("_legacy_client()._register_row_update", (name, "callback")))
        w.blank()
        w.line("@classmethod")
        w.group(Group("def _cached_rows", ("cls",), f" -> {TYPING_ALIAS}.Iterator[{cls}]:"))
        with w.indent():
            w.group(Group("rows = _legacy_client()._get_table_cache", (name,)))
            w.line("return iter(rows.values())")
        if "iter" not in skipped:
            w.blank()
            w.line("@classmethod")
            w.group(Group("def iter", ("cls",), f" -> {TYPING_ALIAS}.Iterator[{cls}]:"))
            with w.indent():
                w.docstring(f"The cached rows of ``{table.wire_name}``.")
                w.line("return cls._cached_rows()")
        iterate = "cls._cached_rows()"
        for flt in table.legacy_filters:
            f = flt.field
            w.blank()
            w.line("@classmethod")
            params = ("cls", f"value: {f.annotation}")
            if flt.unique:
                w.group(Group(f"def {flt.method}", params, f" -> {cls} | None:"))
                with w.indent():
                    w.docstring(f"The row whose ``{f.wire_name}`` equals the value, or None.")
                    w.line(f"for row in {iterate}:")
                    with w.indent():
                        w.line(f"if row.{f.attr} == value:")
                        with w.indent():
                            w.line("return row")
                    w.line("return None")
            else:
                w.group(Group(f"def {flt.method}", params, f" -> list[{cls}]:"))
                with w.indent():
                    w.docstring(f"The rows whose ``{f.wire_name}`` equals the value.")
                    line = f"return [row for row in {iterate} if row.{f.attr} == value]"
                    if 8 + len(line) <= LINE_LIMIT:
                        w.line(line)
                    else:
                        w.line(f"found: list[{cls}] = []")
                        w.line(f"for row in {iterate}:")
                        with w.indent():
                            w.line(f"if row.{f.attr} == value:")
                            with w.indent():
                                w.line("found.append(row)")
                        w.line("return found")
        if "data" not in skipped:
            w.blank()
            w.line("@property")
            w.line(f"def data(self) -> dict[str, {TYPING_ALIAS}.Any]:")
            with w.indent():
                w.docstring("The row as ``{column name: value}``.")
                if table.fields:
                    w.line("return {")
                    with w.indent():
                        for f in table.fields:
                            w.line(f"{py_str(f.wire_name)}: self.{f.attr},")
                    w.line("}")
                else:
                    w.line("return {}")
        w.blank()
        w.line(f"def __getattr__(self, name: str) -> {TYPING_ALIAS}.Any:")
        with w.indent():
            w.line("# 0.7 rows answered None for any unknown attribute; dunder lookups keep")
            w.line("# raising so that copy, pickle and friends still work.")
            w.line('if name.startswith("__") and name.endswith("__"):')
            with w.indent():
                w.line("raise AttributeError(name)")
            w.line("return None")
        w.blank()
        w.line("def __eq__(self, other: object) -> bool:")
        with w.indent():
            w.line("# Equal to a modern row with the same values, in both directions.")
            w.line(f"if not isinstance(other, {row}):")
            with w.indent():
                w.line("return NotImplemented")
            w.line("return _values(self) == _values(other)")
        w.blank()
        w.line("def __hash__(self) -> int:")
        with w.indent():
            w.line("return hash(_values(self))")
    w.blank(2)
    w.group(Group("def _values", (f"row: {row}",), f" -> tuple[{TYPING_ALIAS}.Any, ...]:"))
    with w.indent():
        w.group(Group("return ", tuple(f"row.{f.attr}" for f in table.fields), tuple_comma=True))
    w.blank(2)
    w.lines(_LEGACY_CLIENT_FUNCTION.split("\n"))
    return w.text()


def emit_reducer(plan: CodegenPlan, reducer: ReducerPlan, header: list[str]) -> str:
    """``<reducer>_reducer.py``: params (modern) and the 0.7 call/callback API (legacy)."""
    renderer = plan.renderer()
    imports = Imports()
    imports.names("__future__", "annotations")
    imports.module("importlib", "_importlib")
    imports.module("typing", TYPING_ALIAS)
    if any(f"{STDB_ALIAS}." in p.annotation for p in reducer.params):
        imports.module("spacetimedb_sdk", STDB_ALIAS)
    imports.module("spacetimedb_sdk.algebraic_type", "_at")
    if reducer.params:
        imports.module("functools", "_functools")
        imports.module("spacetimedb_sdk.bsatn", "_bsatn")
        imports.module("spacetimedb_sdk.sats_json", "_sats_json")
        imports.names("._module_def", "SCHEMA")
        imports.names(".types", "BINDINGS", *reducer.uses)
    name = reducer.wire_name
    fn = reducer.method

    w = PyWriter()
    w.lines(header)
    w.blank()
    kind = ""
    if reducer.lifecycle is not None:
        kind = f" (lifecycle: {reducer.lifecycle}; clients cannot call it)"
    elif reducer.is_scheduled:
        kind = " (scheduled)"
    w.docstring(
        f"The reducer ``{name}``{kind}: its parameters, and the legacy (0.7-style) API\n"
        f"``{fn}(...)``, ``register_on_{fn}(callback)`` and ``_decode_args(data)``.\n"
    )
    w.blank()
    w.lines(imports.lines())
    w.blank()
    w.line("#: Canonical (wire) name of the reducer.")
    w.line(f"reducer_name = {py_str(name)}")
    w.line("#: The parameters, in wire order.")
    w.group(renderer.product_group(reducer.params_type, f"PARAMS: {TYPING_ALIAS}.Final = "))
    w.blank(2)
    w.group(signature(fn, reducer.params, "None"))
    with w.indent():
        w.docstring(f"Call ``{name}`` through the legacy client (``SpacetimeDBClient.instance``).")
        args = (py_str(name), *(p.attr for p in reducer.params))
        w.group(Group("_legacy_client()._reducer_call", args))
    w.blank(2)
    callback = f"callback: {TYPING_ALIAS}.Callable[..., None]"
    w.group(Group(f"def register_on_{fn}", (callback,), " -> None:"))
    with w.indent():
        params = "".join(f", {p.attr}" for p in reducer.params)
        w.docstring(
            f"Run ``callback(caller_identity, caller_connection_id, status, message{params})``\n"
            f"when a call of ``{name}`` made by this client completes (0.6-style callbacks\n"
            "without ``caller_connection_id`` are accepted too).\n"
        )
        w.group(Group("_legacy_client()._register_reducer", (py_str(name), "callback")))
    w.blank(2)
    w.line(f"def _decode_args(data: {TYPING_ALIAS}.Any) -> list[{TYPING_ALIAS}.Any]:")
    with w.indent():
        w.docstring(
            "The arguments of a call, from the BSATN of the parameters or from a list of\n"
            "SATS-JSON values (one per parameter).\n"
        )
        if reducer.params:
            w.line("if isinstance(data, (bytes, bytearray, memoryview)):")
            with w.indent():
                w.line("decoded = _params_codec().decode(data)")
                w.line("return list(decoded.values())")
            w.line("return [")
            with w.indent():
                w.line(
                    "_sats_json.value_from_json(e.algebraic_type, value, SCHEMA.typespace, "
                    "BINDINGS)"
                )
                w.line("for e, value in zip(PARAMS.elements, data, strict=True)")
            w.line("]")
        else:
            w.line("del data")
            w.line("return []")
    if reducer.params:
        w.blank(2)
        w.line("@_functools.cache")
        w.line(f"def _params_codec() -> _bsatn.BsatnCodec[{TYPING_ALIAS}.Any]:")
        with w.indent():
            w.line("return _bsatn.compile_codec(PARAMS, SCHEMA.typespace, BINDINGS)")
    w.blank(2)
    w.lines(_LEGACY_CLIENT_FUNCTION.split("\n"))
    return w.text()
