"""What the datastore needs to know about a table (a narrow, self-contained description).

The host derives these from the module; the datastore never looks at module definitions.
Rows are values of a bound class (``row_type`` is a ``Ref`` with a binding), read by attribute.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spacetimedb_sdk.algebraic_type import AlgebraicType, ProductType, Typespace
from spacetimedb_sdk.bsatn import Bindings
from spacetimedb_sdk.local_server.sequences import SequenceSpec
from spacetimedb_sdk.module.columns import IndexAlgorithm

__all__ = ["ColumnSpec", "IndexSpec", "ScheduleSpec", "TableSpec"]


@dataclass(frozen=True)
class ColumnSpec:
    """A column: canonical name, the attribute holding it in row objects, and its type."""

    name: str
    attr: str
    type: AlgebraicType


@dataclass(frozen=True)
class IndexSpec:
    """An index: canonical name, accessor (module handle attribute), algorithm, columns."""

    name: str
    accessor: str
    algorithm: IndexAlgorithm
    columns: tuple[int, ...]


@dataclass(frozen=True)
class ScheduleSpec:
    """Schedule-table link: the function it drives and the ``ScheduleAt`` column."""

    function: str
    at_column: int


@dataclass(frozen=True)
class TableSpec:
    """One table: names, row type, constraints, indexes, sequences and flags."""

    name: str
    columns: tuple[ColumnSpec, ...]
    #: The row type as written in the module (normally a ``Ref`` to the bound class).
    row_type: AlgebraicType
    typespace: Typespace
    bindings: Bindings
    primary_key: int | None = None
    #: Column sets with a unique constraint (the primary key's included).
    unique: tuple[tuple[int, ...], ...] = ()
    indexes: tuple[IndexSpec, ...] = ()
    sequences: tuple[SequenceSpec, ...] = ()
    is_event: bool = False
    public: bool = False
    #: System tables (``st_client``) are kept out of the deltas published to listeners.
    system: bool = False
    schedule: ScheduleSpec | None = None
    accessor: str = ""
    extra: dict[str, object] = field(default_factory=dict, compare=False)

    @property
    def product_type(self) -> ProductType:
        """The resolved row product type."""
        ty = self.typespace.resolve(self.row_type)
        if not isinstance(ty, ProductType):
            raise TypeError(f"table {self.name!r} row type is not a product")
        return ty
