"""The parts of a :class:`~spacetimedb_sdk.schema.ModuleSchema`: tables, functions, types, routes.

Every part is a frozen dataclass holding canonical names next to the names the module's source
used (``accessor_name`` / ``source_name``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from spacetimedb_sdk.algebraic_type import STRING, UNIT, AlgebraicType, ProductType
from spacetimedb_sdk.raw_module_def import (
    FunctionVisibility,
    Lifecycle,
    MethodOrAny,
    TableAccess,
    TableType,
)

if TYPE_CHECKING:
    from spacetimedb_sdk.schema.module_schema import ModuleSchema

__all__ = [
    "ColumnSchema",
    "FunctionKind",
    "HttpHandlerSchema",
    "HttpRouteSchema",
    "IndexAlgorithmKind",
    "IndexSchema",
    "ParamSchema",
    "ProcedureSchema",
    "ReducerSchema",
    "ScheduleSchema",
    "ScopedTypeName",
    "SequenceSchema",
    "SubmoduleSchema",
    "TableSchema",
    "TypeSchema",
    "UniqueConstraintSchema",
    "ViewReturnShape",
    "ViewSchema",
    "replace",
]

IndexAlgorithmKind = Literal["btree", "hash", "direct"]
ViewReturnShape = Literal["option", "array", "query"]
FunctionKind = Literal["reducer", "procedure"]


@dataclass(frozen=True, slots=True, order=True)
class ScopedTypeName:
    """A type name with its scope segments; orders like the server (scope first, then name)."""

    scope: tuple[str, ...]
    name: str

    def __str__(self) -> str:
        return ".".join((*self.scope, self.name))


@dataclass(frozen=True, slots=True)
class ColumnSchema:
    """A column of a table or view row."""

    #: Canonical name (SQL, wire, case-converted typespace).
    name: str
    #: Name as written in module source (the untouched typespace).
    accessor_name: str
    algebraic_type: AlgebraicType
    position: int
    #: BSATN of the column's default value, if the module declared one.
    default_value: bytes | None = None


@dataclass(frozen=True, slots=True)
class IndexSchema:
    """An index of a table."""

    #: Canonical (generated or explicit) index name.
    name: str
    #: The index name the module sent (V10 ``source_name``; equals ``name`` for V9).
    source_name: str
    #: Accessor for client codegen, verbatim; None for system-generated indexes.
    accessor_name: str | None
    algorithm: IndexAlgorithmKind
    columns: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class UniqueConstraintSchema:
    """A unique constraint; ``columns`` is a set, kept sorted."""

    name: str
    columns: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SequenceSchema:
    """An auto-increment sequence."""

    name: str
    column: int
    start: int | None
    min_value: int | None
    max_value: int | None
    increment: int


@dataclass(frozen=True, slots=True)
class ScheduleSchema:
    """The schedule of a schedule table."""

    name: str
    #: Canonical name of the reducer or procedure it calls.
    function_name: str
    function_kind: FunctionKind
    #: Column holding the ``ScheduleAt``.
    at_column: int
    #: The ``u64`` primary-key column.
    id_column: int


@dataclass(frozen=True)
class TableSchema:
    """A table: canonical and accessor names, columns, keys, indexes and constraints."""

    name: str
    accessor_name: str
    product_type_ref: int
    #: The row type from the canonical typespace.
    row_type: ProductType
    columns: tuple[ColumnSchema, ...]
    primary_key: int | None
    indexes: tuple[IndexSchema, ...]
    constraints: tuple[UniqueConstraintSchema, ...]
    sequences: tuple[SequenceSchema, ...]
    schedule: ScheduleSchema | None
    table_type: TableType
    table_access: TableAccess
    is_event: bool

    @property
    def is_public(self) -> bool:
        """True for ``Public`` tables."""
        return self.table_access is TableAccess.PUBLIC

    @property
    def primary_key_column(self) -> ColumnSchema | None:
        """The primary-key column, if any."""
        return None if self.primary_key is None else self.columns[self.primary_key]

    @property
    def default_values(self) -> dict[int, bytes]:
        """Column position -> BSATN default value."""
        return {c.position: c.default_value for c in self.columns if c.default_value is not None}

    @cached_property
    def _columns_by_name(self) -> dict[str, ColumnSchema]:
        out = {c.accessor_name: c for c in self.columns}
        out.update({c.name: c for c in self.columns})
        return out

    def column(self, name: str) -> ColumnSchema:
        """A column by canonical or accessor name (KeyError if absent)."""
        try:
            return self._columns_by_name[name]
        except KeyError:
            raise KeyError(f"table {self.name!r} has no column {name!r}") from None

    def index(self, name: str) -> IndexSchema:
        """An index by canonical name, source name or accessor name (KeyError if absent)."""
        for by in ("name", "source_name", "accessor_name"):
            for ix in self.indexes:
                if getattr(ix, by) == name:
                    return ix
        raise KeyError(f"table {self.name!r} has no index {name!r}")

    def unique_column_sets(self) -> list[tuple[int, ...]]:
        """The column sets of the unique constraints (the primary key's among them)."""
        return [c.columns for c in self.constraints]


@dataclass(frozen=True, slots=True)
class ParamSchema:
    """A reducer/procedure/view parameter."""

    #: Name as the module wrote it (stored verbatim by the server).
    name: str
    #: ``convert(name)``: what client codegen uses.
    canonical_name: str
    algebraic_type: AlgebraicType
    position: int


@dataclass(frozen=True, slots=True)
class ReducerSchema:
    """A reducer."""

    name: str
    accessor_name: str
    #: Position in the module's reducer list (the wire reducer id).
    reducer_id: int
    params: tuple[ParamSchema, ...]
    #: The parameters' product type, verbatim.
    params_type: ProductType
    lifecycle: Lifecycle | None
    visibility: FunctionVisibility
    is_scheduled: bool
    ok_return_type: AlgebraicType = UNIT
    err_return_type: AlgebraicType = STRING

    @property
    def is_client_callable(self) -> bool:
        """True if ordinary clients may call it."""
        return self.visibility is FunctionVisibility.CLIENT_CALLABLE


@dataclass(frozen=True, slots=True)
class ProcedureSchema:
    """A procedure."""

    name: str
    accessor_name: str
    params: tuple[ParamSchema, ...]
    params_type: ProductType
    return_type: AlgebraicType
    visibility: FunctionVisibility
    is_scheduled: bool

    @property
    def is_client_callable(self) -> bool:
        """True if ordinary clients may call it."""
        return self.visibility is FunctionVisibility.CLIENT_CALLABLE


@dataclass(frozen=True)
class ViewSchema:
    """A view: a read-only, table-like result of a function."""

    name: str
    accessor_name: str
    #: The view's function index (authenticated and anonymous views are numbered separately).
    index: int
    is_public: bool
    is_anonymous: bool
    params: tuple[ParamSchema, ...]
    params_type: ProductType
    return_type: AlgebraicType
    #: ``option`` (at most one row), ``array`` (many rows) or ``query`` (a query-builder view).
    return_shape: ViewReturnShape
    product_type_ref: int
    row_type: ProductType
    columns: tuple[ColumnSchema, ...]
    primary_key: int | None

    @property
    def is_procedural(self) -> bool:
        """True for views returning ``Option``/``Array`` (not query views)."""
        return self.return_shape != "query"

    @cached_property
    def _columns_by_name(self) -> dict[str, ColumnSchema]:
        out = {c.accessor_name: c for c in self.columns}
        out.update({c.name: c for c in self.columns})
        return out

    def column(self, name: str) -> ColumnSchema:
        """A column by canonical or accessor name (KeyError if absent)."""
        try:
            return self._columns_by_name[name]
        except KeyError:
            raise KeyError(f"view {self.name!r} has no column {name!r}") from None


@dataclass(frozen=True, slots=True)
class TypeSchema:
    """A named type definition."""

    #: Canonical scoped name (PascalCase under the default policy).
    name: ScopedTypeName
    #: Scoped name as the module wrote it.
    source_name: ScopedTypeName
    ref: int
    #: The definition from the canonical typespace.
    algebraic_type: AlgebraicType
    #: The definition from the untouched typespace (module-source field names).
    source_algebraic_type: AlgebraicType
    custom_ordering: bool
    #: A sum whose variants are all unit.
    is_plain_enum: bool


@dataclass(frozen=True, slots=True)
class HttpHandlerSchema:
    """An HTTP handler function."""

    name: str
    accessor_name: str


@dataclass(frozen=True, slots=True)
class HttpRouteSchema:
    """An HTTP route."""

    handler_name: str
    method: MethodOrAny
    path: str


@dataclass(frozen=True, slots=True)
class SubmoduleSchema:
    """A submodule mounted under ``namespace`` (validated in isolation, local names)."""

    namespace: str
    schema: ModuleSchema


T = TypeVar("T")


def replace(obj: T, **changes: Any) -> T:
    """A copy of the schema part ``obj`` with ``changes`` applied."""
    return dataclasses.replace(obj, **changes)  # type: ignore[type-var]
