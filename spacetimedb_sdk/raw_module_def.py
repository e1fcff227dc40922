"""``RawModuleDef``: the module definition exactly as it travels (MODULE_DEF.md §1, §2).

Every raw type is a frozen dataclass whose attributes carry the Rust field names, so the
SATS-JSON keys are the attribute names. The wire layout is declared once, as SATS types in a
private "meta" typespace (``AlgebraicType`` itself included: a recursive sum expressed with refs),
and the dataclasses are bound to it with :class:`~spacetimedb_sdk.bsatn.ProductBinding` /
:class:`~spacetimedb_sdk.bsatn.SumBinding`. The same declaration therefore drives the compiled
BSATN codec and the SATS-JSON reader/writer, and both directions round-trip byte for byte.

Entry points: :func:`decode_raw_module_def`, :func:`encode_raw_module_def`,
:func:`raw_module_def_from_json`, :func:`raw_module_def_to_json`. ``V8BackCompat`` is rejected with
:class:`~spacetimedb_sdk.errors.ModuleDefError`; no 2.x binding emits it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Final, TypeAlias, TypeVar

from spacetimedb_sdk.algebraic_type import (
    BOOL,
    I128,
    PRIMITIVES,
    STRING,
    U8,
    U16,
    U32,
    UNIT,
    AlgebraicType,
    ArrayType,
    PrimitiveType,
    ProductType,
    ProductTypeElement,
    RefType,
    SumType,
    SumTypeVariant,
    Typespace,
    array,
    option,
    product_of,
    sum_of,
)
from spacetimedb_sdk.bsatn import BsatnCodec, ProductBinding, SumBinding, compile_codec
from spacetimedb_sdk.errors import BsatnDecodeError, ModuleDefError, SatsJsonError, SpacetimeDBError
from spacetimedb_sdk.sats_json import value_from_json, value_to_json

__all__ = [
    "ANY_METHOD",
    "AnyMethod",
    "CaseConversionPolicy",
    "CaseConversionPolicySection",
    "ExplicitFunctionName",
    "ExplicitIndexName",
    "ExplicitNameEntry",
    "ExplicitNames",
    "ExplicitNamesSection",
    "ExplicitTableName",
    "FunctionVisibility",
    "HttpHandlersSection",
    "HttpMethod",
    "HttpMethodExtension",
    "HttpRoutesSection",
    "LifeCycleReducersSection",
    "Lifecycle",
    "MethodOrAny",
    "ProceduresSection",
    "RawColumnDefaultValueV9",
    "RawColumnDefaultValueV10",
    "RawConstraintDataV9",
    "RawConstraintDefV9",
    "RawConstraintDefV10",
    "RawHttpHandlerDefV10",
    "RawHttpRouteDefV10",
    "RawIndexAlgorithm",
    "RawIndexAlgorithmBTree",
    "RawIndexAlgorithmDirect",
    "RawIndexAlgorithmHash",
    "RawIndexDefV9",
    "RawIndexDefV10",
    "RawLifeCycleReducerDefV10",
    "RawMiscModuleExportV9",
    "RawModuleDef",
    "RawModuleDefV9",
    "RawModuleDefV10",
    "RawModuleDefV10Section",
    "RawProcedureDefV9",
    "RawProcedureDefV10",
    "RawReducerDefV9",
    "RawReducerDefV10",
    "RawRowLevelSecurityDefV9",
    "RawScheduleDefV9",
    "RawScheduleDefV10",
    "RawScopedTypeNameV9",
    "RawScopedTypeNameV10",
    "RawSequenceDefV9",
    "RawSequenceDefV10",
    "RawSubmoduleV10",
    "RawTableDefV9",
    "RawTableDefV10",
    "RawTypeDefV9",
    "RawTypeDefV10",
    "RawUniqueConstraintDataV9",
    "RawViewDefV9",
    "RawViewDefV10",
    "RawViewPrimaryKeyDefV10",
    "ReducersSection",
    "RowLevelSecuritySection",
    "SchedulesSection",
    "SubmodulesSection",
    "TableAccess",
    "TableType",
    "TablesSection",
    "TypesSection",
    "TypespaceSection",
    "ViewPrimaryKeysSection",
    "ViewsSection",
    "algebraic_type_codec",
    "decode_raw_module_def",
    "encode_raw_module_def",
    "meta_typespace",
    "raw_module_def_from_json",
    "raw_module_def_to_json",
]


# ----------------------------------------------------------------------------------- unit enums


class TableType(Enum):
    """``TableType``: system tables (``st_*``) or user tables."""

    SYSTEM = 0
    USER = 1


class TableAccess(Enum):
    """``TableAccess``: whether any client may subscribe to the table."""

    PUBLIC = 0
    PRIVATE = 1


class Lifecycle(Enum):
    """``Lifecycle``: the special roles a reducer can play."""

    INIT = 0
    ON_CONNECT = 1
    ON_DISCONNECT = 2


class FunctionVisibility(Enum):
    """``FunctionVisibility``: ``PRIVATE`` functions are not callable by ordinary clients."""

    PRIVATE = 0
    CLIENT_CALLABLE = 1


class CaseConversionPolicy(Enum):
    """``CaseConversionPolicy``: ``NONE`` keeps names verbatim; ``SNAKE_CASE`` is the default."""

    NONE = 0
    SNAKE_CASE = 1


class HttpMethod(Enum):
    """The standard HTTP methods of ``Method`` (``Extension`` is :class:`HttpMethodExtension`)."""

    GET = 0
    HEAD = 1
    POST = 2
    PUT = 3
    DELETE = 4
    CONNECT = 5
    OPTIONS = 6
    TRACE = 7
    PATCH = 8


# Wire (variant) names of the unit enums, in tag order.
_ENUM_WIRE_NAMES: Final[dict[type[Enum], tuple[str, ...]]] = {
    TableType: ("System", "User"),
    TableAccess: ("Public", "Private"),
    Lifecycle: ("Init", "OnConnect", "OnDisconnect"),
    FunctionVisibility: ("Private", "ClientCallable"),
    CaseConversionPolicy: ("None", "SnakeCase"),
    HttpMethod: ("Get", "Head", "Post", "Put", "Delete", "Connect", "Options", "Trace", "Patch"),
}


@dataclass(frozen=True, slots=True)
class HttpMethodExtension:
    """``Method::Extension(name)``: a non-standard HTTP method."""

    name: str


@dataclass(frozen=True, slots=True)
class AnyMethod:
    """``MethodOrAny::Any``: a route that matches every method."""


ANY_METHOD: Final = AnyMethod()

MethodOrAny: TypeAlias = "AnyMethod | HttpMethod | HttpMethodExtension"

# ----------------------------------------------------------------------------------- shared parts


@dataclass(frozen=True, slots=True)
class RawIndexAlgorithmBTree:
    """``RawIndexAlgorithm::BTree { columns }`` (ordered column list)."""

    columns: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RawIndexAlgorithmHash:
    """``RawIndexAlgorithm::Hash { columns }`` (ordered column list)."""

    columns: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RawIndexAlgorithmDirect:
    """``RawIndexAlgorithm::Direct { column }`` (a single small-integer or plain-enum column)."""

    column: int


RawIndexAlgorithm: TypeAlias = (
    "RawIndexAlgorithmBTree | RawIndexAlgorithmHash | RawIndexAlgorithmDirect"
)


@dataclass(frozen=True, slots=True)
class RawUniqueConstraintDataV9:
    """``RawUniqueConstraintDataV9``: the columns (a set) that must be unique together."""

    columns: tuple[int, ...]


#: ``RawConstraintDataV9`` has a single variant, ``Unique``; it is represented by its payload.
RawConstraintDataV9: TypeAlias = RawUniqueConstraintDataV9


@dataclass(frozen=True, slots=True)
class RawRowLevelSecurityDefV9:
    """A row-level-security rule (shared by V9 and V10)."""

    sql: str


# ------------------------------------------------------------------------------------------- V9


@dataclass(frozen=True, slots=True)
class RawScopedTypeNameV9:
    """A type name with its scope (module path) segments."""

    scope: tuple[str, ...]
    name: str


@dataclass(frozen=True, slots=True)
class RawTypeDefV9:
    """A named type definition pointing into the typespace."""

    name: RawScopedTypeNameV9
    ty: int
    custom_ordering: bool


@dataclass(frozen=True, slots=True)
class RawIndexDefV9:
    """An index; ``accessor_name`` None means system-generated (no client accessor)."""

    name: str | None
    accessor_name: str | None
    algorithm: RawIndexAlgorithm


@dataclass(frozen=True, slots=True)
class RawConstraintDefV9:
    """A (unique) constraint."""

    name: str | None
    data: RawConstraintDataV9


@dataclass(frozen=True, slots=True)
class RawSequenceDefV9:
    """An auto-increment sequence on an integer column (bounds are i128)."""

    name: str | None
    column: int
    start: int | None
    min_value: int | None
    max_value: int | None
    increment: int


@dataclass(frozen=True, slots=True)
class RawScheduleDefV9:
    """Marks a table as a schedule table driving ``reducer_name`` (a reducer or procedure)."""

    name: str | None
    reducer_name: str
    scheduled_at_column: int


@dataclass(frozen=True, slots=True)
class RawTableDefV9:
    """A table (V9)."""

    name: str
    product_type_ref: int
    primary_key: tuple[int, ...]
    indexes: tuple[RawIndexDefV9, ...]
    constraints: tuple[RawConstraintDefV9, ...]
    sequences: tuple[RawSequenceDefV9, ...]
    schedule: RawScheduleDefV9 | None
    table_type: TableType
    table_access: TableAccess


@dataclass(frozen=True, slots=True)
class RawReducerDefV9:
    """A reducer (V9): parameters are an inline product."""

    name: str
    params: ProductType
    lifecycle: Lifecycle | None


@dataclass(frozen=True, slots=True)
class RawColumnDefaultValueV9:
    """``MiscModuleExport::ColumnDefaultValue``: BSATN of a column's default value."""

    table: str
    col_id: int
    value: bytes


@dataclass(frozen=True, slots=True)
class RawProcedureDefV9:
    """``MiscModuleExport::Procedure``."""

    name: str
    params: ProductType
    return_type: AlgebraicType


@dataclass(frozen=True, slots=True)
class RawViewDefV9:
    """``MiscModuleExport::View``."""

    name: str
    index: int
    is_public: bool
    is_anonymous: bool
    params: ProductType
    return_type: AlgebraicType


RawMiscModuleExportV9: TypeAlias = "RawColumnDefaultValueV9 | RawProcedureDefV9 | RawViewDefV9"


@dataclass(frozen=True, slots=True)
class RawModuleDefV9:
    """``RawModuleDefV9`` (what 1.x modules emit and the ``version=9`` schema endpoint serves)."""

    typespace: Typespace
    tables: tuple[RawTableDefV9, ...]
    reducers: tuple[RawReducerDefV9, ...]
    types: tuple[RawTypeDefV9, ...]
    misc_exports: tuple[RawMiscModuleExportV9, ...]
    row_level_security: tuple[RawRowLevelSecurityDefV9, ...]


# ------------------------------------------------------------------------------------------ V10


@dataclass(frozen=True, slots=True)
class RawScopedTypeNameV10:
    """A type name with its scope segments (V10 field naming)."""

    scope: tuple[str, ...]
    source_name: str


@dataclass(frozen=True, slots=True)
class RawTypeDefV10:
    """A named type definition pointing into the typespace."""

    source_name: RawScopedTypeNameV10
    ty: int
    custom_ordering: bool


@dataclass(frozen=True, slots=True)
class RawIndexDefV10:
    """An index: ``source_name`` as the module wrote it, ``accessor_name`` for codegen."""

    source_name: str | None
    accessor_name: str | None
    algorithm: RawIndexAlgorithm


@dataclass(frozen=True, slots=True)
class RawConstraintDefV10:
    """A (unique) constraint; ``source_name`` is ignored by validation."""

    source_name: str | None
    data: RawConstraintDataV9


@dataclass(frozen=True, slots=True)
class RawSequenceDefV10:
    """An auto-increment sequence (bounds are i128)."""

    source_name: str | None
    column: int
    start: int | None
    min_value: int | None
    max_value: int | None
    increment: int


@dataclass(frozen=True, slots=True)
class RawColumnDefaultValueV10:
    """BSATN of a column's default value."""

    col_id: int
    value: bytes


@dataclass(frozen=True, slots=True)
class RawTableDefV10:
    """A table (V10): ``source_name`` is the accessor as written in module source."""

    source_name: str
    product_type_ref: int
    primary_key: tuple[int, ...]
    indexes: tuple[RawIndexDefV10, ...]
    constraints: tuple[RawConstraintDefV10, ...]
    sequences: tuple[RawSequenceDefV10, ...]
    table_type: TableType
    table_access: TableAccess
    default_values: tuple[RawColumnDefaultValueV10, ...]
    is_event: bool


@dataclass(frozen=True, slots=True)
class RawReducerDefV10:
    """A reducer (V10)."""

    source_name: str
    params: ProductType
    visibility: FunctionVisibility
    ok_return_type: AlgebraicType
    err_return_type: AlgebraicType


@dataclass(frozen=True, slots=True)
class RawProcedureDefV10:
    """A procedure (V10)."""

    source_name: str
    params: ProductType
    return_type: AlgebraicType
    visibility: FunctionVisibility


@dataclass(frozen=True, slots=True)
class RawViewDefV10:
    """A view (V10); ``index`` numbers authenticated and anonymous views separately."""

    source_name: str
    index: int
    is_public: bool
    is_anonymous: bool
    params: ProductType
    return_type: AlgebraicType


@dataclass(frozen=True, slots=True)
class RawScheduleDefV10:
    """A schedule: table ``table_name`` drives function ``function_name``."""

    source_name: str | None
    table_name: str
    schedule_at_col: int
    function_name: str


@dataclass(frozen=True, slots=True)
class RawLifeCycleReducerDefV10:
    """Assigns a lifecycle role to a reducer."""

    lifecycle_spec: Lifecycle
    function_name: str


@dataclass(frozen=True, slots=True)
class ExplicitTableName:
    """``ExplicitNameEntry::Table``: a table's explicit canonical name."""

    source_name: str
    canonical_name: str


@dataclass(frozen=True, slots=True)
class ExplicitFunctionName:
    """``ExplicitNameEntry::Function``: a reducer/procedure/view/handler's canonical name."""

    source_name: str
    canonical_name: str


@dataclass(frozen=True, slots=True)
class ExplicitIndexName:
    """``ExplicitNameEntry::Index``: an index's explicit canonical name."""

    source_name: str
    canonical_name: str


ExplicitNameEntry: TypeAlias = "ExplicitTableName | ExplicitFunctionName | ExplicitIndexName"


@dataclass(frozen=True, slots=True)
class ExplicitNames:
    """``ExplicitNames``: source → canonical name overrides."""

    entries: tuple[ExplicitNameEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class RawViewPrimaryKeyDefV10:
    """Declares the primary key (one column, by source name) of a procedural view."""

    view_source_name: str
    columns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RawHttpHandlerDefV10:
    """An HTTP handler function."""

    source_name: str


@dataclass(frozen=True, slots=True)
class RawHttpRouteDefV10:
    """An HTTP route bound to a handler."""

    handler_function: str
    method: MethodOrAny
    path: str


@dataclass(frozen=True, slots=True)
class RawSubmoduleV10:
    """A submodule mounted under ``namespace``."""

    namespace: str
    module: RawModuleDefV10


# -- sections


@dataclass(frozen=True, slots=True)
class TypespaceSection:
    """Section 0: the typespace."""

    typespace: Typespace
    TAG: ClassVar[int] = 0


@dataclass(frozen=True, slots=True)
class TypesSection:
    """Section 1: named type definitions."""

    items: tuple[RawTypeDefV10, ...]
    TAG: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class TablesSection:
    """Section 2: tables."""

    items: tuple[RawTableDefV10, ...]
    TAG: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class ReducersSection:
    """Section 3: reducers (their order gives the reducer ids)."""

    items: tuple[RawReducerDefV10, ...]
    TAG: ClassVar[int] = 3


@dataclass(frozen=True, slots=True)
class ProceduresSection:
    """Section 4: procedures."""

    items: tuple[RawProcedureDefV10, ...]
    TAG: ClassVar[int] = 4


@dataclass(frozen=True, slots=True)
class ViewsSection:
    """Section 5: views."""

    items: tuple[RawViewDefV10, ...]
    TAG: ClassVar[int] = 5


@dataclass(frozen=True, slots=True)
class SchedulesSection:
    """Section 6: schedules."""

    items: tuple[RawScheduleDefV10, ...]
    TAG: ClassVar[int] = 6


@dataclass(frozen=True, slots=True)
class LifeCycleReducersSection:
    """Section 7: lifecycle reducer assignments."""

    items: tuple[RawLifeCycleReducerDefV10, ...]
    TAG: ClassVar[int] = 7


@dataclass(frozen=True, slots=True)
class RowLevelSecuritySection:
    """Section 8: row-level-security rules."""

    items: tuple[RawRowLevelSecurityDefV9, ...]
    TAG: ClassVar[int] = 8


@dataclass(frozen=True, slots=True)
class CaseConversionPolicySection:
    """Section 9: the case-conversion policy."""

    policy: CaseConversionPolicy
    TAG: ClassVar[int] = 9


@dataclass(frozen=True, slots=True)
class ExplicitNamesSection:
    """Section 10: explicit canonical names."""

    names: ExplicitNames
    TAG: ClassVar[int] = 10


@dataclass(frozen=True, slots=True)
class HttpHandlersSection:
    """Section 11 (2.4+): HTTP handlers."""

    items: tuple[RawHttpHandlerDefV10, ...]
    TAG: ClassVar[int] = 11


@dataclass(frozen=True, slots=True)
class HttpRoutesSection:
    """Section 12 (2.4+): HTTP routes."""

    items: tuple[RawHttpRouteDefV10, ...]
    TAG: ClassVar[int] = 12


@dataclass(frozen=True, slots=True)
class ViewPrimaryKeysSection:
    """Section 13 (2.5+): primary keys of procedural views."""

    items: tuple[RawViewPrimaryKeyDefV10, ...]
    TAG: ClassVar[int] = 13


@dataclass(frozen=True, slots=True)
class SubmodulesSection:
    """Section 14 (2.8+): submodules."""

    items: tuple[RawSubmoduleV10, ...]
    TAG: ClassVar[int] = 14


RawModuleDefV10Section: TypeAlias = (
    "TypespaceSection | TypesSection | TablesSection | ReducersSection | ProceduresSection"
    " | ViewsSection | SchedulesSection | LifeCycleReducersSection | RowLevelSecuritySection"
    " | CaseConversionPolicySection | ExplicitNamesSection | HttpHandlersSection"
    " | HttpRoutesSection | ViewPrimaryKeysSection | SubmodulesSection"
)

_SECTION_CLASSES: Final[tuple[type[Any], ...]] = (
    TypespaceSection,
    TypesSection,
    TablesSection,
    ReducersSection,
    ProceduresSection,
    ViewsSection,
    SchedulesSection,
    LifeCycleReducersSection,
    RowLevelSecuritySection,
    CaseConversionPolicySection,
    ExplicitNamesSection,
    HttpHandlersSection,
    HttpRoutesSection,
    ViewPrimaryKeysSection,
    SubmodulesSection,
)
_SECTION_NAMES: Final = (
    "Typespace", "Types", "Tables", "Reducers", "Procedures", "Views", "Schedules",
    "LifeCycleReducers", "RowLevelSecurity", "CaseConversionPolicy", "ExplicitNames",
    "HttpHandlers", "HttpRoutes", "ViewPrimaryKeys", "Submodules",
)  # fmt: skip

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class RawModuleDefV10:
    """``RawModuleDefV10``: a list of sections (missing ones mean empty; lookups take the first)."""

    sections: tuple[RawModuleDefV10Section, ...]

    def section(self, cls: type[S]) -> S | None:
        """The first section of class ``cls``, or None."""
        for s in self.sections:
            if isinstance(s, cls):
                return s
        return None

    @property
    def typespace(self) -> Typespace:
        """The typespace (empty if the section is missing)."""
        s = self.section(TypespaceSection)
        return s.typespace if s is not None else Typespace(())

    @property
    def types(self) -> tuple[RawTypeDefV10, ...]:
        """The ``Types`` section's entries."""
        s = self.section(TypesSection)
        return s.items if s is not None else ()

    @property
    def tables(self) -> tuple[RawTableDefV10, ...]:
        """The ``Tables`` section's entries."""
        s = self.section(TablesSection)
        return s.items if s is not None else ()

    @property
    def reducers(self) -> tuple[RawReducerDefV10, ...]:
        """The ``Reducers`` section's entries."""
        s = self.section(ReducersSection)
        return s.items if s is not None else ()

    @property
    def procedures(self) -> tuple[RawProcedureDefV10, ...]:
        """The ``Procedures`` section's entries."""
        s = self.section(ProceduresSection)
        return s.items if s is not None else ()

    @property
    def views(self) -> tuple[RawViewDefV10, ...]:
        """The ``Views`` section's entries."""
        s = self.section(ViewsSection)
        return s.items if s is not None else ()

    @property
    def schedules(self) -> tuple[RawScheduleDefV10, ...]:
        """The ``Schedules`` section's entries."""
        s = self.section(SchedulesSection)
        return s.items if s is not None else ()

    @property
    def lifecycle_reducers(self) -> tuple[RawLifeCycleReducerDefV10, ...]:
        """The ``LifeCycleReducers`` section's entries."""
        s = self.section(LifeCycleReducersSection)
        return s.items if s is not None else ()

    @property
    def row_level_security(self) -> tuple[RawRowLevelSecurityDefV9, ...]:
        """The ``RowLevelSecurity`` section's entries."""
        s = self.section(RowLevelSecuritySection)
        return s.items if s is not None else ()

    @property
    def case_conversion_policy(self) -> CaseConversionPolicy:
        """The policy (``SNAKE_CASE`` when the section is missing)."""
        s = self.section(CaseConversionPolicySection)
        return s.policy if s is not None else CaseConversionPolicy.SNAKE_CASE

    @property
    def explicit_names(self) -> ExplicitNames:
        """The explicit names (empty when the section is missing)."""
        s = self.section(ExplicitNamesSection)
        return s.names if s is not None else ExplicitNames(())

    @property
    def http_handlers(self) -> tuple[RawHttpHandlerDefV10, ...]:
        """The ``HttpHandlers`` section's entries."""
        s = self.section(HttpHandlersSection)
        return s.items if s is not None else ()

    @property
    def http_routes(self) -> tuple[RawHttpRouteDefV10, ...]:
        """The ``HttpRoutes`` section's entries."""
        s = self.section(HttpRoutesSection)
        return s.items if s is not None else ()

    @property
    def view_primary_keys(self) -> tuple[RawViewPrimaryKeyDefV10, ...]:
        """The ``ViewPrimaryKeys`` section's entries."""
        s = self.section(ViewPrimaryKeysSection)
        return s.items if s is not None else ()

    @property
    def submodules(self) -> tuple[RawSubmoduleV10, ...]:
        """The ``Submodules`` section's entries."""
        s = self.section(SubmodulesSection)
        return s.items if s is not None else ()


#: A decoded ``RawModuleDef`` enum value: its V9 or V10 payload (V8 is rejected).
RawModuleDef: TypeAlias = "RawModuleDefV9 | RawModuleDefV10"

# ============================================================================= the meta typespace

Binding = ProductBinding | SumBinding


class _MetaBuilder:
    """Collects named SATS types; ``ref(name)`` may be used before ``define(name, ...)``."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.types: dict[str, AlgebraicType] = {}
        self.bindings: dict[int, Binding] = {}

    def ref(self, name: str) -> RefType:
        if name not in self.order:
            self.order.append(name)
        return RefType(self.order.index(name))

    def define(self, name: str, ty: AlgebraicType, binding: Binding) -> None:
        index = self.ref(name).index
        self.types[name] = ty
        self.bindings[index] = binding

    def product(
        self, name: str, cls: type[Any], fields: Sequence[tuple[str, AlgebraicType]]
    ) -> None:
        """Define a product bound to dataclass ``cls`` whose attributes are the wire field names."""
        attrs = tuple(f.name for f in dataclasses.fields(cls))
        if attrs != tuple(n for n, _ in fields):
            raise AssertionError(f"{cls.__name__} fields {attrs} do not match the wire layout")
        self.define(name, product_of(fields), ProductBinding(_tupled(cls), attrs))

    def finish(self) -> tuple[Typespace, dict[int, Binding], dict[str, int]]:
        missing = [n for n in self.order if n not in self.types]
        if missing:
            raise AssertionError(f"meta types referenced but not defined: {missing}")
        ts = Typespace(tuple(self.types[n] for n in self.order))
        return ts, self.bindings, {n: i for i, n in enumerate(self.order)}


def _tupled(cls: Callable[..., Any]) -> Callable[..., Any]:
    """A constructor that turns decoded lists into tuples so the dataclasses stay hashable."""

    def build(*args: Any) -> Any:
        return cls(*[tuple(a) if type(a) is list else a for a in args])

    build.__name__ = f"build_{getattr(cls, '__name__', 'value')}"
    return build


def _enum_binding(enum_cls: type[Enum]) -> tuple[SumType, SumBinding]:
    members = list(enum_cls)
    names = _ENUM_WIRE_NAMES[enum_cls]
    if [m.value for m in members] != list(range(len(names))):
        raise AssertionError(f"{enum_cls.__name__} values must be its wire tags")
    ty = sum_of([(n, UNIT) for n in names])

    def unwrap(member: Enum) -> tuple[int, Any]:
        if not isinstance(member, enum_cls):
            raise TypeError(f"expected {enum_cls.__name__}, got {member!r}")
        return int(member.value), ()

    wrap = tuple(_const(m) for m in members)
    return ty, SumBinding(wrap, unwrap, dict(enumerate(members)))


def _const(value: Any) -> Callable[[Any], Any]:
    return lambda _payload: value


def _by_class(
    classes: tuple[type[Any], ...], payload: Callable[[Any], Any] = lambda x: x
) -> Callable[[Any], tuple[int, Any]]:
    """An ``unwrap`` for sums whose variants are distinguished by Python class."""
    tags = {cls: i for i, cls in enumerate(classes)}

    def unwrap(obj: Any) -> tuple[int, Any]:
        tag = tags.get(type(obj))
        if tag is None:
            raise TypeError(f"expected one of {[c.__name__ for c in classes]}, got {obj!r}")
        return tag, payload(obj)

    return unwrap


def _unwrap_algebraic_type(ty: Any) -> tuple[int, Any]:
    if isinstance(ty, RefType):
        return 0, ty.index
    if isinstance(ty, SumType):
        return 1, ty
    if isinstance(ty, ProductType):
        return 2, ty
    if isinstance(ty, ArrayType):
        return 3, ty.element
    if isinstance(ty, PrimitiveType):
        return ty.tag, ()
    raise TypeError(f"not an AlgebraicType: {ty!r}")


def _identity(x: Any) -> Any:
    return x


def _build_meta() -> tuple[Typespace, dict[int, Binding], dict[str, int]]:
    b = _MetaBuilder()
    ref = b.ref
    col_list = array(U16)
    opt_name = option(STRING)
    opt_i128 = option(I128)
    bytes_ty = array(U8)
    at = ref("AlgebraicType")

    # -- AlgebraicType and friends (§2)
    primitives = sorted(PRIMITIVES.values(), key=lambda p: p.tag)
    b.define(
        "AlgebraicType",
        sum_of(
            [("Ref", U32), ("Sum", ref("SumType")), ("Product", ref("ProductType")), ("Array", at)]
            + [(p.name, UNIT) for p in primitives]
        ),
        SumBinding(
            (RefType, _identity, _identity, ArrayType, *(_const(p) for p in primitives)),
            _unwrap_algebraic_type,
            {p.tag: p for p in primitives},
        ),
    )
    b.define(
        "SumType",
        product_of([("variants", array(ref("SumTypeVariant")))]),
        ProductBinding(lambda variants: SumType(tuple(variants)), ("variants",)),
    )
    b.product("SumTypeVariant", SumTypeVariant, [("name", opt_name), ("algebraic_type", at)])
    b.define(
        "ProductType",
        product_of([("elements", array(ref("ProductTypeElement")))]),
        ProductBinding(lambda elements: ProductType(tuple(elements)), ("elements",)),
    )
    b.product(
        "ProductTypeElement", ProductTypeElement, [("name", opt_name), ("algebraic_type", at)]
    )
    b.define(
        "Typespace",
        product_of([("types", array(at))]),
        ProductBinding(lambda types: Typespace(tuple(types)), ("types",)),
    )
    product_ty = ref("ProductType")

    # -- unit enums
    for enum_cls, name in (
        (TableType, "TableType"),
        (TableAccess, "TableAccess"),
        (Lifecycle, "Lifecycle"),
        (FunctionVisibility, "FunctionVisibility"),
        (CaseConversionPolicy, "CaseConversionPolicy"),
    ):
        ty, binding = _enum_binding(enum_cls)
        b.define(name, ty, binding)

    # -- shared
    b.define(
        "RawIndexAlgorithm",
        sum_of([("BTree", col_list), ("Hash", col_list), ("Direct", U16)]),
        SumBinding(
            (
                lambda cols: RawIndexAlgorithmBTree(tuple(cols)),
                lambda cols: RawIndexAlgorithmHash(tuple(cols)),
                RawIndexAlgorithmDirect,
            ),
            _by_class(
                (RawIndexAlgorithmBTree, RawIndexAlgorithmHash, RawIndexAlgorithmDirect),
                lambda a: a.column if isinstance(a, RawIndexAlgorithmDirect) else a.columns,
            ),
        ),
    )
    b.product("RawUniqueConstraintDataV9", RawUniqueConstraintDataV9, [("columns", col_list)])
    b.define(
        "RawConstraintDataV9",
        sum_of([("Unique", ref("RawUniqueConstraintDataV9"))]),
        SumBinding((_identity,), _by_class((RawUniqueConstraintDataV9,))),
    )
    b.product("RawRowLevelSecurityDefV9", RawRowLevelSecurityDefV9, [("sql", STRING)])

    # -- V9 (§1.2)
    b.product(
        "RawScopedTypeNameV9", RawScopedTypeNameV9, [("scope", array(STRING)), ("name", STRING)]
    )
    b.product(
        "RawTypeDefV9",
        RawTypeDefV9,
        [("name", ref("RawScopedTypeNameV9")), ("ty", U32), ("custom_ordering", BOOL)],
    )
    b.product(
        "RawIndexDefV9",
        RawIndexDefV9,
        [("name", opt_name), ("accessor_name", opt_name), ("algorithm", ref("RawIndexAlgorithm"))],
    )
    b.product(
        "RawConstraintDefV9",
        RawConstraintDefV9,
        [("name", opt_name), ("data", ref("RawConstraintDataV9"))],
    )
    sequence_tail = [
        ("column", U16),
        ("start", opt_i128),
        ("min_value", opt_i128),
        ("max_value", opt_i128),
        ("increment", I128),
    ]
    b.product("RawSequenceDefV9", RawSequenceDefV9, [("name", opt_name), *sequence_tail])
    b.product(
        "RawScheduleDefV9",
        RawScheduleDefV9,
        [("name", opt_name), ("reducer_name", STRING), ("scheduled_at_column", U16)],
    )
    b.product(
        "RawTableDefV9",
        RawTableDefV9,
        [
            ("name", STRING),
            ("product_type_ref", U32),
            ("primary_key", col_list),
            ("indexes", array(ref("RawIndexDefV9"))),
            ("constraints", array(ref("RawConstraintDefV9"))),
            ("sequences", array(ref("RawSequenceDefV9"))),
            ("schedule", option(ref("RawScheduleDefV9"))),
            ("table_type", ref("TableType")),
            ("table_access", ref("TableAccess")),
        ],
    )
    b.product(
        "RawReducerDefV9",
        RawReducerDefV9,
        [("name", STRING), ("params", product_ty), ("lifecycle", option(ref("Lifecycle")))],
    )
    b.product(
        "RawColumnDefaultValueV9",
        RawColumnDefaultValueV9,
        [("table", STRING), ("col_id", U16), ("value", bytes_ty)],
    )
    b.product(
        "RawProcedureDefV9",
        RawProcedureDefV9,
        [("name", STRING), ("params", product_ty), ("return_type", at)],
    )
    view_tail = [
        ("index", U32),
        ("is_public", BOOL),
        ("is_anonymous", BOOL),
        ("params", product_ty),
        ("return_type", at),
    ]
    b.product("RawViewDefV9", RawViewDefV9, [("name", STRING), *view_tail])
    misc_classes = (RawColumnDefaultValueV9, RawProcedureDefV9, RawViewDefV9)
    b.define(
        "RawMiscModuleExportV9",
        sum_of(
            [
                ("ColumnDefaultValue", ref("RawColumnDefaultValueV9")),
                ("Procedure", ref("RawProcedureDefV9")),
                ("View", ref("RawViewDefV9")),
            ]
        ),
        SumBinding((_identity, _identity, _identity), _by_class(misc_classes)),
    )
    b.product(
        "RawModuleDefV9",
        RawModuleDefV9,
        [
            ("typespace", ref("Typespace")),
            ("tables", array(ref("RawTableDefV9"))),
            ("reducers", array(ref("RawReducerDefV9"))),
            ("types", array(ref("RawTypeDefV9"))),
            ("misc_exports", array(ref("RawMiscModuleExportV9"))),
            ("row_level_security", array(ref("RawRowLevelSecurityDefV9"))),
        ],
    )

    # -- V10 (§1.3)
    b.product(
        "RawScopedTypeNameV10",
        RawScopedTypeNameV10,
        [("scope", array(STRING)), ("source_name", STRING)],
    )
    b.product(
        "RawTypeDefV10",
        RawTypeDefV10,
        [("source_name", ref("RawScopedTypeNameV10")), ("ty", U32), ("custom_ordering", BOOL)],
    )
    b.product(
        "RawIndexDefV10",
        RawIndexDefV10,
        [
            ("source_name", opt_name),
            ("accessor_name", opt_name),
            ("algorithm", ref("RawIndexAlgorithm")),
        ],
    )
    b.product(
        "RawConstraintDefV10",
        RawConstraintDefV10,
        [("source_name", opt_name), ("data", ref("RawConstraintDataV9"))],
    )
    b.product("RawSequenceDefV10", RawSequenceDefV10, [("source_name", opt_name), *sequence_tail])
    b.product(
        "RawColumnDefaultValueV10", RawColumnDefaultValueV10, [("col_id", U16), ("value", bytes_ty)]
    )
    b.product(
        "RawTableDefV10",
        RawTableDefV10,
        [
            ("source_name", STRING),
            ("product_type_ref", U32),
            ("primary_key", col_list),
            ("indexes", array(ref("RawIndexDefV10"))),
            ("constraints", array(ref("RawConstraintDefV10"))),
            ("sequences", array(ref("RawSequenceDefV10"))),
            ("table_type", ref("TableType")),
            ("table_access", ref("TableAccess")),
            ("default_values", array(ref("RawColumnDefaultValueV10"))),
            ("is_event", BOOL),
        ],
    )
    b.product(
        "RawReducerDefV10",
        RawReducerDefV10,
        [
            ("source_name", STRING),
            ("params", product_ty),
            ("visibility", ref("FunctionVisibility")),
            ("ok_return_type", at),
            ("err_return_type", at),
        ],
    )
    b.product(
        "RawProcedureDefV10",
        RawProcedureDefV10,
        [
            ("source_name", STRING),
            ("params", product_ty),
            ("return_type", at),
            ("visibility", ref("FunctionVisibility")),
        ],
    )
    b.product("RawViewDefV10", RawViewDefV10, [("source_name", STRING), *view_tail])
    b.product(
        "RawScheduleDefV10",
        RawScheduleDefV10,
        [
            ("source_name", opt_name),
            ("table_name", STRING),
            ("schedule_at_col", U16),
            ("function_name", STRING),
        ],
    )
    b.product(
        "RawLifeCycleReducerDefV10",
        RawLifeCycleReducerDefV10,
        [("lifecycle_spec", ref("Lifecycle")), ("function_name", STRING)],
    )
    mapping = [("source_name", STRING), ("canonical_name", STRING)]
    # Three identical NameMapping products so that each binds to its own entry class.
    b.product("NameMapping.Table", ExplicitTableName, mapping)
    b.product("NameMapping.Function", ExplicitFunctionName, mapping)
    b.product("NameMapping.Index", ExplicitIndexName, mapping)
    name_classes = (ExplicitTableName, ExplicitFunctionName, ExplicitIndexName)
    b.define(
        "ExplicitNameEntry",
        sum_of(
            [
                ("Table", ref("NameMapping.Table")),
                ("Function", ref("NameMapping.Function")),
                ("Index", ref("NameMapping.Index")),
            ]
        ),
        SumBinding((_identity, _identity, _identity), _by_class(name_classes)),
    )
    b.product("ExplicitNames", ExplicitNames, [("entries", array(ref("ExplicitNameEntry")))])
    b.product(
        "RawViewPrimaryKeyDefV10",
        RawViewPrimaryKeyDefV10,
        [("view_source_name", STRING), ("columns", array(STRING))],
    )
    b.product("RawHttpHandlerDefV10", RawHttpHandlerDefV10, [("source_name", STRING)])
    _, method_enum_binding = _enum_binding(HttpMethod)
    b.define(
        "Method",
        sum_of([*((n, UNIT) for n in _ENUM_WIRE_NAMES[HttpMethod]), ("Extension", STRING)]),
        SumBinding(
            (*method_enum_binding.wrap, HttpMethodExtension),
            _unwrap_method,
            method_enum_binding.constants,
        ),
    )
    b.define(
        "MethodOrAny",
        sum_of([("Any", UNIT), ("Method", ref("Method"))]),
        SumBinding(
            (_const(ANY_METHOD), _identity),
            lambda m: (0, ()) if isinstance(m, AnyMethod) else (1, m),
            {0: ANY_METHOD},
        ),
    )
    b.product(
        "RawHttpRouteDefV10",
        RawHttpRouteDefV10,
        [("handler_function", STRING), ("method", ref("MethodOrAny")), ("path", STRING)],
    )
    b.product(
        "RawSubmoduleV10",
        RawSubmoduleV10,
        [("namespace", STRING), ("module", ref("RawModuleDefV10"))],
    )
    section_payloads: list[tuple[str, AlgebraicType]] = [
        ("Typespace", ref("Typespace")),
        ("Types", array(ref("RawTypeDefV10"))),
        ("Tables", array(ref("RawTableDefV10"))),
        ("Reducers", array(ref("RawReducerDefV10"))),
        ("Procedures", array(ref("RawProcedureDefV10"))),
        ("Views", array(ref("RawViewDefV10"))),
        ("Schedules", array(ref("RawScheduleDefV10"))),
        ("LifeCycleReducers", array(ref("RawLifeCycleReducerDefV10"))),
        ("RowLevelSecurity", array(ref("RawRowLevelSecurityDefV9"))),
        ("CaseConversionPolicy", ref("CaseConversionPolicy")),
        ("ExplicitNames", ref("ExplicitNames")),
        ("HttpHandlers", array(ref("RawHttpHandlerDefV10"))),
        ("HttpRoutes", array(ref("RawHttpRouteDefV10"))),
        ("ViewPrimaryKeys", array(ref("RawViewPrimaryKeyDefV10"))),
        ("Submodules", array(ref("RawSubmoduleV10"))),
    ]
    if tuple(n for n, _ in section_payloads) != _SECTION_NAMES:
        raise AssertionError("section names out of order")
    b.define(
        "RawModuleDefV10Section",
        sum_of(section_payloads),
        SumBinding(
            tuple(_tupled(cls) for cls in _SECTION_CLASSES),
            _unwrap_section,
        ),
    )
    b.product(
        "RawModuleDefV10", RawModuleDefV10, [("sections", array(ref("RawModuleDefV10Section")))]
    )
    return b.finish()


def _unwrap_method(m: Any) -> tuple[int, Any]:
    if isinstance(m, HttpMethod):
        return m.value, ()
    if isinstance(m, HttpMethodExtension):
        return 9, m.name
    raise TypeError(f"expected HttpMethod or HttpMethodExtension, got {m!r}")


def _unwrap_section(section: Any) -> tuple[int, Any]:
    cls = type(section)
    if cls not in _SECTION_CLASSES:
        raise TypeError(f"not a RawModuleDefV10 section: {section!r}")
    field = dataclasses.fields(section)[0].name
    return int(cls.TAG), getattr(section, field)


@dataclass(frozen=True)
class _Meta:
    typespace: Typespace
    bindings: dict[int, Binding]
    refs: dict[str, int]
    v9: BsatnCodec[RawModuleDefV9]
    v10: BsatnCodec[RawModuleDefV10]
    algebraic_type: BsatnCodec[AlgebraicType]


@functools.cache
def _meta() -> _Meta:
    ts, bindings, refs = _build_meta()
    return _Meta(
        ts,
        bindings,
        refs,
        compile_codec(RefType(refs["RawModuleDefV9"]), ts, bindings),
        compile_codec(RefType(refs["RawModuleDefV10"]), ts, bindings),
        compile_codec(RefType(refs["AlgebraicType"]), ts, bindings),
    )


def meta_typespace() -> tuple[Typespace, dict[str, int]]:
    """The SATS description of the module-definition types: the typespace and ``name -> ref``."""
    meta = _meta()
    return meta.typespace, dict(meta.refs)


# ================================================================================== entry points

_VARIANT_TAGS: Final = {"V8BackCompat": 0, "V9": 1, "V10": 2}


def decode_raw_module_def(data: bytes | bytearray | memoryview) -> RawModuleDef:
    """Decode the BSATN of the ``RawModuleDef`` enum (what ``__describe_module__`` returns)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise BsatnDecodeError(f"BSATN input must be bytes-like, not {type(data).__name__}")
    if len(data) == 0:
        raise BsatnDecodeError("input truncated: RawModuleDef needs a tag byte", 0)
    tag = data[0]
    if tag == 0:
        raise ModuleDefError(
            "RawModuleDef::V8BackCompat is not supported (no 2.x binding emits it)"
        )
    if tag not in (1, 2):
        raise BsatnDecodeError(
            f"invalid RawModuleDef tag {tag} (known: 0=V8BackCompat, 1=V9, 2=V10)", 0
        )
    meta = _meta()
    codec: BsatnCodec[Any] = meta.v9 if tag == 1 else meta.v10
    try:
        value, end = codec.decode_from(data, 1)
    except SpacetimeDBError:
        raise
    except RecursionError:
        raise BsatnDecodeError("module definition nests types too deeply") from None
    except (TypeError, ValueError, KeyError, IndexError) as exc:  # defensive: keep the error family
        raise ModuleDefError(f"malformed module definition: {exc}") from exc
    if end != len(data):
        raise BsatnDecodeError(f"{len(data) - end} trailing byte(s) after the RawModuleDef", end)
    return value  # type: ignore[no-any-return]


def encode_raw_module_def(raw: RawModuleDef) -> bytes:
    """Encode ``raw`` as the BSATN of the ``RawModuleDef`` enum."""
    meta = _meta()
    if isinstance(raw, RawModuleDefV10):
        return b"\x02" + meta.v10.encode(raw)
    if isinstance(raw, RawModuleDefV9):
        return b"\x01" + meta.v9.encode(raw)
    raise ModuleDefError(f"not a RawModuleDefV9 or RawModuleDefV10: {type(raw).__name__}")


_V9_KEYS: Final = frozenset(
    ("typespace", "tables", "reducers", "types", "misc_exports", "row_level_security")
)


def raw_module_def_from_json(obj: Any) -> RawModuleDef:
    """Read a module def from SATS-JSON (a parsed object, or JSON text).

    Accepts the enum-wrapped form (``{"V10": {...}}``, ``{"V9": {...}}``, as ``extract-schema``
    and ``spacetime generate --module-def`` use) and the bare forms the schema endpoint serves
    (``{"sections": [...]}`` for V10, ``{"typespace": ..., "tables": ..., ...}`` for V9).
    """
    if isinstance(obj, (str, bytes, bytearray)):
        try:
            obj = json.loads(obj)
        except ValueError as exc:
            raise ModuleDefError(f"module definition is not valid JSON: {exc}") from exc
    if not isinstance(obj, Mapping):
        raise ModuleDefError(f"a module definition is a JSON object, got {type(obj).__name__}")
    if len(obj) == 1:
        ((key, payload),) = obj.items()
        if key in _VARIANT_TAGS:
            if key == "V8BackCompat":
                raise ModuleDefError(
                    "RawModuleDef::V8BackCompat is not supported (no 2.x binding emits it)"
                )
            return _from_json_body(key, payload)
    if "sections" in obj:
        return _from_json_body("V10", obj)
    if "typespace" in obj and set(obj) <= _V9_KEYS:
        return _from_json_body("V9", obj)
    keys = ", ".join(sorted(map(str, obj)))
    raise ModuleDefError(
        f"not a RawModuleDef (expected V9/V10 wrapper, 'sections' or V9 keys); keys: {keys}"
    )


def _from_json_body(variant: str, body: Any) -> RawModuleDef:
    meta = _meta()
    root = RefType(meta.refs["RawModuleDefV10" if variant == "V10" else "RawModuleDefV9"])
    try:
        value = value_from_json(root, body, meta.typespace, meta.bindings)
    except SatsJsonError as exc:
        raise ModuleDefError(f"malformed {variant} module definition: {exc}") from exc
    except RecursionError:
        raise ModuleDefError("module definition nests types too deeply") from None
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        raise ModuleDefError(f"malformed {variant} module definition: {exc}") from exc
    return value  # type: ignore[no-any-return]


def raw_module_def_to_json(raw: RawModuleDef, wrapped: bool = True) -> dict[str, Any]:
    """Write ``raw`` as SATS-JSON: ``{"V10": {...}}`` when ``wrapped``, else the bare body.

    The bare V10/V9 body is exactly what the schema endpoint serves for ``version=10``/``9``.
    """
    meta = _meta()
    if isinstance(raw, RawModuleDefV10):
        variant, root = "V10", meta.refs["RawModuleDefV10"]
    elif isinstance(raw, RawModuleDefV9):
        variant, root = "V9", meta.refs["RawModuleDefV9"]
    else:
        raise ModuleDefError(f"not a RawModuleDefV9 or RawModuleDefV10: {type(raw).__name__}")
    try:
        body = value_to_json(RefType(root), raw, meta.typespace, meta.bindings, big_ints="number")
    except SatsJsonError as exc:
        raise ModuleDefError(f"cannot write module definition: {exc}") from exc
    return {variant: body} if wrapped else dict(body)


def algebraic_type_codec() -> BsatnCodec[AlgebraicType]:
    """The BSATN codec of ``AlgebraicType`` itself (bound to the ``algebraic_type`` classes)."""
    return _meta().algebraic_type
