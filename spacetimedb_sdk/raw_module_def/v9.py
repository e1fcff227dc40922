"""``RawModuleDefV9``: what 1.x modules emit and the ``version=9`` schema endpoint serves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from spacetimedb_sdk.algebraic_type import AlgebraicType, ProductType, Typespace
from spacetimedb_sdk.raw_module_def.common import (
    RawConstraintDataV9,
    RawIndexAlgorithm,
    RawRowLevelSecurityDefV9,
)
from spacetimedb_sdk.raw_module_def.enums import Lifecycle, TableAccess, TableType

__all__ = [
    "RawColumnDefaultValueV9",
    "RawConstraintDefV9",
    "RawIndexDefV9",
    "RawMiscModuleExportV9",
    "RawModuleDefV9",
    "RawProcedureDefV9",
    "RawReducerDefV9",
    "RawScheduleDefV9",
    "RawScopedTypeNameV9",
    "RawSequenceDefV9",
    "RawTableDefV9",
    "RawTypeDefV9",
    "RawViewDefV9",
]


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
