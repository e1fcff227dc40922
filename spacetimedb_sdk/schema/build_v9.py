"""Building a :class:`~spacetimedb_sdk.schema.ModuleSchema` from a ``RawModuleDefV9``.

The server validates V9 with the ``None`` case-conversion policy: every name is already
canonical, and visibility is left as it is (everything is client-callable).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spacetimedb_sdk.raw_module_def import (
    CaseConversionPolicy,
    FunctionVisibility,
    Lifecycle,
    RawColumnDefaultValueV9,
    RawModuleDefV9,
    RawProcedureDefV9,
    RawTableDefV9,
    RawViewDefV9,
    TableType,
)
from spacetimedb_sdk.schema.links import (
    attach_schedule_targets,
    check_function_names,
    check_unique_types,
    mark_scheduled_and_private,
)
from spacetimedb_sdk.schema.model import (
    IndexSchema,
    ProcedureSchema,
    ReducerSchema,
    ScheduleSchema,
    ScopedTypeName,
    SequenceSchema,
    TableSchema,
    TypeSchema,
    UniqueConstraintSchema,
    ViewSchema,
    replace,
)
from spacetimedb_sdk.schema.naming import generate_constraint_name, generate_index_name
from spacetimedb_sdk.schema.validation import SchemaValidator, check_ident

if TYPE_CHECKING:
    from spacetimedb_sdk.schema.module_schema import ModuleSchema

__all__ = ["build_v9"]


def build_v9(raw: RawModuleDefV9, schema_cls: type[ModuleSchema]) -> ModuleSchema:
    """Validate a V9 def; ``schema_cls`` is the class to build (see :func:`build_v10`)."""
    # The server validates V9 with the None policy: every name is already canonical.
    policy = CaseConversionPolicy.NONE
    ts = raw.typespace
    b = SchemaValidator(ts, ts, (t.ty for t in raw.types), policy)
    errors = b.errors

    reducers: list[ReducerSchema] = []
    seen_lifecycles: set[Lifecycle] = set()
    for i, r in enumerate(raw.reducers):
        params = b.params(f"reducer {r.name!r}", r.params)
        check_ident(r.name, "reducer name", errors)
        if r.lifecycle is not None:
            if r.lifecycle in seen_lifecycles:
                errors.append(f"duplicate lifecycle {r.lifecycle.name}")
            seen_lifecycles.add(r.lifecycle)
        reducers.append(
            ReducerSchema(
                r.name,
                r.name,
                i,
                params,
                r.params,
                r.lifecycle,
                FunctionVisibility.CLIENT_CALLABLE,
                False,
            )
        )

    procedures: list[ProcedureSchema] = []
    views: list[ViewSchema] = []
    defaults: list[RawColumnDefaultValueV9] = []
    for export in raw.misc_exports:
        if isinstance(export, RawProcedureDefV9):
            where = f"procedure {export.name!r}"
            params = b.params(where, export.params)
            b.uses.use(export.return_type, f"{where}, return type")
            check_ident(export.name, "procedure name", errors)
            procedures.append(
                ProcedureSchema(
                    export.name, export.name, params, export.params, export.return_type,
                    FunctionVisibility.CLIENT_CALLABLE, False,
                )
            )  # fmt: skip
        elif isinstance(export, RawViewDefV9):
            check_ident(export.name, "view name", errors)
            view = b.view(
                name=export.name,
                accessor_name=export.name,
                index=export.index,
                is_public=export.is_public,
                is_anonymous=export.is_anonymous,
                params=export.params,
                return_type=export.return_type,
            )
            if view is not None:
                views.append(view)
        else:
            defaults.append(export)

    tables: list[TableSchema] = []
    for t in raw.tables:
        table = _table_v9(b, t)
        if table is not None:
            tables.append(table)

    types: list[TypeSchema] = []
    for td in raw.types:
        source = ScopedTypeName(td.name.scope, td.name.name)
        ts_def = b.type_def(source, td.ty, td.custom_ordering, lambda s: s)
        if ts_def is not None:
            types.append(ts_def)
    check_unique_types(types, errors)

    check_function_names(reducers, procedures, views, errors)

    by_name = {tb.name: i for i, tb in enumerate(tables)}
    with_default: set[tuple[int, int]] = set()
    for dv in defaults:
        if dv.table not in by_name:
            errors.append(f"default value for a missing table {dv.table!r}")
            continue
        ti = by_name[dv.table]
        table = tables[ti]
        if not b.default_value(table.name, table.row_type, dv.col_id, dv.value):
            continue
        if (ti, dv.col_id) in with_default:
            errors.append(
                f"table {table.name!r}: more than one default value for column {dv.col_id}"
            )
            continue
        with_default.add((ti, dv.col_id))
        cols = list(table.columns)
        cols[dv.col_id] = replace(cols[dv.col_id], default_value=dv.value)
        tables[ti] = replace(table, columns=tuple(cols))

    attach_schedule_targets(b, tables, reducers, procedures)
    # V9 validation leaves visibility alone (everything is ClientCallable); only mark targets.
    mark_scheduled_and_private(tables, reducers, procedures, adjust_visibility=False)

    b.fail_if_errors()
    return schema_cls(
        typespace=ts,
        accessor_typespace=ts,
        types=tuple(types),
        tables=tuple(tables),
        reducers=tuple(reducers),
        procedures=tuple(procedures),
        views=tuple(views),
        row_level_security=tuple(dict.fromkeys(r.sql for r in raw.row_level_security)),
        case_conversion_policy=policy,
        raw_version=9,
    )


def _table_v9(b: SchemaValidator, t: RawTableDefV9) -> TableSchema | None:
    errors = b.errors
    where = f"table {t.name!r}"
    product = b.product_at(t.product_type_ref, b.ts)
    if product is None:
        errors.append(
            f"{where}: product_type_ref Ref({t.product_type_ref}) does not point at a product type"
        )
        return None
    name = t.name
    columns = b.columns(where, t.product_type_ref)

    indexes: list[IndexSchema] = []
    for ix in t.indexes:
        ix_name = (
            ix.name if ix.name is not None else generate_index_name(name, product, ix.algorithm)
        )
        b.names.add(ix_name, f"index of {where}")
        schema = b.index(name, product, ix_name, ix_name, ix.accessor_name, ix.algorithm)
        if schema is not None:
            indexes.append(schema)

    constraints: list[UniqueConstraintSchema] = []
    for c in t.constraints:
        cname = (
            c.name
            if c.name is not None
            else generate_constraint_name(name, product, c.data.columns)
        )
        cs = b.constraint(name, product, cname, c.data)
        if cs is not None:
            constraints.append(cs)
    pk = b.keys_and_backing(name, t.primary_key, constraints, indexes, product)

    sequences: list[SequenceSchema] = []
    used: set[int] = set()
    for s in t.sequences:
        seq = b.sequence(name, product, s, used)
        if seq is not None:
            sequences.append(seq)

    schedule: ScheduleSchema | None = None
    if t.schedule is not None:
        sname = t.schedule.name if t.schedule.name is not None else f"{name}_sched"
        schedule = b.schedule(
            name, product, pk, sname, t.schedule.reducer_name, t.schedule.scheduled_at_column
        )

    b.names.add(name, "table")
    check_ident(name, "table name", errors)
    if t.table_type is not TableType.SYSTEM and name.startswith("st_"):
        errors.append(f"{where}: table names starting with 'st_' are reserved for system tables")

    return TableSchema(
        name=name,
        accessor_name=name,
        product_type_ref=t.product_type_ref,
        row_type=product,
        columns=columns,
        primary_key=pk,
        indexes=tuple(indexes),
        constraints=tuple(constraints),
        sequences=tuple(sequences),
        schedule=schedule,
        table_type=t.table_type,
        table_access=t.table_access,
        is_event=False,
    )
