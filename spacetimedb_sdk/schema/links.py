"""Checks and fixes that span several parts of a module.

Function names are unique across reducers, procedures and views; type names are unique; each
schedule is linked to the reducer or procedure it calls; scheduled and lifecycle functions are
marked and, in V10, made private.
"""

from __future__ import annotations

from collections.abc import Sequence

from spacetimedb_sdk.algebraic_type import ProductType, RefType
from spacetimedb_sdk.raw_module_def import FunctionVisibility
from spacetimedb_sdk.schema.model import (
    FunctionKind,
    ProcedureSchema,
    ReducerSchema,
    ScopedTypeName,
    TableSchema,
    TypeSchema,
    ViewSchema,
    replace,
)
from spacetimedb_sdk.schema.validation import SchemaValidator

__all__ = [
    "attach_schedule_targets",
    "check_function_names",
    "check_unique_types",
    "mark_scheduled_and_private",
]


def check_unique_types(types: Sequence[TypeSchema], errors: list[str]) -> None:
    """Record an error for every type name used twice."""
    seen: set[ScopedTypeName] = set()
    for t in types:
        if t.name in seen:
            errors.append(f"duplicate type name {str(t.name)!r}")
        seen.add(t.name)


def check_function_names(
    reducers: Sequence[ReducerSchema],
    procedures: Sequence[ProcedureSchema],
    views: Sequence[ViewSchema],
    errors: list[str],
) -> None:
    """Record an error for every name shared by two reducers, procedures or views."""
    seen: set[str] = set()
    for name in [r.name for r in reducers] + [p.name for p in procedures] + [v.name for v in views]:
        if name in seen:
            errors.append(f"duplicate function name {name!r}")
        seen.add(name)


def attach_schedule_targets(
    builder: SchemaValidator,
    tables: list[TableSchema],
    reducers: list[ReducerSchema],
    procedures: list[ProcedureSchema],
) -> None:
    """Resolve each schedule's function (reducer first), check its params, mark it scheduled."""
    red_index = {r.name: i for i, r in reversed(list(enumerate(reducers)))}
    proc_index = {p.name: i for i, p in reversed(list(enumerate(procedures)))}
    for ti, table in enumerate(tables):
        sched = table.schedule
        if sched is None:
            continue
        params: ProductType
        if sched.function_name in red_index:
            kind: FunctionKind = "reducer"
            params = reducers[red_index[sched.function_name]].params_type
        elif sched.function_name in proc_index:
            kind = "procedure"
            params = procedures[proc_index[sched.function_name]].params_type
        else:
            builder.errors.append(
                f"schedule {sched.name!r} calls {sched.function_name!r}, which is no reducer or procedure"
            )
            continue
        if not (
            len(params.elements) == 1
            and params.elements[0].algebraic_type == RefType(table.product_type_ref)
        ):
            builder.errors.append(
                f"scheduled {kind} {sched.function_name!r} must take exactly one parameter of the row type "
                f"Ref({table.product_type_ref}) of table {table.name!r}"
            )
            continue
        tables[ti] = replace(table, schedule=replace(sched, function_kind=kind))


def mark_scheduled_and_private(
    tables: Sequence[TableSchema],
    reducers: list[ReducerSchema],
    procedures: list[ProcedureSchema],
    adjust_visibility: bool,
) -> None:
    """Set ``is_scheduled`` on schedule targets; make them and lifecycle reducers private if asked."""
    reducer_targets = {
        t.schedule.function_name
        for t in tables
        if t.schedule and t.schedule.function_kind == "reducer"
    }
    procedure_targets = {
        t.schedule.function_name
        for t in tables
        if t.schedule and t.schedule.function_kind == "procedure"
    }
    private = FunctionVisibility.PRIVATE
    for i, r in enumerate(reducers):
        scheduled = r.name in reducer_targets
        visibility = r.visibility
        if adjust_visibility and (scheduled or r.lifecycle is not None):
            visibility = private
        reducers[i] = replace(r, is_scheduled=scheduled, visibility=visibility)
    for i, p in enumerate(procedures):
        scheduled = p.name in procedure_targets
        visibility = private if adjust_visibility and scheduled else p.visibility
        procedures[i] = replace(p, is_scheduled=scheduled, visibility=visibility)
