"""Re-export of a :class:`~spacetimedb_sdk.schema.ModuleSchema` as the schema endpoint serves it.

Lists the server keeps in hash maps (tables, types, indexes, constraints, sequences) are emitted
sorted by canonical name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spacetimedb_sdk.raw_module_def import (
    ExplicitFunctionName,
    ExplicitNameEntry,
    ExplicitNames,
    ExplicitNamesSection,
    ExplicitTableName,
    HttpHandlersSection,
    HttpRoutesSection,
    LifeCycleReducersSection,
    ProceduresSection,
    RawColumnDefaultValueV9,
    RawColumnDefaultValueV10,
    RawConstraintDefV9,
    RawConstraintDefV10,
    RawHttpHandlerDefV10,
    RawHttpRouteDefV10,
    RawIndexAlgorithm,
    RawIndexAlgorithmBTree,
    RawIndexAlgorithmDirect,
    RawIndexAlgorithmHash,
    RawIndexDefV9,
    RawIndexDefV10,
    RawLifeCycleReducerDefV10,
    RawMiscModuleExportV9,
    RawModuleDefV9,
    RawModuleDefV10,
    RawModuleDefV10Section,
    RawProcedureDefV9,
    RawProcedureDefV10,
    RawReducerDefV9,
    RawReducerDefV10,
    RawRowLevelSecurityDefV9,
    RawScheduleDefV9,
    RawScheduleDefV10,
    RawScopedTypeNameV9,
    RawScopedTypeNameV10,
    RawSequenceDefV9,
    RawSequenceDefV10,
    RawSubmoduleV10,
    RawTableDefV9,
    RawTableDefV10,
    RawTypeDefV9,
    RawTypeDefV10,
    RawUniqueConstraintDataV9,
    RawViewDefV9,
    RawViewDefV10,
    RawViewPrimaryKeyDefV10,
    ReducersSection,
    RowLevelSecuritySection,
    SchedulesSection,
    SubmodulesSection,
    TablesSection,
    TypespaceSection,
    TypesSection,
    ViewPrimaryKeysSection,
    ViewsSection,
)
from spacetimedb_sdk.schema.model import IndexSchema, TableSchema, TypeSchema

if TYPE_CHECKING:
    from spacetimedb_sdk.schema.module_schema import ModuleSchema

__all__ = ["export_v9", "export_v10"]


def _raw_algorithm(ix: IndexSchema) -> RawIndexAlgorithm:
    if ix.algorithm == "btree":
        return RawIndexAlgorithmBTree(ix.columns)
    if ix.algorithm == "hash":
        return RawIndexAlgorithmHash(ix.columns)
    return RawIndexAlgorithmDirect(ix.columns[0])


def _sorted_tables(schema: ModuleSchema) -> list[TableSchema]:
    return sorted(schema.tables, key=lambda t: t.name)


def _sorted_types(schema: ModuleSchema) -> list[TypeSchema]:
    return sorted(schema.types, key=lambda t: t.name)


def export_v10(schema: ModuleSchema) -> RawModuleDefV10:
    """The canonical def as the ``version=10`` schema endpoint serves it."""
    sections: list[RawModuleDefV10Section] = [TypespaceSection(schema.typespace)]
    explicit: list[ExplicitNameEntry] = []

    types = tuple(
        RawTypeDefV10(RawScopedTypeNameV10(t.name.scope, t.name.name), t.ref, t.custom_ordering)
        for t in _sorted_types(schema)
    )
    if types:
        sections.append(TypesSection(types))

    schedules: list[RawScheduleDefV10] = []
    raw_tables: list[RawTableDefV10] = []
    for t in _sorted_tables(schema):
        explicit.append(ExplicitTableName(t.accessor_name, t.name))
        if t.schedule is not None:
            schedules.append(
                RawScheduleDefV10(
                    t.schedule.name, t.name, t.schedule.at_column, t.schedule.function_name
                )
            )
        raw_tables.append(
            RawTableDefV10(
                source_name=t.accessor_name,
                product_type_ref=t.product_type_ref,
                primary_key=() if t.primary_key is None else (t.primary_key,),
                indexes=tuple(
                    RawIndexDefV10(ix.source_name, ix.accessor_name, _raw_algorithm(ix))
                    for ix in sorted(t.indexes, key=lambda ix: ix.name)
                ),
                constraints=tuple(
                    RawConstraintDefV10(c.name, RawUniqueConstraintDataV9(c.columns))
                    for c in sorted(t.constraints, key=lambda c: c.name)
                ),
                sequences=tuple(
                    RawSequenceDefV10(
                        s.name, s.column, s.start, s.min_value, s.max_value, s.increment
                    )
                    for s in sorted(t.sequences, key=lambda s: s.name)
                ),
                table_type=t.table_type,
                table_access=t.table_access,
                default_values=tuple(
                    RawColumnDefaultValueV10(c.position, c.default_value)
                    for c in t.columns
                    if c.default_value is not None
                ),
                is_event=t.is_event,
            )
        )
    if raw_tables:
        sections.append(TablesSection(tuple(raw_tables)))

    if schema.reducers:
        sections.append(
            ReducersSection(
                tuple(
                    RawReducerDefV10(
                        r.accessor_name,
                        r.params_type,
                        r.visibility,
                        r.ok_return_type,
                        r.err_return_type,
                    )
                    for r in schema.reducers
                )
            )
        )
        explicit.extend(ExplicitFunctionName(r.accessor_name, r.name) for r in schema.reducers)
    if schema.procedures:
        sections.append(
            ProceduresSection(
                tuple(
                    RawProcedureDefV10(p.accessor_name, p.params_type, p.return_type, p.visibility)
                    for p in schema.procedures
                )
            )
        )
        explicit.extend(ExplicitFunctionName(p.accessor_name, p.name) for p in schema.procedures)
    if schema.http_handlers:
        sections.append(
            HttpHandlersSection(
                tuple(RawHttpHandlerDefV10(h.accessor_name) for h in schema.http_handlers)
            )
        )
    if schema.http_routes:
        sections.append(
            HttpRoutesSection(
                tuple(
                    RawHttpRouteDefV10(r.handler_name, r.method, r.path) for r in schema.http_routes
                )
            )
        )
    view_keys: list[RawViewPrimaryKeyDefV10] = []
    if schema.views:
        raw_views: list[RawViewDefV10] = []
        for v in schema.views:
            explicit.append(ExplicitFunctionName(v.accessor_name, v.name))
            if v.is_procedural and v.primary_key is not None:
                view_keys.append(
                    RawViewPrimaryKeyDefV10(v.accessor_name, (v.columns[v.primary_key].name,))
                )
            raw_views.append(
                RawViewDefV10(
                    v.accessor_name,
                    v.index,
                    v.is_public,
                    v.is_anonymous,
                    v.params_type,
                    v.return_type,
                )
            )
        sections.append(ViewsSection(tuple(raw_views)))
    if view_keys:
        sections.append(ViewPrimaryKeysSection(tuple(view_keys)))
    if schedules:
        sections.append(SchedulesSection(tuple(schedules)))
    lifecycle = tuple(
        RawLifeCycleReducerDefV10(lc, r.name) for lc, r in schema.lifecycle_reducers.items()
    )
    if lifecycle:
        sections.append(LifeCycleReducersSection(lifecycle))
    if schema.row_level_security:
        sections.append(
            RowLevelSecuritySection(
                tuple(RawRowLevelSecurityDefV9(s) for s in schema.row_level_security)
            )
        )
    sections.append(ExplicitNamesSection(ExplicitNames(tuple(explicit))))
    if schema.submodules:
        sections.append(
            SubmodulesSection(
                tuple(RawSubmoduleV10(s.namespace, export_v10(s.schema)) for s in schema.submodules)
            )
        )
    return RawModuleDefV10(tuple(sections))


def export_v9(schema: ModuleSchema) -> RawModuleDefV9:
    """The canonical def as the ``version=9`` schema endpoint serves it."""
    tables = _sorted_tables(schema)
    raw_tables = tuple(
        RawTableDefV9(
            name=t.name,
            product_type_ref=t.product_type_ref,
            primary_key=() if t.primary_key is None else (t.primary_key,),
            indexes=tuple(
                RawIndexDefV9(ix.name, ix.accessor_name, _raw_algorithm(ix))
                for ix in sorted(t.indexes, key=lambda ix: ix.name)
            ),
            constraints=tuple(
                RawConstraintDefV9(c.name, RawUniqueConstraintDataV9(c.columns))
                for c in sorted(t.constraints, key=lambda c: c.name)
            ),
            sequences=tuple(
                RawSequenceDefV9(s.name, s.column, s.start, s.min_value, s.max_value, s.increment)
                for s in sorted(t.sequences, key=lambda s: s.name)
            ),
            schedule=None
            if t.schedule is None
            else RawScheduleDefV9(t.schedule.name, t.schedule.function_name, t.schedule.at_column),
            table_type=t.table_type,
            table_access=t.table_access,
        )
        for t in tables
    )
    misc: list[RawMiscModuleExportV9] = [
        RawColumnDefaultValueV9(t.name, c.position, c.default_value)
        for t in tables
        for c in t.columns
        if c.default_value is not None
    ]
    misc.extend(RawProcedureDefV9(p.name, p.params_type, p.return_type) for p in schema.procedures)
    misc.extend(
        RawViewDefV9(v.name, v.index, v.is_public, v.is_anonymous, v.params_type, v.return_type)
        for v in schema.views
    )
    return RawModuleDefV9(
        typespace=schema.typespace,
        tables=raw_tables,
        reducers=tuple(
            RawReducerDefV9(r.name, r.params_type, r.lifecycle) for r in schema.reducers
        ),
        types=tuple(
            RawTypeDefV9(RawScopedTypeNameV9(t.name.scope, t.name.name), t.ref, t.custom_ordering)
            for t in _sorted_types(schema)
        ),
        misc_exports=tuple(misc),
        row_level_security=tuple(RawRowLevelSecurityDefV9(s) for s in schema.row_level_security),
    )
