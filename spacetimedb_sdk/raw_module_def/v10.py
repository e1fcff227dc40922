"""``RawModuleDefV10``: a list of tagged sections, what 2.x modules emit.

A missing section means an empty one; :meth:`RawModuleDefV10.section` returns the first of a kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Final, TypeAlias, TypeVar

from spacetimedb_sdk.algebraic_type import AlgebraicType, ProductType, Typespace
from spacetimedb_sdk.raw_module_def.common import (
    RawConstraintDataV9,
    RawIndexAlgorithm,
    RawRowLevelSecurityDefV9,
)
from spacetimedb_sdk.raw_module_def.enums import (
    CaseConversionPolicy,
    FunctionVisibility,
    Lifecycle,
    MethodOrAny,
    TableAccess,
    TableType,
)

__all__ = [
    "SECTION_CLASSES",
    "SECTION_NAMES",
    "CaseConversionPolicySection",
    "ExplicitFunctionName",
    "ExplicitIndexName",
    "ExplicitNameEntry",
    "ExplicitNames",
    "ExplicitNamesSection",
    "ExplicitTableName",
    "HttpHandlersSection",
    "HttpRoutesSection",
    "LifeCycleReducersSection",
    "ProceduresSection",
    "RawColumnDefaultValueV10",
    "RawConstraintDefV10",
    "RawHttpHandlerDefV10",
    "RawHttpRouteDefV10",
    "RawIndexDefV10",
    "RawLifeCycleReducerDefV10",
    "RawModuleDefV10",
    "RawModuleDefV10Section",
    "RawProcedureDefV10",
    "RawReducerDefV10",
    "RawScheduleDefV10",
    "RawScopedTypeNameV10",
    "RawSequenceDefV10",
    "RawSubmoduleV10",
    "RawTableDefV10",
    "RawTypeDefV10",
    "RawViewDefV10",
    "RawViewPrimaryKeyDefV10",
    "ReducersSection",
    "RowLevelSecuritySection",
    "SchedulesSection",
    "SubmodulesSection",
    "TablesSection",
    "TypesSection",
    "TypespaceSection",
    "ViewPrimaryKeysSection",
    "ViewsSection",
]


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

SECTION_CLASSES: Final[tuple[type[Any], ...]] = (
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
SECTION_NAMES: Final = (
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
