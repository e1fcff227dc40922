"""What gets generated, and under which Python names: the code-generation plan.

:func:`build_plan` selects the items of a :class:`~spacetimedb_sdk.schema.ModuleSchema` the
way the official generators do (docs/module-def.md#what-is-generated) and fixes every Python name once, so the
file emitters (and dynamic mode) only format. Selection:

* tables: public ones (``include_private`` adds private ones), sorted by canonical name, then
  views sorted by canonical name;
* reducers: client-callable ones in module order; ``include_private`` adds private and
  scheduled ones, and gives lifecycle reducers their reducer module (no call method: the server
  refuses direct calls to them);
* procedures: client-callable ones sorted by canonical name (``include_private`` adds the rest);
* types: every type definition sorted by canonical scoped name, except the parameter types
  TypeScript modules register under a reducer's name (the TS generator's rule), unless
  something generated refers to them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from spacetimedb_sdk.algebraic_type import (
    UNIT,
    AlgebraicType,
    ArrayType,
    PrimitiveType,
    ProductType,
    RefType,
    SumType,
    special_kind,
)
from spacetimedb_sdk.case_conversion import to_pascal_case
from spacetimedb_sdk.codegen.naming import (
    ANNOTATION_BUILTINS,
    NameAllocator,
    class_name,
    file_stem,
    is_identifier,
    snake_identifier,
)
from spacetimedb_sdk.codegen.type_render import TypeRenderer
from spacetimedb_sdk.raw_module_def import Lifecycle
from spacetimedb_sdk.schema import (
    ColumnSchema,
    ModuleSchema,
    ParamSchema,
    ProcedureSchema,
    ReducerSchema,
    TableSchema,
    TypeSchema,
    ViewSchema,
)
from spacetimedb_sdk.schema.accessors import index_accessors

__all__ = [
    "CodegenPlan",
    "EnumMemberPlan",
    "EnumTypePlan",
    "FieldPlan",
    "IndexAccessorPlan",
    "LegacyFilterPlan",
    "ProcedurePlan",
    "ProductTypePlan",
    "ReducerPlan",
    "SumTypePlan",
    "TablePlan",
    "TypePlan",
    "VariantPlan",
    "build_plan",
]

#: Names the generated ``__init__`` defines; no generated class may take them.
INIT_NAMES: Final = frozenset(
    {
        "BINDINGS",
        "DbConnection",
        "LEGACY_REDUCER_MODULES",
        "LEGACY_ROW_CLASSES",
        "REMOTE_MODULE",
        "RemoteProcedures",
        "RemoteReducers",
        "RemoteTables",
        "SCHEMA",
    }
)

#: Members of the runtime table handles a generated index property must not hide.
HANDLE_MEMBERS: Final = frozenset(
    {
        "count",
        "index",
        "iter",
        "on_delete",
        "on_insert",
        "on_update",
        "remote_query",
        "remove_on_delete",
        "remove_on_insert",
        "remove_on_update",
        "table_name",
        "unique",
    }
)

#: Public members of ``conn.db`` (``RemoteTablesBase``).
TABLES_MEMBERS: Final = frozenset({"table"})

#: Public members of ``conn.reducers`` (``RemoteReducersBase``).
REDUCERS_MEMBERS: Final = frozenset({"call", "on_result", "remove_on_result"})

#: Public members of ``conn.procedures`` (``RemoteProceduresBase``).
PROCEDURES_MEMBERS: Final = frozenset({"call"})

#: Members the legacy row classes define (a column of the same name wins over them).
LEGACY_MEMBERS: Final = frozenset(
    {"data", "is_table_class", "primary_key", "register_row_update", "iter"}
)

#: Module names the generated package reserves.
RESERVED_MODULES: Final = frozenset({"__init__", "types", "_module_def", "__main__"})

#: Names a reducer module defines besides the legacy call function.
REDUCER_MODULE_NAMES: Final = frozenset({"reducer_name", "PARAMS", "REDUCER_NAME"})

TableKind = Literal["table", "view"]
HandleBase = Literal["TableHandle", "TableWithPrimaryKeyHandle", "EventTableHandle"]


@dataclass(frozen=True)
class FieldPlan:
    """A field of a product class, a column or a parameter."""

    #: Python attribute / parameter name.
    attr: str
    #: Canonical (wire) name.
    wire_name: str
    algebraic_type: AlgebraicType
    annotation: str
    #: Generated class names the annotation mentions.
    uses: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ProductTypePlan:
    """A named product: a slotted dataclass."""

    class_name: str
    ref: int
    #: The module's name for the type (``Scope.Name``), for docs.
    display_name: str
    fields: tuple[FieldPlan, ...]
    uses: frozenset[str]
    #: Synthesised for a table/view row type that the module did not name.
    synthetic: bool = False


@dataclass(frozen=True)
class VariantPlan:
    """A variant of a sum with a payload class per variant."""

    class_name: str
    #: Attribute on the sum's base class (``Shape.Circle``).
    attr: str
    wire_name: str
    tag: int
    #: None for a unit variant.
    payload: AlgebraicType | None
    annotation: str | None


@dataclass(frozen=True)
class SumTypePlan:
    """A named sum with payloads: a base class and one dataclass per variant."""

    class_name: str
    ref: int
    display_name: str
    variants: tuple[VariantPlan, ...]
    uses: frozenset[str]


@dataclass(frozen=True)
class EnumMemberPlan:
    """A member of a plain enum."""

    name: str
    wire_name: str
    tag: int


@dataclass(frozen=True)
class EnumTypePlan:
    """A named sum whose variants are all unit: an ``enum.Enum``."""

    class_name: str
    ref: int
    display_name: str
    members: tuple[EnumMemberPlan, ...]
    uses: frozenset[str] = frozenset()


TypePlan = ProductTypePlan | SumTypePlan | EnumTypePlan


@dataclass(frozen=True)
class IndexAccessorPlan:
    """A typed index property on a table handle."""

    attr: str
    kind: Literal["unique", "btree"]
    #: Canonical column name (unique) or canonical index name (btree).
    target: str
    key_annotation: str
    #: Canonical names of the indexed columns, for docs.
    columns: tuple[str, ...]
    uses: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LegacyFilterPlan:
    """A legacy ``filter_by_<col>`` classmethod."""

    method: str
    field: FieldPlan
    unique: bool


@dataclass(frozen=True)
class TablePlan:
    """A table or view: row class, typed handle, legacy class."""

    kind: TableKind
    wire_name: str
    accessor: str
    #: Property on ``conn.db``.
    attr: str
    #: Module (file stem) holding the handle class.
    module: str
    handle_class: str
    handle_base: HandleBase
    row_class: str
    row_ref: int
    fields: tuple[FieldPlan, ...]
    primary_key: FieldPlan | None
    is_event: bool
    is_public: bool
    indexes: tuple[IndexAccessorPlan, ...]
    uses: frozenset[str]
    #: Legacy module (None when its file name is taken by a generated module).
    legacy_module: str | None
    legacy_class: str
    legacy_filters: tuple[LegacyFilterPlan, ...]
    #: Legacy members left out because a column has the same name.
    legacy_skipped: tuple[str, ...]


@dataclass(frozen=True)
class ReducerPlan:
    """A reducer: typed call, params class, reducer module (modern + legacy)."""

    wire_name: str
    accessor: str
    #: Method on ``conn.reducers`` and name of the legacy call function.
    method: str
    module: str
    params: tuple[FieldPlan, ...]
    params_type: ProductType
    params_class: str
    #: False for lifecycle reducers: generated as modules, not as connection methods.
    callable: bool
    lifecycle: str | None
    is_scheduled: bool
    is_private: bool
    uses: frozenset[str]


@dataclass(frozen=True)
class ProcedurePlan:
    """A procedure: typed call returning the decoded value."""

    wire_name: str
    accessor: str
    method: str
    module: str
    params: tuple[FieldPlan, ...]
    params_type: ProductType
    return_type: AlgebraicType
    return_annotation: str
    args_class: str
    result_alias: str
    is_private: bool
    uses: frozenset[str]


@dataclass(frozen=True)
class CodegenPlan:
    """Everything the emitters need, with all Python names fixed."""

    schema: ModuleSchema
    include_private: bool
    types: tuple[TypePlan, ...]
    tables: tuple[TablePlan, ...]
    reducers: tuple[ReducerPlan, ...]
    procedures: tuple[ProcedurePlan, ...]
    #: Typespace index -> generated class (the bindings).
    class_names: Mapping[int, str]
    #: Legacy table modules dropped because a generated module took their file name.
    legacy_conflicts: tuple[str, ...] = field(default=())

    def renderer(self) -> TypeRenderer:
        """A fresh renderer for this module."""
        return TypeRenderer(self.schema.typespace, self.class_names)


# ====================================================================================== build


def _refs_in(ty: AlgebraicType) -> Iterator[int]:
    if isinstance(ty, RefType):
        yield ty.index
    elif isinstance(ty, ProductType):
        for e in ty.elements:
            yield from _refs_in(e.algebraic_type)
    elif isinstance(ty, SumType):
        for v in ty.variants:
            yield from _refs_in(v.algebraic_type)
    elif isinstance(ty, ArrayType):
        yield from _refs_in(ty.element)


def _reachable(schema: ModuleSchema, roots: Iterable[int]) -> set[int]:
    seen: set[int] = set()
    stack = list(roots)
    types = schema.typespace.types
    while stack:
        ref = stack.pop()
        if ref in seen or not 0 <= ref < len(types):
            continue
        seen.add(ref)
        stack.extend(_refs_in(types[ref]))
    return seen


def _is_definition(ty: AlgebraicType) -> bool:
    """A typespace entry that gets a class: a non-special product or sum."""
    return isinstance(ty, (ProductType, SumType)) and special_kind(ty) is None


def _is_named_definition(ty: AlgebraicType) -> bool:
    """A typespace entry named in ``Types`` that gets a class: a definition, or a product
    without fields (a unit struct: the official generators keep its name)."""
    return _is_definition(ty) or (isinstance(ty, ProductType) and not ty.elements)


class _Builder:
    def __init__(self, schema: ModuleSchema, include_private: bool) -> None:
        self.schema = schema
        self.include_private = include_private
        self.classes = NameAllocator(INIT_NAMES)
        self.modules = NameAllocator(RESERVED_MODULES)
        self.class_names: dict[int, str] = {}

    # ----------------------------------------------------------------------- selection
    def selected_tables(self) -> list[TableSchema]:
        tables = [t for t in self.schema.tables if t.is_public or self.include_private]
        return sorted(tables, key=lambda t: t.name)

    def selected_views(self) -> list[ViewSchema]:
        return sorted(self.schema.views, key=lambda v: v.name)

    def selected_reducers(self) -> list[ReducerSchema]:
        return [
            r
            for r in self.schema.reducers
            if self.include_private
            or (r.lifecycle is None and r.is_client_callable and not r.is_scheduled)
        ]

    def selected_procedures(self) -> list[ProcedureSchema]:
        procs = [
            p
            for p in self.schema.procedures
            if self.include_private or (p.is_client_callable and not p.is_scheduled)
        ]
        return sorted(procs, key=lambda p: p.name)

    def selected_types(
        self,
        tables: list[TableSchema],
        views: list[ViewSchema],
        reducers: list[ReducerSchema],
        procedures: list[ProcedureSchema],
    ) -> list[TypeSchema]:
        # Some libraries (the TypeScript one) also declare each function's parameter list as
        # a named type; those are kept only where something else uses them.
        reducer_names = {
            to_pascal_case(accessor)
            for accessor in (
                *(r.accessor_name for r in self.schema.reducers),
                *(v.accessor_name for v in self.schema.views),
                *(p.accessor_name for p in self.schema.procedures),
            )
        }
        candidates = [t for t in self.schema.types if class_name(t.name.name) in reducer_names]
        candidate_refs = {t.ref for t in candidates}
        roots: list[int] = [t.product_type_ref for t in tables]
        roots += [v.product_type_ref for v in views]
        for r in reducers:
            roots += _refs_in(r.params_type)
        for p in procedures:
            roots += _refs_in(p.params_type)
            roots += _refs_in(p.return_type)
        roots += [t.ref for t in self.schema.types if t.ref not in candidate_refs]
        reachable = _reachable(self.schema, roots)
        kept = [t for t in self.schema.types if t not in candidates or t.ref in reachable]
        return sorted(kept, key=lambda t: t.name)

    # --------------------------------------------------------------------------- naming
    def name_classes(
        self, types: list[TypeSchema], tables: list[TableSchema], views: list[ViewSchema]
    ) -> None:
        """Type definitions first (they get their own names), then synthesised row classes."""
        typespace = self.schema.typespace.types
        for t in types:
            if t.ref in self.class_names or not _is_named_definition(typespace[t.ref]):
                continue
            self.class_names[t.ref] = self.classes.take(
                class_name(*t.name.scope, t.name.name), suffix=""
            )
        owners: list[TableSchema | ViewSchema] = [*tables, *views]
        for owner in owners:
            ref = owner.product_type_ref
            if ref not in self.class_names and _is_definition(typespace[ref]):
                self.class_names[ref] = self.classes.take(
                    class_name(owner.accessor_name) + "Row", suffix=""
                )
        # Anything else generated code can reach through a Ref needs a class too.
        roots: list[int] = []
        for r in self.schema.reducers:
            roots += _refs_in(r.params_type)
        for p in self.schema.procedures:
            roots += _refs_in(p.params_type)
            roots += _refs_in(p.return_type)
        roots += self.class_names
        for ref in sorted(_reachable(self.schema, roots)):
            if ref not in self.class_names and _is_definition(typespace[ref]):
                self.class_names[ref] = self.classes.take(f"AnonymousType{ref}", suffix="")

    def is_plain_enum(self, ty: AlgebraicType) -> bool:
        renderer = TypeRenderer(self.schema.typespace, self.class_names)
        resolved = renderer.resolve_alias(ty)
        if not isinstance(resolved, RefType):
            return False
        target = self.schema.typespace.types[resolved.index]
        return (
            isinstance(target, SumType) and special_kind(target) is None and target.is_plain_enum()
        )

    def renderer(self) -> TypeRenderer:
        return TypeRenderer(self.schema.typespace, self.class_names)

    def field_plans(
        self, items: Iterable[tuple[str, AlgebraicType]], extra_reserved: Iterable[str] = ()
    ) -> tuple[tuple[FieldPlan, ...], frozenset[str]]:
        """Fields with unique attribute names; also the class names the annotations use."""
        reserved = {*ANNOTATION_BUILTINS, *self.class_names.values(), *extra_reserved}
        names = NameAllocator(reserved)
        out = []
        for wire, ty in items:
            attr = names.take(snake_identifier(wire, avoid=reserved))
            renderer = self.renderer()
            annotation = renderer.annotation(ty)
            out.append(FieldPlan(attr, wire, ty, annotation, frozenset(renderer.used)))
        return tuple(out), frozenset().union(*(f.uses for f in out))

    # ---------------------------------------------------------------------------- types
    def definition_plan(self, ref: int, display: str, *, synthetic: bool = False) -> TypePlan:
        """The class(es) for the type definition at ``ref``."""
        ty = self.schema.typespace.types[ref]
        name = self.class_names[ref]
        if isinstance(ty, ProductType):
            fields, uses = self.field_plans(
                (e.name or f"field_{i}", e.algebraic_type) for i, e in enumerate(ty.elements)
            )
            return ProductTypePlan(name, ref, display, fields, uses, synthetic=synthetic)
        assert isinstance(ty, SumType)
        if ty.is_plain_enum():
            members = NameAllocator(suffix="_")
            return EnumTypePlan(
                name,
                ref,
                display,
                tuple(
                    EnumMemberPlan(
                        members.take(class_name(v.name or f"variant{i}")), v.name or "", i
                    )
                    for i, v in enumerate(ty.variants)
                ),
            )
        return self.sum_plan(name, ref, display, ty)

    def sum_plan(self, name: str, ref: int, display: str, ty: SumType) -> SumTypePlan:
        renderer = self.renderer()
        attrs = NameAllocator({"TAG"}, suffix="_")
        variants = []
        for i, v in enumerate(ty.variants):
            wire = v.name or f"variant{i}"
            attr = attrs.take(class_name(wire))
            cls = self.classes.take(name + attr, suffix="Variant")
            payload = None if v.algebraic_type == UNIT else v.algebraic_type
            annotation = None if payload is None else renderer.annotation(payload)
            variants.append(VariantPlan(cls, attr, wire, i, payload, annotation))
        return SumTypePlan(name, ref, display, tuple(variants), frozenset(renderer.used))

    # --------------------------------------------------------------------------- tables
    def table_plan(
        self,
        item: TableSchema | ViewSchema,
        db_attrs: NameAllocator,
        legacy_stems: list[str],
    ) -> TablePlan:
        kind: TableKind = "table" if isinstance(item, TableSchema) else "view"
        columns: tuple[ColumnSchema, ...] = item.columns
        fields, uses = self.field_plans((c.name, c.algebraic_type) for c in columns)
        by_position = {c.position: f for c, f in zip(columns, fields, strict=True)}
        pk = None if item.primary_key is None else by_position[item.primary_key]
        is_event = isinstance(item, TableSchema) and item.is_event
        base: HandleBase
        if is_event:
            base = "EventTableHandle"
        elif pk is not None:
            base = "TableWithPrimaryKeyHandle"
        else:
            base = "TableHandle"
        accessors: list[IndexAccessorPlan] = []
        unique_cols: set[int] = set()
        if isinstance(item, TableSchema):
            unique_cols = {c.columns[0] for c in item.constraints if len(c.columns) == 1}
            if not is_event:
                accessors = self.index_plans(item, by_position)
        legacy_filters, legacy_skipped = self.legacy_filters(fields, by_position, unique_cols)
        accessor = item.accessor_name
        stem = file_stem(accessor)
        module = self.modules.take(f"{stem}_table")
        legacy_stems.append(stem)
        return TablePlan(
            kind=kind,
            wire_name=item.name,
            accessor=accessor,
            attr=db_attrs.take(snake_identifier(accessor)),
            module=module,
            handle_class=self.classes.take(class_name(accessor) + "Table", suffix=""),
            handle_base=base,
            row_class=self.class_names[item.product_type_ref],
            row_ref=item.product_type_ref,
            fields=fields,
            primary_key=pk,
            is_event=is_event,
            is_public=item.is_public,
            indexes=tuple(accessors),
            uses=uses | {self.class_names[item.product_type_ref]},
            legacy_module=None,
            legacy_class=class_name(accessor),
            legacy_filters=legacy_filters,
            legacy_skipped=legacy_skipped,
        )

    def index_plans(
        self, table: TableSchema, by_position: Mapping[int, FieldPlan]
    ) -> list[IndexAccessorPlan]:
        """The typed properties of :func:`~spacetimedb_sdk.schema.accessors.index_accessors`."""
        attrs = NameAllocator(HANDLE_MEMBERS)
        out: list[IndexAccessorPlan] = []
        for accessor in index_accessors(table, self.is_plain_enum):
            cols = [by_position[c] for c in accessor.columns]
            if len(cols) == 1:
                key = cols[0].annotation
            else:
                key = f"tuple[{', '.join(c.annotation for c in cols)}]"
            out.append(
                IndexAccessorPlan(
                    attr=attrs.take(snake_identifier(accessor.name)),
                    kind=accessor.kind,
                    target=accessor.target,
                    key_annotation=key,
                    columns=tuple(c.wire_name for c in cols),
                    uses=frozenset().union(*(c.uses for c in cols)),
                )
            )
        return out

    def legacy_filters(
        self,
        fields: tuple[FieldPlan, ...],
        by_position: Mapping[int, FieldPlan],
        unique_cols: set[int],
    ) -> tuple[tuple[LegacyFilterPlan, ...], tuple[str, ...]]:
        attrs = {f.attr for f in fields}
        skipped = sorted(LEGACY_MEMBERS & attrs)
        filters = []
        for pos, f in sorted(by_position.items()):
            method = f"filter_by_{f.attr.rstrip('_')}"
            if not is_identifier(method):
                method = f"filter_by_{f.attr}"
            if not _legacy_filterable(f.algebraic_type):
                continue
            if method in attrs:
                skipped.append(method)
                continue
            filters.append(LegacyFilterPlan(method, f, pos in unique_cols))
        return tuple(filters), tuple(skipped)

    # ------------------------------------------------------------------------ functions
    def params(
        self, params: tuple[ParamSchema, ...]
    ) -> tuple[tuple[FieldPlan, ...], frozenset[str]]:
        return self.field_plans(
            ((p.canonical_name, p.algebraic_type) for p in params), extra_reserved={"self"}
        )

    def reducer_plan(self, r: ReducerSchema, methods: NameAllocator) -> ReducerPlan:
        params, uses = self.params(r.params)
        method = methods.take(snake_identifier(r.accessor_name, avoid=REDUCER_MODULE_NAMES))
        return ReducerPlan(
            wire_name=r.name,
            accessor=r.accessor_name,
            method=method,
            module=self.modules.take(f"{file_stem(r.accessor_name)}_reducer"),
            params=params,
            params_type=r.params_type,
            params_class=self.classes.take(class_name(r.accessor_name) + "Params", suffix=""),
            callable=r.lifecycle is None,
            lifecycle=None if r.lifecycle is None else _LIFECYCLE_NAMES[r.lifecycle],
            is_scheduled=r.is_scheduled,
            is_private=not r.is_client_callable or r.is_scheduled,
            uses=uses,
        )

    def procedure_plan(self, p: ProcedureSchema, methods: NameAllocator) -> ProcedurePlan:
        params, uses = self.params(p.params)
        renderer = self.renderer()
        ret = renderer.annotation(p.return_type)
        pascal = class_name(p.accessor_name)
        return ProcedurePlan(
            wire_name=p.name,
            accessor=p.accessor_name,
            method=methods.take(snake_identifier(p.accessor_name)),
            module=self.modules.take(f"{file_stem(p.accessor_name)}_procedure"),
            params=params,
            params_type=p.params_type,
            return_type=p.return_type,
            return_annotation=ret,
            args_class=self.classes.take(pascal + "Args", suffix=""),
            result_alias=self.classes.take(pascal + "Result", suffix=""),
            is_private=not p.is_client_callable or p.is_scheduled,
            uses=uses | renderer.used,
        )


_LIFECYCLE_NAMES: Final = {
    Lifecycle.INIT: "init",
    Lifecycle.ON_CONNECT: "client_connected",
    Lifecycle.ON_DISCONNECT: "client_disconnected",
}


def _legacy_filterable(ty: AlgebraicType) -> bool:
    """The 0.7 generator's rule: no filter for refs, non-special products, non-option sums
    and arrays of non-builtins."""
    if isinstance(ty, PrimitiveType):
        return True
    kind = special_kind(ty)
    if kind in ("identity", "connection_id", "timestamp", "time_duration", "uuid", "bytes"):
        return True
    if kind == "option":
        assert isinstance(ty, SumType)
        return _legacy_filterable(ty.variants[0].algebraic_type)
    if isinstance(ty, ArrayType):
        return isinstance(ty.element, PrimitiveType)
    return False


def build_plan(schema: ModuleSchema, *, include_private: bool = False) -> CodegenPlan:
    """Select what to generate from ``schema`` and name everything."""
    b = _Builder(schema, include_private)
    tables = b.selected_tables()
    views = b.selected_views()
    reducers = b.selected_reducers()
    procedures = b.selected_procedures()
    types = b.selected_types(tables, views, reducers, procedures)
    b.name_classes(types, tables, views)

    type_plans: list[TypePlan] = []
    planned: set[int] = set()
    for t in types:
        if t.ref in b.class_names and t.ref not in planned:
            planned.add(t.ref)
            type_plans.append(b.definition_plan(t.ref, str(t.name)))
    owner_items: list[TableSchema | ViewSchema] = [*tables, *views]
    owners = {o.product_type_ref: o.accessor_name for o in owner_items}
    for ref in sorted(b.class_names):
        if ref not in planned:
            planned.add(ref)
            owner = owners.get(ref)
            display = f"row of {owner}" if owner else f"typespace entry {ref}"
            type_plans.append(b.definition_plan(ref, display, synthetic=True))

    db_attrs = NameAllocator(TABLES_MEMBERS)
    legacy_stems: list[str] = []
    table_plans = [b.table_plan(t, db_attrs, legacy_stems) for t in tables]
    table_plans += [b.table_plan(v, db_attrs, legacy_stems) for v in views]

    reducer_methods = NameAllocator(REDUCERS_MEMBERS)
    reducer_plans = [b.reducer_plan(r, reducer_methods) for r in reducers]
    procedure_methods = NameAllocator(PROCEDURES_MEMBERS)
    procedure_plans = [b.procedure_plan(p, procedure_methods) for p in procedures]

    # Legacy table modules come last: every modern module keeps its name.
    conflicts: list[str] = []
    final_tables = []
    for plan, stem in zip(table_plans, legacy_stems, strict=True):
        if stem in b.modules:
            conflicts.append(stem)
            final_tables.append(plan)
            continue
        b.modules.reserve(stem)
        final_tables.append(dataclasses.replace(plan, legacy_module=stem))

    return CodegenPlan(
        schema=schema,
        include_private=include_private,
        types=tuple(type_plans),
        tables=tuple(final_tables),
        reducers=tuple(reducer_plans),
        procedures=tuple(procedure_plans),
        class_names=dict(b.class_names),
        legacy_conflicts=tuple(conflicts),
    )
