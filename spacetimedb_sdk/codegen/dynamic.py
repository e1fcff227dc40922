"""Dynamic mode: use any module without generating code first (REPLs, notebooks, scripts).

The module def is fetched from the server (or given), and the same plan the generator uses
is turned into classes at run time: row and type classes (slotted dataclasses, tagged sum
classes, ``enum.Enum``), typed table handles with index properties, and ``RemoteTables`` /
``RemoteReducers`` / ``RemoteProcedures`` subclasses whose members show up in ``dir()`` and
tab completion. The connection is the ordinary runtime ``DbConnection``::

    from spacetimedb_sdk.codegen import dynamic

    conn = dynamic.connect("http://localhost:3000", "quickstart-chat").build()
    conn.subscription_builder().subscribe("SELECT * FROM user")
    conn.db.user.count(), conn.db["user"].iter()
    conn.reducers.set_name("x").result()
    module = dynamic.fetch_module("http://localhost:3000", "quickstart-chat")
    module.types.User                       # the row class rows decode into

Public API: :func:`fetch_module`, :func:`load_module`, :func:`connect` and
:class:`DynamicModule`.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spacetimedb_sdk import __version__
from spacetimedb_sdk.bsatn import Bindings, ProductBinding, SumBinding
from spacetimedb_sdk.client import DbConnectionBuilder
from spacetimedb_sdk.client.bindings_support import (
    DbConnection,
    DynamicRemoteProcedures,
    DynamicRemoteReducers,
    DynamicRemoteTables,
    EventTableHandle,
    RemoteModule,
    TableHandle,
    TableWithPrimaryKeyHandle,
)
from spacetimedb_sdk.codegen.plan import (
    CodegenPlan,
    EnumTypePlan,
    ProcedurePlan,
    ProductTypePlan,
    ReducerPlan,
    SumTypePlan,
    TablePlan,
    TypePlan,
    build_plan,
)
from spacetimedb_sdk.codegen.source import ModuleDefSource, module_def_from_bytes
from spacetimedb_sdk.schema import ModuleSchema

__all__ = ["DynamicModule", "connect", "fetch_module", "load_module"]

_HANDLE_BASES: dict[str, type[Any]] = {
    "TableHandle": TableHandle,
    "TableWithPrimaryKeyHandle": TableWithPrimaryKeyHandle,
    "EventTableHandle": EventTableHandle,
}


@dataclass(frozen=True)
class DynamicModule:
    """A module's classes built at run time, and a ``DbConnection`` class bound to them."""

    schema: ModuleSchema
    #: What the runtime is given (schema + class bindings), as generated bindings provide.
    remote_module: RemoteModule
    #: Every generated class by name (``types.User``, ``types.Shape``, ``types.ShapeCircle``...).
    types: types.SimpleNamespace
    #: Canonical table/view name -> row class.
    row_classes: Mapping[str, type[Any]]
    #: A ``DbConnection`` subclass for this module: ``connection_class.builder()``.
    connection_class: type[DbConnection[Any, Any, Any]]

    def builder(self) -> DbConnectionBuilder[DbConnection[Any, Any, Any]]:
        """``connection_class.builder()``: configure and build a connection."""
        return self.connection_class.builder()


# ============================================================================== classes


def _product_class(t: ProductTypePlan, module: str) -> type[Any]:
    cls = dataclasses.make_dataclass(
        t.class_name,
        [(f.attr, f.annotation) for f in t.fields],
        slots=True,
    )
    cls.__module__ = module
    cls.__doc__ = f"Product type ``{t.display_name}`` (built at run time)."
    return cls


def _sum_classes(t: SumTypePlan, module: str) -> tuple[type[Any], list[type[Any]]]:
    base = type(
        t.class_name,
        (),
        {
            "__slots__": (),
            "__module__": module,
            "__doc__": f"Sum type ``{t.display_name}`` (built at run time).",
        },
    )
    variants = []
    for v in t.variants:
        fields = [] if v.annotation is None else [("value", v.annotation)]
        cls = dataclasses.make_dataclass(
            v.class_name,
            fields,
            bases=(base,),
            namespace={"TAG": v.tag},
            slots=True,
        )
        cls.__module__ = module
        cls.__doc__ = f"Variant ``{v.wire_name}`` of ``{t.display_name}`` (tag {v.tag})."
        setattr(base, v.attr, cls)
        variants.append(cls)
    return base, variants


def _enum_class(t: EnumTypePlan, module: str) -> type[enum.Enum]:
    cls = enum.Enum(t.class_name, [(m.name, m.tag) for m in t.members], module=module)  # type: ignore[misc]
    return cls


def _constant(value: Any) -> Callable[[Any], Any]:
    return lambda _payload: value


def _unwrap_sum(value: Any) -> tuple[int, Any]:
    return value.TAG, getattr(value, "value", ())


def _unwrap_enum(member: Any) -> tuple[int, Any]:
    return member.value, ()


def _binding(t: TypePlan, classes: Mapping[str, type[Any]]) -> ProductBinding | SumBinding:
    if isinstance(t, ProductTypePlan):
        return ProductBinding(classes[t.class_name], tuple(f.attr for f in t.fields))
    if isinstance(t, EnumTypePlan):
        members = tuple(classes[t.class_name].__members__.values())
        return SumBinding(
            tuple(_constant(m) for m in members), _unwrap_enum, dict(enumerate(members))
        )
    wraps: list[Callable[[Any], Any]] = []
    constants: dict[int, Any] = {}
    for v in t.variants:
        cls = classes[v.class_name]
        if v.payload is None:
            constants[v.tag] = cls()
            wraps.append(_constant(constants[v.tag]))
        else:
            wraps.append(cls)
    return SumBinding(tuple(wraps), _unwrap_sum, constants)


# =============================================================================== handles


def _unique_property(column: str, doc: str) -> property:
    def get(self: Any) -> Any:
        return self._unique(column)

    return property(get, doc=doc)


def _btree_property(index: str, doc: str) -> property:
    def get(self: Any) -> Any:
        return self._btree(index)

    return property(get, doc=doc)


def _handle_class(t: TablePlan, module: str) -> type[Any]:
    ns: dict[str, Any] = {
        "__slots__": (),
        "__module__": module,
        "__doc__": f"Rows of the {t.kind} ``{t.wire_name}`` in the client cache.",
    }
    for ix in t.indexes:
        if ix.kind == "unique":
            ns[ix.attr] = _unique_property(ix.target, f"Find the row by ``{ix.target}``.")
        else:
            ns[ix.attr] = _btree_property(ix.target, f"Filter rows by index ``{ix.target}``.")
    return type(t.handle_class, (_HANDLE_BASES[t.handle_base],), ns)


def _table_property(wire: str, handle: type[Any]) -> property:
    def get(self: Any) -> Any:
        return self._table(wire, handle)

    return property(get, doc=f"The table or view ``{wire}``.")


def _signature(params: list[tuple[str, str]]) -> inspect.Signature:
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Signature(
        [
            inspect.Parameter("self", kind),
            *(inspect.Parameter(name, kind, annotation=ann) for name, ann in params),
        ]
    )


def _reducer_method(r: ReducerPlan) -> Callable[..., Any]:
    sig = _signature([(p.attr, p.annotation) for p in r.params])
    names = [p.attr for p in r.params]
    wire = r.wire_name

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = sig.bind(self, *args, **kwargs)
        return self._call(wire, tuple(bound.arguments[n] for n in names))

    call.__name__ = call.__qualname__ = r.method
    call.__doc__ = f"Call the reducer ``{wire}``."
    setattr(call, "__signature__", sig)  # noqa: B010
    return call


def _procedure_method(p: ProcedurePlan) -> Callable[..., Any]:
    sig = _signature([(q.attr, q.annotation) for q in p.params])
    names = [q.attr for q in p.params]
    wire, return_type = p.wire_name, p.return_type

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = sig.bind(self, *args, **kwargs)
        return self._call(wire, tuple(bound.arguments[n] for n in names), return_type)

    call.__name__ = call.__qualname__ = p.method
    call.__doc__ = f"Call the procedure ``{wire}``; resolves to its decoded result."
    setattr(call, "__signature__", sig)  # noqa: B010
    return call


# ================================================================================ build


def _module_name(name: str) -> str:
    return "spacetimedb_sdk_dynamic." + (re.sub(r"\W", "_", name) or "module")


def _build(schema: ModuleSchema, name: str, include_private: bool) -> DynamicModule:
    plan: CodegenPlan = build_plan(schema, include_private=include_private)
    module = _module_name(name)
    classes: dict[str, type[Any]] = {}
    for t in plan.types:
        if isinstance(t, ProductTypePlan):
            classes[t.class_name] = _product_class(t, module)
        elif isinstance(t, SumTypePlan):
            base, variants = _sum_classes(t, module)
            classes[t.class_name] = base
            classes.update((v.__name__, v) for v in variants)
        else:
            classes[t.class_name] = _enum_class(t, module)
    bindings: Bindings = {t.ref: _binding(t, classes) for t in plan.types}
    row_classes = {t.wire_name: classes[t.row_class] for t in plan.tables}
    remote = RemoteModule(schema, bindings, row_classes, __version__)

    tables_ns: dict[str, Any] = {"__module__": module, "__doc__": "The tables (``conn.db``)."}
    for table in plan.tables:
        handle = _handle_class(table, module)
        classes[table.handle_class] = handle
        tables_ns[table.attr] = _table_property(table.wire_name, handle)
    reducers_ns: dict[str, Any] = {"__module__": module, "__doc__": "The reducers."}
    for r in plan.reducers:
        if r.callable:
            reducers_ns[r.method] = _reducer_method(r)
    procedures_ns: dict[str, Any] = {"__module__": module, "__doc__": "The procedures."}
    for p in plan.procedures:
        procedures_ns[p.method] = _procedure_method(p)
    tables_cls = type("RemoteTables", (DynamicRemoteTables,), tables_ns)
    reducers_cls = type("RemoteReducers", (DynamicRemoteReducers,), reducers_ns)
    procedures_cls = type("RemoteProcedures", (DynamicRemoteProcedures,), procedures_ns)
    connection_cls = type(
        "DbConnection",
        (DbConnection,),
        {
            "__module__": module,
            "__doc__": f"A connection to a database running the module {name!r}.",
            "MODULE": remote,
            "TABLES": tables_cls,
            "REDUCERS": reducers_cls,
            "PROCEDURES": procedures_cls,
        },
    )
    return DynamicModule(
        schema=schema,
        remote_module=remote,
        types=types.SimpleNamespace(**classes),
        row_classes=row_classes,
        connection_class=connection_cls,
    )


def load_module(
    module_def: ModuleSchema | ModuleDefSource | bytes | str | Path | Mapping[str, Any],
    *,
    name: str = "module",
    include_private: bool = True,
) -> DynamicModule:
    """Build the run-time classes of a module.

    ``module_def`` is a :class:`ModuleSchema`, a :class:`ModuleDefSource`, the BSATN or
    SATS-JSON bytes of a ``RawModuleDef`` (any form ``--module-def`` accepts), a parsed JSON
    object, or a path to such a file.
    """
    if isinstance(module_def, ModuleSchema):
        return _build(module_def, name, include_private)
    if isinstance(module_def, ModuleDefSource):
        return _build(module_def.schema, module_def.name, include_private)
    if isinstance(module_def, Path):
        module_def = module_def.read_bytes()
    if isinstance(module_def, str):
        module_def = module_def.encode("utf-8")
    if isinstance(module_def, Mapping):
        module_def = json.dumps(module_def).encode("utf-8")
    source = module_def_from_bytes(bytes(module_def), origin="module def", name=name)
    return _build(source.schema, name, include_private)


def fetch_module(
    server: str, database: str, *, token: str | None = None, include_private: bool = True
) -> DynamicModule:
    """Fetch ``database``'s schema from ``server`` and build its classes."""
    from spacetimedb_sdk.codegen.extract_server import fetch_module_def

    source = fetch_module_def(server, database, token=token)
    return _build(source.schema, database, include_private)


def connect(
    server: str, database: str, *, token: str | None = None
) -> DbConnectionBuilder[DbConnection[Any, Any, Any]]:
    """A connection builder for ``database`` on ``server`` with the module fetched and built:
    add callbacks if you like, then ``.build()`` (threads) or ``await .build_async()``."""
    module = fetch_module(server, database, token=token)
    builder = module.builder().with_uri(server).with_database_name(database)
    return builder.with_token(token) if token else builder
