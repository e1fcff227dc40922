"""Which index accessors a table's handle gets: one rule for generated bindings
(``codegen/plan.py`` turns each into a typed property) and for run-time handles
(``core/table_layout.py`` maps each name to its index, ``handle.<name>`` in ``client/table.py``).

* a unique finder for every single-column unique constraint on a *filterable* column (integers,
  ``bool``, ``String``, ``Identity``, ``ConnectionId`` and plain enums;
  docs/module-def.md#client-surface), named after the accessor of an index on exactly that
  column when there is one, else after the column;
* a B-tree filter for every other index that has an accessor name.

Event tables get none. Names are the module's own; generated code escapes them into Python
identifiers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

from spacetimedb_sdk.algebraic_type import AlgebraicType, PrimitiveType, special_kind
from spacetimedb_sdk.schema.model import TableSchema

__all__ = ["IndexAccessor", "index_accessors", "is_filterable"]

_FILTERABLE_PRIMITIVES: Final = frozenset(
    {"I8", "U8", "I16", "U16", "I32", "U32", "I64", "U64", "I128", "U128", "I256", "U256"}
    | {"Bool", "String"}
)


@dataclass(frozen=True)
class IndexAccessor:
    """One index accessor of a table handle."""

    #: The name as the module gives it (an index accessor name, or the column's name).
    name: str
    kind: Literal["unique", "btree"]
    #: The canonical column name (unique) or the canonical index name (btree).
    target: str
    #: Positions of the indexed columns.
    columns: tuple[int, ...]


def is_filterable(ty: AlgebraicType, is_plain_enum: Callable[[AlgebraicType], bool]) -> bool:
    """Whether clients get a unique finder on a column of this type."""
    if isinstance(ty, PrimitiveType):
        return ty.name in _FILTERABLE_PRIMITIVES
    if special_kind(ty) in ("identity", "connection_id"):
        return True
    return is_plain_enum(ty)


def index_accessors(
    table: TableSchema, is_plain_enum: Callable[[AlgebraicType], bool]
) -> tuple[IndexAccessor, ...]:
    """The accessors of ``table``'s handle, unique finders first (by constraint name), then
    B-tree filters (by index name)."""
    if table.is_event:
        return ()
    out: list[IndexAccessor] = []
    used_indexes: set[str] = set()
    unique_single = sorted((c for c in table.constraints if len(c.columns) == 1), key=_name)
    for constraint in unique_single:
        col = constraint.columns[0]
        column = table.columns[col]
        if not is_filterable(column.algebraic_type, is_plain_enum):
            continue
        backing = sorted(
            (ix for ix in table.indexes if ix.accessor_name is not None and set(ix.columns) == {col}),
            key=_name,
        )
        name = column.name
        if backing:
            used_indexes.add(backing[0].name)
            name = backing[0].accessor_name or column.name
        out.append(IndexAccessor(name, "unique", column.name, (col,)))
    for ix in sorted(table.indexes, key=_name):
        if ix.accessor_name is None or ix.name in used_indexes:
            continue
        out.append(IndexAccessor(ix.accessor_name, "btree", ix.name, tuple(ix.columns)))
    return tuple(out)


def _name(item: object) -> str:
    name: str = getattr(item, "name")  # noqa: B009 - constraints and indexes alike
    return name
