"""The tables binding resolves names against: :class:`TableInfo`, :class:`Catalog`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from spacetimedb_sdk.algebraic_type import (
    AlgebraicType,
    Typespace,
)
from spacetimedb_sdk.local_server.sql.ast import Query

__all__ = [
    "Catalog",
    "ColumnInfo",
    "RowFilterShape",
    "SimpleCatalog",
    "TableInfo",
    "queries_for_all_tables",
]


@dataclass(frozen=True)
class ColumnInfo:
    """A column: canonical ``name``, type, and the module-source ``accessor`` name if different."""

    name: str
    type: AlgebraicType
    accessor: str | None = None


@dataclass(frozen=True)
class RowFilterShape:
    """What the join planner sees of one visibility filter spliced in for a table: whether it
    filters at all (``filtered``) and which columns it fixes with ``= constant``."""

    filtered: bool
    fixed: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TableInfo:
    """What binding needs to know about one table or view.

    ``indexed_columns`` lists columns that lead some index and ``index_columns`` every index's
    columns in order (``None`` = unknown, and then the subscription rule "join columns must be
    indexed" is not enforced). A view's ``index_columns`` is its primary key, if any (the real
    server indexes a view's hidden argument column followed by that key). Column types may
    contain ``Ref``s into ``typespace``.
    """

    name: str
    columns: tuple[ColumnInfo, ...]
    accessor: str | None = None
    is_event: bool = False
    is_view: bool = False
    indexed_columns: frozenset[str] | None = None
    index_columns: tuple[tuple[str, ...], ...] | None = None
    #: The caller's visibility filters on this table (each one is planned separately).
    row_filters: tuple[RowFilterShape, ...] = ()
    typespace: Typespace = field(default_factory=Typespace)

    @classmethod
    def of(
        cls, name: str, columns: Iterable[tuple[str, AlgebraicType]], **options: Any
    ) -> TableInfo:
        """Build from ``(column name, type)`` pairs; ``options`` are the other fields."""
        return cls(name, tuple(ColumnInfo(n, t) for n, t in columns), **options)

    @property
    def indexes(self) -> tuple[tuple[str, ...], ...] | None:
        """Every index's columns (from ``index_columns``, else one per ``indexed_columns``)."""
        if self.index_columns is not None:
            return self.index_columns
        if self.indexed_columns is None:
            return None
        return tuple((c,) for c in sorted(self.indexed_columns))

    def column(self, name: str) -> ColumnInfo | None:
        """Look a column up by accessor name first, then by canonical name (as the server does)."""
        for column in self.columns:
            if column.accessor == name:
                return column
        for column in self.columns:
            if column.name == name:
                return column
        return None

    def resolved_type(self, column: ColumnInfo) -> AlgebraicType:
        """The column's type with top-level ``Ref``s followed."""
        try:
            return self.typespace.resolve(column.type)
        except ValueError:
            return column.type


class Catalog(Protocol):
    """The tables a caller can see, by canonical name or accessor name.

    Tables the caller may not read (private tables of other owners) must simply be absent, so
    that they are reported as unknown, like the real server does.
    """

    def lookup_table(self, name: str) -> TableInfo | None:
        """The table called ``name`` (canonical name first, then accessor), or None."""
        ...


class SimpleCatalog:
    """A :class:`Catalog` over a fixed list of tables."""

    def __init__(self, tables: Iterable[TableInfo]) -> None:
        self.tables: tuple[TableInfo, ...] = tuple(tables)
        self._by_name = {t.name: t for t in self.tables}
        self._by_accessor = {t.accessor: t for t in self.tables if t.accessor is not None}

    def lookup_table(self, name: str) -> TableInfo | None:
        """Canonical name first, then accessor name."""
        return self._by_name.get(name) or self._by_accessor.get(name)


def queries_for_all_tables(tables: Iterable[TableInfo]) -> list[Query]:
    """The expansion of ``SELECT * FROM *``: one ``SELECT * FROM t`` per non-event table.

    Pass only the tables the subscriber may read.
    """
    return [Query(t.name, t.name) for t in tables if not t.is_event]
