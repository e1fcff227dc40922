"""Column and index options for table classes.

Column options are written as the field's default value (or as ``Annotated`` metadata)::

    @table(public=True)
    class Person:
        id: u64 = primary_key(auto_inc=True)
        email: str = unique()
        age: u32 = index()                   # a BTree index on one column
        nickname: str | None = column(default=None)

    # or, equivalently, in the annotation:
    #     id: Annotated[u64, primary_key(auto_inc=True)]

Indexes over several columns are declared on the table::

    @table(indexes=[btree_index("by_x_y", "x", "y")])
    class Point: ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

__all__ = [
    "NO_DEFAULT",
    "ColumnOptions",
    "IndexAlgorithm",
    "TableIndex",
    "auto_inc",
    "btree_index",
    "column",
    "direct_index",
    "hash_index",
    "index",
    "primary_key",
    "unique",
]

IndexAlgorithm = Literal["btree", "hash", "direct"]
_ALGORITHMS: Final = ("btree", "hash", "direct")


class _NoDefault:
    """Sentinel: the column has no default value."""

    _instance: _NoDefault | None = None

    def __new__(cls) -> _NoDefault:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Final = _NoDefault()


@dataclass(frozen=True)
class ColumnOptions:
    """What a column declares besides its type; combine two with ``|``."""

    primary_key: bool = False
    unique: bool = False
    auto_inc: bool = False
    index: IndexAlgorithm | None = None
    default: Any = NO_DEFAULT

    def __or__(self, other: ColumnOptions) -> ColumnOptions:
        if not isinstance(other, ColumnOptions):
            return NotImplemented
        return ColumnOptions(
            primary_key=self.primary_key or other.primary_key,
            unique=self.unique or other.unique,
            auto_inc=self.auto_inc or other.auto_inc,
            index=other.index or self.index,
            default=other.default if other.default is not NO_DEFAULT else self.default,
        )

    @property
    def has_default(self) -> bool:
        """True when a default value was given."""
        return self.default is not NO_DEFAULT


def _check_algorithm(algorithm: str) -> IndexAlgorithm:
    if algorithm not in _ALGORITHMS:
        raise ValueError(f"index algorithm must be one of {_ALGORITHMS}, got {algorithm!r}")
    return algorithm  # type: ignore[return-value]


# The helpers are typed as returning Any so that ``id: u64 = primary_key()`` type-checks.


def column(
    *,
    primary_key: bool = False,
    unique: bool = False,
    auto_inc: bool = False,
    index: IndexAlgorithm | None = None,
    default: Any = NO_DEFAULT,
) -> Any:
    """All column options at once; ``default`` is also the constructor default."""
    return ColumnOptions(
        primary_key=primary_key,
        unique=unique,
        auto_inc=auto_inc,
        index=None if index is None else _check_algorithm(index),
        default=default,
    )


def primary_key(*, auto_inc: bool = False, default: Any = NO_DEFAULT) -> Any:
    """The table's primary key (unique, with a BTree index; at most one per table)."""
    return ColumnOptions(primary_key=True, auto_inc=auto_inc, default=default)


def unique(*, auto_inc: bool = False, default: Any = NO_DEFAULT) -> Any:
    """A unique column (with a BTree index and a ``find``/``delete`` accessor)."""
    return ColumnOptions(unique=True, auto_inc=auto_inc, default=default)


def auto_inc(*, default: Any = NO_DEFAULT) -> Any:
    """An integer column filled from a sequence when a row is inserted with 0 in it."""
    return ColumnOptions(auto_inc=True, default=default)


def index(algorithm: IndexAlgorithm = "btree", *, default: Any = NO_DEFAULT) -> Any:
    """A single-column index (``"btree"`` supports ranges, ``"hash"`` equality only)."""
    return ColumnOptions(index=_check_algorithm(algorithm), default=default)


@dataclass(frozen=True)
class TableIndex:
    """A table-level index over one or more columns (by Python field name), with an accessor."""

    accessor: str
    columns: tuple[str, ...]
    algorithm: IndexAlgorithm = "btree"

    def __post_init__(self) -> None:
        if not self.columns:
            raise ValueError(f"index {self.accessor!r} needs at least one column")
        _check_algorithm(self.algorithm)
        if self.algorithm == "direct" and len(self.columns) != 1:
            raise ValueError("a direct index covers exactly one column")


def btree_index(accessor: str, *columns: str) -> TableIndex:
    """A BTree index named ``accessor`` over ``columns`` (prefix and range filters)."""
    return TableIndex(accessor, tuple(columns), "btree")


def hash_index(accessor: str, *columns: str) -> TableIndex:
    """A hash index named ``accessor`` over ``columns`` (equality filters only)."""
    return TableIndex(accessor, tuple(columns), "hash")


def direct_index(accessor: str, column_name: str) -> TableIndex:
    """A direct index on one small unsigned-integer or plain-enum column."""
    return TableIndex(accessor, (column_name,), "direct")
