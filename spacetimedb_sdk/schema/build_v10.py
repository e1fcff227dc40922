"""Building a :class:`~spacetimedb_sdk.schema.ModuleSchema` from a ``RawModuleDefV10``.

The steps follow the server's validation: canonical names come from ``ExplicitNames`` or from
converting the source name under the module's case-conversion policy; functions, views, tables
and types are checked one by one; then schedules, lifecycles and view primary keys are linked to
what they name, and submodules are built the same way in isolation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from spacetimedb_sdk.algebraic_type import STRING, UNIT
from spacetimedb_sdk.raw_module_def import (
    AnyMethod,
    CaseConversionPolicy,
    ExplicitFunctionName,
    ExplicitTableName,
    Lifecycle,
    RawModuleDefV10,
    RawSequenceDefV9,
    RawTableDefV10,
    RawViewPrimaryKeyDefV10,
    TableType,
)
from spacetimedb_sdk.schema.links import (
    attach_schedule_targets,
    check_function_names,
    check_unique_types,
    mark_scheduled_and_private,
)
from spacetimedb_sdk.schema.model import (
    HttpHandlerSchema,
    HttpRouteSchema,
    IndexSchema,
    ProcedureSchema,
    ReducerSchema,
    ScopedTypeName,
    SequenceSchema,
    SubmoduleSchema,
    TableSchema,
    TypeSchema,
    UniqueConstraintSchema,
    ViewSchema,
    replace,
)
from spacetimedb_sdk.schema.naming import (
    convert_name,
    convert_type_name,
    convert_typespace,
    generate_constraint_name,
    generate_index_name,
    is_valid_identifier,
)
from spacetimedb_sdk.schema.validation import ModuleValidationError, SchemaValidator, check_ident

if TYPE_CHECKING:
    from spacetimedb_sdk.schema.module_schema import ModuleSchema

__all__ = ["build_v10"]


def build_v10(
    raw: RawModuleDefV10, canonical: bool, schema_cls: type[ModuleSchema]
) -> ModuleSchema:
    """Validate and canonicalise a V10 def into a ``schema_cls``.

    ``canonical`` declares the def a server re-export, whose typespace and type names are used as
    they are. ``schema_cls`` is handed in by ``ModuleSchema.from_raw`` so that the schema class can
    build itself without this module importing it (which would be an import cycle).
    """
    names = _CanonicalNames.of(raw)
    raw_ts = raw.typespace
    ts = raw_ts if canonical else convert_typespace(raw_ts, names.policy)
    b = SchemaValidator(raw_ts, ts, (t.ty for t in raw.types), names.policy)

    reducers = _reducers(b, raw, names)
    procedures = _procedures(b, raw, names)
    handlers = _http_handlers(b, raw, names)
    routes = _http_routes(b, raw, names, {h.name for h in handlers})
    views = _views(b, raw, names)
    tables = [table for t in raw.tables if (table := _table(b, t, names)) is not None]
    types = _types(b, raw, CaseConversionPolicy.NONE if canonical else names.policy)
    check_unique_types(types, b.errors)

    _attach_schedules(b, raw, names, tables)
    _attach_lifecycles(b, raw, names, reducers)
    check_function_names(reducers, procedures, views, b.errors)
    attach_schedule_targets(b, tables, reducers, procedures)
    mark_scheduled_and_private(tables, reducers, procedures, adjust_visibility=True)
    _attach_view_primary_keys(b, views, raw.view_primary_keys)
    _infer_query_view_primary_keys(tables, views)
    submodules = _submodules(b, raw, canonical, schema_cls)

    b.fail_if_errors()
    return schema_cls(
        typespace=ts,
        accessor_typespace=raw_ts,
        types=tuple(types),
        tables=tuple(tables),
        reducers=tuple(reducers),
        procedures=tuple(procedures),
        views=tuple(views),
        http_handlers=tuple(handlers),
        http_routes=tuple(routes),
        row_level_security=tuple(dict.fromkeys(r.sql for r in raw.row_level_security)),
        case_conversion_policy=names.policy,
        raw_version=10,
        submodules=tuple(submodules),
    )


@dataclass(frozen=True)
class _CanonicalNames:
    """Source name -> canonical name: the module's explicit name if any, else ``convert(name)``."""

    policy: CaseConversionPolicy
    tables: Mapping[str, str]
    functions: Mapping[str, str]
    indexes: Mapping[str, str]

    @classmethod
    def of(cls, raw: RawModuleDefV10) -> _CanonicalNames:
        tables: dict[str, str] = {}
        functions: dict[str, str] = {}
        indexes: dict[str, str] = {}
        for entry in raw.explicit_names.entries:
            target = (
                tables
                if isinstance(entry, ExplicitTableName)
                else functions
                if isinstance(entry, ExplicitFunctionName)
                else indexes
            )
            target[entry.source_name] = entry.canonical_name
        return cls(raw.case_conversion_policy, tables, functions, indexes)

    def table(self, source: str) -> str:
        """The canonical name of a table."""
        return self.tables.get(source, convert_name(source, self.policy))

    def function(self, source: str) -> str:
        """The canonical name of a reducer, procedure, view or HTTP handler."""
        return self.functions.get(source, convert_name(source, self.policy))


def _reducers(
    b: SchemaValidator, raw: RawModuleDefV10, names: _CanonicalNames
) -> list[ReducerSchema]:
    """The reducers, numbered by position (the wire reducer id); lifecycles come later."""
    errors = b.errors
    reducers: list[ReducerSchema] = []
    for i, r in enumerate(raw.reducers):
        where = f"reducer {r.source_name!r}"
        check_ident(r.source_name, "reducer name", errors)
        name = check_ident(names.function(r.source_name), "canonical reducer name", errors)
        params = b.params(where, r.params)
        if not (r.ok_return_type == UNIT and r.err_return_type == STRING):
            errors.append(f"{where}: reducers must return Result<(), String>")
        reducers.append(
            ReducerSchema(
                name, r.source_name, i, params, r.params, None, r.visibility, False,
                r.ok_return_type, r.err_return_type,
            )
        )  # fmt: skip
    return reducers


def _procedures(
    b: SchemaValidator, raw: RawModuleDefV10, names: _CanonicalNames
) -> list[ProcedureSchema]:
    """The procedures."""
    errors = b.errors
    procedures: list[ProcedureSchema] = []
    for p in raw.procedures:
        where = f"procedure {p.source_name!r}"
        params = b.params(where, p.params)
        b.uses.use(p.return_type, f"{where}, return type")
        check_ident(p.source_name, "procedure name", errors)
        name = check_ident(names.function(p.source_name), "canonical procedure name", errors)
        procedures.append(
            ProcedureSchema(
                name, p.source_name, params, p.params, p.return_type, p.visibility, False
            )
        )
    return procedures


def _http_handlers(
    b: SchemaValidator, raw: RawModuleDefV10, names: _CanonicalNames
) -> list[HttpHandlerSchema]:
    """The HTTP handler functions, with unique canonical names."""
    errors = b.errors
    handlers: list[HttpHandlerSchema] = []
    seen: set[str] = set()
    for h in raw.http_handlers:
        check_ident(h.source_name, "HTTP handler name", errors)
        name = check_ident(names.function(h.source_name), "canonical HTTP handler name", errors)
        if name in seen:
            errors.append(f"duplicate HTTP handler name {name!r}")
        seen.add(name)
        handlers.append(HttpHandlerSchema(name, h.source_name))
    return handlers


def _http_routes(
    b: SchemaValidator, raw: RawModuleDefV10, names: _CanonicalNames, handler_names: set[str]
) -> list[HttpRouteSchema]:
    """The HTTP routes: valid paths, existing handlers, no two routes matching one request."""
    errors = b.errors
    routes: list[HttpRouteSchema] = []
    for route in raw.http_routes:
        path = route.path
        if (path and not path.startswith("/")) or not all(
            c.isascii() and (c.islower() or c.isdigit() or c in "-_~/") for c in path
        ):
            errors.append(f"invalid HTTP route path {path!r}")
            continue
        handler = names.function(route.handler_function)
        if handler not in handler_names:
            errors.append(f"HTTP route {path!r} names a missing handler {route.handler_function!r}")
            continue
        new = HttpRouteSchema(handler, route.method, path)
        if any(
            old.path == new.path
            and (
                isinstance(old.method, AnyMethod)
                or isinstance(new.method, AnyMethod)
                or old.method == new.method
            )
            for old in routes
        ):
            errors.append(f"duplicate HTTP route {path!r}")
        routes.append(new)
    return routes


def _views(b: SchemaValidator, raw: RawModuleDefV10, names: _CanonicalNames) -> list[ViewSchema]:
    """The views; their primary keys are attached later."""
    errors = b.errors
    views: list[ViewSchema] = []
    for v in raw.views:
        name = check_ident(names.function(v.source_name), "canonical view name", errors)
        check_ident(v.source_name, "view name", errors)
        view = b.view(
            name=name,
            accessor_name=v.source_name,
            index=v.index,
            is_public=v.is_public,
            is_anonymous=v.is_anonymous,
            params=v.params,
            return_type=v.return_type,
        )
        if view is not None:
            views.append(view)
    return views


def _types(
    b: SchemaValidator, raw: RawModuleDefV10, type_policy: CaseConversionPolicy
) -> list[TypeSchema]:
    """The named types, their scoped names converted under ``type_policy``."""
    types: list[TypeSchema] = []
    for td in raw.types:
        source = ScopedTypeName(td.source_name.scope, td.source_name.source_name)
        ts_def = b.type_def(
            source, td.ty, td.custom_ordering, lambda s: convert_type_name(s, type_policy)
        )
        if ts_def is not None:
            types.append(ts_def)
    return types


def _attach_schedules(
    b: SchemaValidator, raw: RawModuleDefV10, names: _CanonicalNames, tables: list[TableSchema]
) -> None:
    """Give each schedule table its schedule (at most one per table)."""
    errors = b.errors
    by_name = {tb.name: i for i, tb in enumerate(tables)}
    for s in raw.schedules:
        tname = names.table(s.table_name)
        if tname not in by_name:
            errors.append(f"schedule names a missing table {s.table_name!r}")
            continue
        ti = by_name[tname]
        table = tables[ti]
        sched = b.schedule(
            table.name, table.row_type, table.primary_key, f"{tname}_sched", names.function(s.function_name),
            s.schedule_at_col,
        )  # fmt: skip
        if sched is None:
            continue
        if table.schedule is not None:
            errors.append(f"table {table.name!r} has more than one schedule")
            continue
        tables[ti] = replace(table, schedule=sched)


def _attach_lifecycles(
    b: SchemaValidator, raw: RawModuleDefV10, names: _CanonicalNames, reducers: list[ReducerSchema]
) -> None:
    """Give lifecycle reducers their role: each role once, each reducer at most one role."""
    errors = b.errors
    lifecycle_of: dict[int, Lifecycle] = {}
    seen_lifecycles: set[Lifecycle] = set()
    for lc in raw.lifecycle_reducers:
        fname = names.function(lc.function_name)
        pos = next((i for i, r in enumerate(reducers) if r.name == fname), None)
        if pos is None:
            errors.append(
                f"lifecycle {lc.lifecycle_spec.name} names a missing reducer {lc.function_name!r}"
            )
            continue
        if lc.lifecycle_spec in seen_lifecycles:
            errors.append(f"duplicate lifecycle {lc.lifecycle_spec.name}")
            continue
        seen_lifecycles.add(lc.lifecycle_spec)
        if pos in lifecycle_of:
            errors.append(f"reducer {reducers[pos].name!r} has more than one lifecycle")
            continue
        lifecycle_of[pos] = lc.lifecycle_spec
    for pos, spec in lifecycle_of.items():
        reducers[pos] = replace(reducers[pos], lifecycle=spec)


def _submodules(
    b: SchemaValidator, raw: RawModuleDefV10, canonical: bool, schema_cls: type[ModuleSchema]
) -> list[SubmoduleSchema]:
    """The submodules, each validated on its own; their errors are reported under the namespace."""
    errors = b.errors
    submodules: list[SubmoduleSchema] = []
    namespaces: set[str] = set()
    for sub in raw.submodules:
        if len(sub.namespace.encode()) > 63:
            errors.append(f"submodule namespace {sub.namespace!r} is longer than 63 bytes")
        if not is_valid_identifier(sub.namespace):
            errors.append(f"submodule namespace {sub.namespace!r} is not a valid identifier")
            continue
        if sub.namespace in namespaces:
            errors.append(f"duplicate submodule namespace {sub.namespace!r}")
            continue
        namespaces.add(sub.namespace)
        try:
            sub_schema = build_v10(sub.module, canonical, schema_cls)
        except ModuleValidationError as exc:
            errors.extend(f"submodule {sub.namespace!r}: {e}" for e in exc.errors)
            continue
        if sub_schema.lifecycle_reducers:
            errors.append(
                f"submodule {sub.namespace!r} declares lifecycle reducers (only the root may)"
            )
        submodules.append(SubmoduleSchema(sub.namespace, sub_schema))
    return submodules


def _table(b: SchemaValidator, t: RawTableDefV10, names: _CanonicalNames) -> TableSchema | None:
    """A table's schema (no schedule yet), or None after recording why it is invalid."""
    errors = b.errors
    where = f"table {t.source_name!r}"
    product = b.product_at(t.product_type_ref, b.ts)
    if product is None or b.product_at(t.product_type_ref, b.raw_ts) is None:
        errors.append(
            f"{where}: product_type_ref Ref({t.product_type_ref}) does not point at a product type"
        )
        return None
    name = names.table(t.source_name)
    columns = b.columns(where, t.product_type_ref)

    indexes: list[IndexSchema] = []
    for ix in t.indexes:
        if ix.source_name is None:
            errors.append(f"{where}: an index has no source_name")
            continue
        b.names.add(ix.source_name, f"index of {where}")
        ix_name = (
            names.indexes[ix.source_name]
            if ix.source_name in names.indexes
            else generate_index_name(name, product, ix.algorithm)
        )
        check_ident(ix_name, f"{where}: index name", errors)
        if ix_name != ix.source_name:
            b.names.add(ix_name, f"index of {where}")
        schema = b.index(name, product, ix_name, ix.source_name, ix.accessor_name, ix.algorithm)
        if schema is not None:
            indexes.append(schema)

    constraints: list[UniqueConstraintSchema] = []
    for c in t.constraints:
        cname = generate_constraint_name(name, product, c.data.columns)
        cs = b.constraint(name, product, cname, c.data)
        if cs is not None:
            constraints.append(cs)
    pk = b.keys_and_backing(name, t.primary_key, constraints, indexes, product)

    sequences: list[SequenceSchema] = []
    used: set[int] = set()
    for s in t.sequences:
        seq = b.sequence(
            name,
            product,
            RawSequenceDefV9(
                s.source_name, s.column, s.start, s.min_value, s.max_value, s.increment
            ),
            used,
        )
        if seq is not None:
            sequences.append(seq)

    check_ident(t.source_name, "table name", errors)
    b.names.add(t.source_name, "table")
    check_ident(name, "canonical table name", errors)
    if t.table_type is not TableType.SYSTEM and name.startswith("st_"):
        errors.append(f"{where}: table names starting with 'st_' are reserved for system tables")
    if name != t.source_name:
        b.names.add(name, "table")

    defaults: dict[int, bytes] = {}
    for dv in t.default_values:
        if b.default_value(name, product, dv.col_id, dv.value):
            defaults[dv.col_id] = dv.value
    columns = tuple(replace(c, default_value=defaults.get(c.position)) for c in columns)

    return TableSchema(
        name=name,
        accessor_name=t.source_name,
        product_type_ref=t.product_type_ref,
        row_type=product,
        columns=columns,
        primary_key=pk,
        indexes=tuple(indexes),
        constraints=tuple(constraints),
        sequences=tuple(sequences),
        schedule=None,
        table_type=t.table_type,
        table_access=t.table_access,
        is_event=t.is_event,
    )


def _attach_view_primary_keys(
    b: SchemaValidator, views: list[ViewSchema], keys: Sequence[RawViewPrimaryKeyDefV10]
) -> None:
    """Give procedural views the primary keys the module declared for them."""
    seen: set[str] = set()
    for key in keys:
        if key.view_source_name in seen:
            b.errors.append(
                f"view {key.view_source_name!r} declares its primary key more than once"
            )
            continue
        seen.add(key.view_source_name)
        if len(key.columns) > 1:
            b.errors.append(
                f"view {key.view_source_name!r}: only single-column primary keys are supported"
            )
            continue
        if not key.columns:
            continue
        pos = next(
            (i for i, v in enumerate(views) if v.accessor_name == key.view_source_name), None
        )
        if pos is None:
            b.errors.append(f"primary key declared for a missing view {key.view_source_name!r}")
            continue
        col = next((c for c in views[pos].columns if c.accessor_name == key.columns[0]), None)
        if col is None:
            b.errors.append(f"view {key.view_source_name!r} has no column {key.columns[0]!r}")
            continue
        views[pos] = replace(views[pos], primary_key=col.position)


def _infer_query_view_primary_keys(tables: Sequence[TableSchema], views: list[ViewSchema]) -> None:
    """A query view inherits the primary key of the tables sharing its row type, if unambiguous."""
    for i, view in enumerate(views):
        if view.return_shape != "query" or view.primary_key is not None:
            continue
        found: int | None = None
        ambiguous = False
        for t in tables:
            if t.product_type_ref != view.product_type_ref or t.primary_key is None:
                continue
            if found is None:
                found = t.primary_key
            elif found != t.primary_key:
                ambiguous = True
        if found is not None and not ambiguous:
            views[i] = replace(view, primary_key=found)
