"""Turn a Python module's declarations into a ``RawModuleDefV10`` (and a runtime model).

:func:`describe_module` follows the Rust bindings' conventions
(docs/module-def.md#binding-conventions), so a server
canonicalises our output exactly as it would a Rust module's:

* each row class is registered once as a named product (``Types`` entry, ``custom_ordering``);
  reducer parameters are inline products (no parameter types are registered);
* every primary-key / unique column gets a ``Unique`` constraint (``source_name`` none) and a
  BTree index with ``source_name = {table accessor}_{field}_idx_btree`` and the field name as
  accessor; ``index()`` columns and table-level indexes get ``{accessor}_{fields}_idx_{algo}``;
* each auto-inc column gets a sequence with all bounds ``none`` and increment 1;
* lifecycle reducers are ``Private`` reducers plus a ``LifeCycleReducers`` entry; scheduled
  functions are ``Private`` plus a ``Schedules`` entry;
* tables and functions are sorted by name (the Rust registration order);
* views are sorted by source name and numbered separately for per-client and anonymous views;
  a view's ``primary_key=`` becomes a ``ViewPrimaryKeys`` entry (column by source name);
* row-level-security filters go to ``RowLevelSecurity`` in declaration order;
* ``ExplicitNames`` is always present, with entries only for explicit ``name=`` options; a
  ``CaseConversionPolicy`` section only when the module declares one.

:func:`build_module_model` returns the same def together with what a host needs to run the
module: the classes, the functions, their parameter types and the codec bindings.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Final

from spacetimedb_sdk import algebraic_type as at
from spacetimedb_sdk.algebraic_type import AlgebraicType, ProductType, RefType, Typespace
from spacetimedb_sdk.bsatn import ProductBinding, SumBinding, compile_codec
from spacetimedb_sdk.case_conversion import to_snake_case
from spacetimedb_sdk.errors import ModuleDefError
from spacetimedb_sdk.module.columns import ColumnOptions, IndexAlgorithm
from spacetimedb_sdk.module.describe_views import ViewModel, view_models
from spacetimedb_sdk.module.functions import FunctionDecl
from spacetimedb_sdk.module.registry import collect
from spacetimedb_sdk.module.sats_types import INTEGER_TYPE_NAMES
from spacetimedb_sdk.module.settings import CaseConversionSetting, ClientVisibilityFilter
from spacetimedb_sdk.module.tables import TableDecl, prepare_row_class, table_decls
from spacetimedb_sdk.module.type_mapping import (
    TypespaceBuilder,
    class_hints,
    column_options_in,
    function_hints,
)
from spacetimedb_sdk.raw_module_def import (
    CaseConversionPolicy,
    CaseConversionPolicySection,
    ExplicitFunctionName,
    ExplicitNames,
    ExplicitNamesSection,
    ExplicitTableName,
    FunctionVisibility,
    Lifecycle,
    LifeCycleReducersSection,
    ProceduresSection,
    RawColumnDefaultValueV10,
    RawConstraintDefV10,
    RawIndexAlgorithm,
    RawIndexAlgorithmBTree,
    RawIndexAlgorithmDirect,
    RawIndexAlgorithmHash,
    RawIndexDefV10,
    RawLifeCycleReducerDefV10,
    RawModuleDefV10,
    RawModuleDefV10Section,
    RawProcedureDefV10,
    RawReducerDefV10,
    RawRowLevelSecurityDefV9,
    RawScheduleDefV10,
    RawScopedTypeNameV10,
    RawSequenceDefV10,
    RawTableDefV10,
    RawTypeDefV10,
    RawUniqueConstraintDataV9,
    RawViewDefV10,
    RawViewPrimaryKeyDefV10,
    ReducersSection,
    RowLevelSecuritySection,
    SchedulesSection,
    TableAccess,
    TablesSection,
    TableType,
    TypespaceSection,
    TypesSection,
    ViewPrimaryKeysSection,
    ViewsSection,
)

__all__ = [
    "ColumnModel",
    "FunctionModel",
    "IndexModel",
    "ModuleModel",
    "TableModel",
    "ViewModel",
    "build_module_model",
    "describe_module",
]

_LIFECYCLES: Final = {
    "init": Lifecycle.INIT,
    "client_connected": Lifecycle.ON_CONNECT,
    "client_disconnected": Lifecycle.ON_DISCONNECT,
}
_LIFECYCLE_ORDER: Final = ("init", "client_connected", "client_disconnected")


@dataclass(frozen=True)
class ColumnModel:
    """One column: its Python attribute (= source name), canonical name, type and options."""

    attr: str
    name: str
    type: AlgebraicType
    options: ColumnOptions


@dataclass(frozen=True)
class IndexModel:
    """One index: raw source name, accessor (the handle attribute), algorithm, column positions."""

    source_name: str
    accessor: str
    algorithm: IndexAlgorithm
    columns: tuple[int, ...]


@dataclass(frozen=True)
class TableModel:
    """One table as the host runs it."""

    decl: TableDecl
    cls: type
    accessor: str
    #: Canonical (SQL / wire) name: the explicit name, else snake_case(accessor).
    name: str
    type_ref: int
    columns: tuple[ColumnModel, ...]
    primary_key: int | None
    #: Columns with a unique constraint (the primary key included).
    unique_columns: tuple[int, ...]
    indexes: tuple[IndexModel, ...]
    #: Columns with an auto-increment sequence.
    sequence_columns: tuple[int, ...]
    public: bool
    is_event: bool
    #: ``(function source name, ScheduleAt column)`` for schedule tables.
    schedule: tuple[str, int] | None


@dataclass(frozen=True)
class FunctionModel:
    """One reducer or procedure as the host runs it."""

    decl: FunctionDecl
    fn: Callable[..., Any]
    source_name: str
    #: Canonical name (what clients call): the explicit name, else snake_case(source name).
    name: str
    params: ProductType
    #: Procedures only: the return type (unit for reducers).
    return_type: AlgebraicType
    private: bool
    scheduled: bool

    @property
    def is_reducer(self) -> bool:
        """True for reducers, False for procedures."""
        return self.decl.kind == "reducer"

    @property
    def lifecycle(self) -> str | None:
        """``"init"``, ``"client_connected"``, ``"client_disconnected"`` or None."""
        return self.decl.lifecycle


@dataclass(frozen=True)
class ModuleModel:
    """Everything :func:`build_module_model` learnt about a module."""

    tables: tuple[TableModel, ...]
    functions: tuple[FunctionModel, ...]
    typespace: Typespace
    type_defs: tuple[tuple[str, int], ...]
    bindings: dict[int, ProductBinding | SumBinding]
    raw_def: RawModuleDefV10
    views: tuple[ViewModel, ...] = ()
    #: Row-level-security filters (SQL), in declaration order.
    row_level_security: tuple[str, ...] = ()
    case_conversion_policy: CaseConversionPolicy = CaseConversionPolicy.SNAKE_CASE

    def table(self, accessor: str) -> TableModel:
        """The table with this accessor."""
        for t in self.tables:
            if t.accessor == accessor:
                return t
        raise KeyError(accessor)


# ============================================================================== building the model


def describe_module(py_module: ModuleType) -> RawModuleDefV10:
    """The ``RawModuleDefV10`` of a Python module written with :mod:`spacetimedb_sdk.module`."""
    return build_module_model(py_module).raw_def


def build_module_model(py_module: ModuleType) -> ModuleModel:
    """Collect, validate and describe the tables and functions ``py_module`` declares."""
    items = collect(py_module)
    policy = _policy(items.declarations)
    convert = to_snake_case if policy is CaseConversionPolicy.SNAKE_CASE else _verbatim
    builder = TypespaceBuilder()
    decls = [d for cls in items.table_classes for d in table_decls(cls)]
    _check_unique([d.accessor for d in decls], "table accessor")
    for cls in items.table_classes:
        prepare_row_class(cls)
        if any(d.scheduled for d in table_decls(cls)):
            _scheduled_id_defaults(cls, builder)
    tables = [_table_model(d, builder, convert) for d in sorted(decls, key=lambda d: d.accessor)]
    _check_unique([t.name for t in tables], "table name")
    scheduled_targets = {t.schedule[0] for t in tables if t.schedule is not None}
    decls_f: list[FunctionDecl] = [f.__stdb_function__ for f in items.functions]  # type: ignore[attr-defined]
    functions = [
        _function_model(d, builder, d.source_name in scheduled_targets, convert)
        for d in sorted(decls_f, key=lambda d: d.source_name)
    ]
    views = view_models(items.views, builder, convert)
    _check_unique([f.source_name for f in functions], "function")
    _check_unique([v.source_name for v in views], "view")
    _check_unique([f.name for f in functions] + [v.name for v in views], "function name")
    rls = tuple(d.sql for d in items.declarations if isinstance(d, ClientVisibilityFilter))
    for kind in _LIFECYCLE_ORDER:
        _check_unique([kind for f in functions if f.lifecycle == kind], "lifecycle reducer")
    known = {f.source_name: f for f in functions}
    for t in tables:
        if t.schedule is not None:
            _check_schedule_target(t, known.get(t.schedule[0]))
    typespace = builder.typespace()
    explicit_policy = policy if any(
        isinstance(d, CaseConversionSetting) for d in items.declarations
    ) else None  # fmt: skip
    raw = _raw_def(tables, functions, views, rls, explicit_policy, builder, typespace)
    return ModuleModel(
        tables=tuple(tables),
        functions=tuple(functions),
        typespace=typespace,
        type_defs=tuple(builder.type_defs),
        bindings=dict(builder.bindings),
        raw_def=raw,
        views=tuple(views),
        row_level_security=rls,
        case_conversion_policy=policy,
    )


def _verbatim(name: str) -> str:
    return name


def _policy(declarations: tuple[Any, ...]) -> CaseConversionPolicy:
    policies = [d.policy for d in declarations if isinstance(d, CaseConversionSetting)]
    if len(policies) > 1:
        raise ModuleDefError("the case-conversion policy is declared more than once")
    return policies[0] if policies else CaseConversionPolicy.SNAKE_CASE


def _check_unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ModuleDefError(f"duplicate {what} {n!r}")
        seen.add(n)


def _scheduled_id_defaults(cls: type, builder: TypespaceBuilder) -> None:
    """In a schedule table, an unmarked ``scheduled_id: int`` is the u64 auto-inc primary key."""
    info = prepare_row_class(cls)
    if "scheduled_id" not in info.fields:
        return
    hints = class_hints(cls)
    if any(_options(info.options, hints, f).primary_key for f in info.fields):
        return
    if hints.get("scheduled_id") is int:
        builder.field_overrides.setdefault(cls, {})["scheduled_id"] = at.U64
    previous = info.options.get("scheduled_id", ColumnOptions())
    info.options["scheduled_id"] = previous | ColumnOptions(primary_key=True, auto_inc=True)


def _options(options: dict[str, ColumnOptions], hints: dict[str, Any], field: str) -> ColumnOptions:
    opts = options.get(field, ColumnOptions())
    from_hint = column_options_in(hints.get(field))
    return opts | from_hint if from_hint is not None else opts


def _table_model(
    decl: TableDecl, builder: TypespaceBuilder, convert: Callable[[str], str]
) -> TableModel:
    cls = decl.cls
    where = f"table {decl.accessor!r}"
    type_ref = builder.register_class(cls, where)
    row_type = builder.typespace_entry(type_ref)
    info = prepare_row_class(cls)
    hints = class_hints(cls)
    columns = tuple(
        ColumnModel(attr=f, name=convert(f), type=el.algebraic_type,
                    options=_options(info.options, hints, f))
        for f, el in zip(info.fields, row_type.elements, strict=True)
    )  # fmt: skip
    pk = [i for i, c in enumerate(columns) if c.options.primary_key]
    if len(pk) > 1:
        raise ModuleDefError(f"{where} declares more than one primary key")
    unique_cols = tuple(
        i for i, c in enumerate(columns) if c.options.primary_key or c.options.unique
    )
    seq_cols = tuple(i for i, c in enumerate(columns) if c.options.auto_inc)
    for i in seq_cols:
        ty = builder.resolve(columns[i].type)
        if not (isinstance(ty, at.PrimitiveType) and ty.name in INTEGER_TYPE_NAMES):
            raise ModuleDefError(f"{where}: auto_inc column {columns[i].attr!r} is not an integer")
    by_attr = {c.attr: i for i, c in enumerate(columns)}
    indexes: list[IndexModel] = []

    def add_index(accessor: str, algorithm: IndexAlgorithm, cols: tuple[int, ...]) -> None:
        fields = "_".join(columns[i].attr for i in cols)
        source = f"{decl.accessor}_{fields}_idx_{algorithm}"
        indexes.append(IndexModel(source, accessor, algorithm, cols))

    for i, c in enumerate(columns):
        if c.options.primary_key or c.options.unique:
            algorithm: IndexAlgorithm = c.options.index or "btree"
            add_index(c.attr, algorithm, (i,))
        elif c.options.index is not None:
            add_index(c.attr, c.options.index, (i,))
    for ti in decl.indexes:
        missing = [n for n in ti.columns if n not in by_attr]
        if missing:
            raise ModuleDefError(
                f"{where}: index {ti.accessor!r} names unknown column(s) {missing}"
            )
        add_index(ti.accessor, ti.algorithm, tuple(by_attr[n] for n in ti.columns))
    _check_unique([ix.accessor for ix in indexes], f"index accessor in {where}")
    schedule = _schedule(decl, columns, pk[0] if pk else None, builder) if decl.scheduled else None
    return TableModel(
        decl=decl,
        cls=cls,
        accessor=decl.accessor,
        name=decl.name or convert(decl.accessor),
        type_ref=type_ref,
        columns=columns,
        primary_key=pk[0] if pk else None,
        unique_columns=unique_cols,
        indexes=tuple(indexes),
        sequence_columns=seq_cols,
        public=decl.public,
        is_event=decl.event,
        schedule=schedule,
    )


def _schedule(
    decl: TableDecl, columns: tuple[ColumnModel, ...], pk: int | None, builder: TypespaceBuilder
) -> tuple[str, int]:
    where = f"schedule table {decl.accessor!r}"
    assert decl.scheduled is not None
    if pk is None or builder.resolve(columns[pk].type) != at.U64:
        raise ModuleDefError(f"{where} needs a u64 primary key (scheduled_id)")
    at_cols = [i for i, c in enumerate(columns) if c.type == at.SCHEDULE_AT]
    if decl.scheduled_at is not None:
        at_cols = [i for i in at_cols if columns[i].attr == decl.scheduled_at]
    elif len(at_cols) > 1:
        at_cols = [i for i in at_cols if columns[i].attr == "scheduled_at"]
    if len(at_cols) != 1:
        raise ModuleDefError(f"{where} needs exactly one ScheduleAt column (scheduled_at)")
    return decl.scheduled, at_cols[0]


def _function_model(
    decl: FunctionDecl, builder: TypespaceBuilder, scheduled: bool, convert: Callable[[str], str]
) -> FunctionModel:
    fn = decl.fn
    where = f"{decl.kind} {decl.source_name!r}"
    params = list(inspect.signature(fn).parameters.values())
    if not params:
        raise ModuleDefError(f"{where} must take the context as its first parameter")
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.KEYWORD_ONLY):
            raise ModuleDefError(f"{where}: parameter {p.name!r} must be positional")
    hints = function_hints(fn)
    elements: list[tuple[str, AlgebraicType]] = []
    for p in params[1:]:
        if p.name not in hints:
            raise ModuleDefError(f"{where}: parameter {p.name!r} has no type annotation")
        elements.append((p.name, builder.type_of(hints[p.name], f"{where} parameter {p.name}")))
    if decl.lifecycle is not None and elements:
        raise ModuleDefError(f"lifecycle reducer {decl.source_name!r} cannot take arguments")
    if decl.kind == "reducer":
        ret = hints.get("return", None)
        if ret is not None and ret is not type(None):
            raise ModuleDefError(f"{where} must return None (raise SenderError to fail)")
        return_type: AlgebraicType = at.UNIT
    else:
        if "return" not in hints:
            raise ModuleDefError(f"{where} needs a return annotation (-> None for no value)")
        return_type = builder.type_of(hints["return"], f"{where} return type")
    return FunctionModel(
        decl=decl,
        fn=fn,
        source_name=decl.source_name,
        name=decl.name or convert(decl.source_name),
        params=at.product_of(elements),
        return_type=return_type,
        private=decl.private or decl.lifecycle is not None or scheduled,
        scheduled=scheduled,
    )


def _check_schedule_target(table: TableModel, fn: FunctionModel | None) -> None:
    assert table.schedule is not None
    target = table.schedule[0]
    if fn is None:
        raise ModuleDefError(f"schedule table {table.accessor!r} names unknown function {target!r}")
    types = [e.algebraic_type for e in fn.params.elements]
    if types != [RefType(table.type_ref)]:
        raise ModuleDefError(
            f"scheduled function {target!r} must take exactly one argument: a "
            f"{table.cls.__name__} row"
        )


# ================================================================================== the raw def


def _algorithm(ix: IndexModel) -> RawIndexAlgorithm:
    if ix.algorithm == "btree":
        return RawIndexAlgorithmBTree(ix.columns)
    if ix.algorithm == "hash":
        return RawIndexAlgorithmHash(ix.columns)
    return RawIndexAlgorithmDirect(ix.columns[0])


def _raw_table(t: TableModel, builder: TypespaceBuilder, typespace: Typespace) -> RawTableDefV10:
    defaults = []
    for i, c in enumerate(t.columns):
        if c.options.has_default:
            codec = compile_codec(c.type, typespace, builder.bindings)
            defaults.append(RawColumnDefaultValueV10(i, codec.encode(c.options.default)))
    return RawTableDefV10(
        source_name=t.accessor,
        product_type_ref=t.type_ref,
        primary_key=() if t.primary_key is None else (t.primary_key,),
        indexes=tuple(
            RawIndexDefV10(ix.source_name, ix.accessor, _algorithm(ix)) for ix in t.indexes
        ),
        constraints=tuple(
            RawConstraintDefV10(None, RawUniqueConstraintDataV9((i,))) for i in t.unique_columns
        ),
        sequences=tuple(
            RawSequenceDefV10(None, i, None, None, None, 1) for i in t.sequence_columns
        ),
        table_type=TableType.USER,
        table_access=TableAccess.PUBLIC if t.public else TableAccess.PRIVATE,
        default_values=tuple(defaults),
        is_event=t.is_event,
    )


def _visibility(f: FunctionModel) -> FunctionVisibility:
    return FunctionVisibility.PRIVATE if f.private else FunctionVisibility.CLIENT_CALLABLE


def _raw_def(
    tables: list[TableModel],
    functions: list[FunctionModel],
    views: list[ViewModel],
    rls: tuple[str, ...],
    policy: CaseConversionPolicy | None,
    builder: TypespaceBuilder,
    typespace: Typespace,
) -> RawModuleDefV10:
    sections: list[RawModuleDefV10Section] = [
        TypespaceSection(typespace),
        TypesSection(
            tuple(
                RawTypeDefV10(RawScopedTypeNameV10((), name), index, True)
                for name, index in builder.type_defs
            )
        ),
        TablesSection(tuple(_raw_table(t, builder, typespace) for t in tables)),
        ReducersSection(
            tuple(
                RawReducerDefV10(f.source_name, f.params, _visibility(f), at.UNIT, at.STRING)
                for f in functions
                if f.is_reducer
            )
        ),
    ]
    procedures = tuple(
        RawProcedureDefV10(f.source_name, f.params, f.return_type, _visibility(f))
        for f in functions
        if not f.is_reducer
    )
    if procedures:
        sections.append(ProceduresSection(procedures))
    if views:
        sections.append(
            ViewsSection(
                tuple(
                    RawViewDefV10(v.source_name, v.index, v.is_public, v.is_anonymous, v.params,
                                  v.return_type)
                    for v in views
                )
            )
        )  # fmt: skip
    view_pks = tuple(
        RawViewPrimaryKeyDefV10(v.source_name, (v.decl.primary_key,))
        for v in views
        if v.decl.primary_key is not None
    )
    if view_pks:
        sections.append(ViewPrimaryKeysSection(view_pks))
    schedules = tuple(
        RawScheduleDefV10(None, t.accessor, t.schedule[1], t.schedule[0])
        for t in tables
        if t.schedule is not None
    )
    if schedules:
        sections.append(SchedulesSection(schedules))
    lifecycle = tuple(
        RawLifeCycleReducerDefV10(_LIFECYCLES[kind], f.source_name)
        for kind in _LIFECYCLE_ORDER
        for f in functions
        if f.lifecycle == kind
    )
    if lifecycle:
        sections.append(LifeCycleReducersSection(lifecycle))
    if rls:
        sections.append(RowLevelSecuritySection(tuple(RawRowLevelSecurityDefV9(q) for q in rls)))
    if policy is not None:
        sections.append(CaseConversionPolicySection(policy))
    entries: list[ExplicitTableName | ExplicitFunctionName] = [
        ExplicitTableName(t.accessor, t.decl.name) for t in tables if t.decl.name is not None
    ]
    entries.extend(
        ExplicitFunctionName(f.source_name, f.decl.name)
        for f in functions
        if f.decl.name is not None
    )
    entries.extend(
        ExplicitFunctionName(v.source_name, v.decl.name) for v in views if v.decl.name is not None
    )
    sections.append(ExplicitNamesSection(ExplicitNames(tuple(entries))))
    return RawModuleDefV10(tuple(sections))
