"""The query builder of views: ``ctx.from_`` builds a SQL query instead of computing rows.

A view annotated ``-> Query[Row]`` returns a query; the server evaluates it (and keeps its result
up to date incrementally, like a subscription)::

    @view(public=True)
    def level_2_people(ctx: AnonymousViewContext) -> Query[Person]:
        return (
            ctx.from_.player.where(lambda p: p.level.eq(2))
            .right_semijoin(ctx.from_.person, lambda p, per: p.id.eq(per.player_id))
        )

``ctx.from_.<accessor>`` is every row of a table; ``.where(pred)`` filters (combine conditions
with ``&`` and ``|``); ``.left_semijoin(other, on)`` keeps the left rows that have a match,
``.right_semijoin(other, on)`` the right rows. Column conditions: ``eq``, ``ne``, ``lt``, ``le``,
``gt``, ``ge`` against a literal or another column. :meth:`Query.to_sql` gives the SQL text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.uuid import Uuid

__all__ = ["Col", "Condition", "Query", "QueryBuilder", "TableNames"]

T = TypeVar("T")


@dataclass(frozen=True)
class TableNames:
    """How a table is named in SQL: its table name and each column's (by accessor)."""

    sql_name: str
    columns: Mapping[str, str]


def _quote(name: str) -> str:
    return name if name.isidentifier() and name.isascii() else '"' + name.replace('"', '""') + '"'


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (Identity, ConnectionId)):
        return "0x" + value.to_hex()
    if isinstance(value, Uuid):
        return f"'{value}'"
    raise TypeError(f"cannot use {type(value).__name__} as a SQL literal in a view query")


@dataclass(frozen=True)
class Condition:
    """A boolean SQL condition; ``a & b`` and ``a | b`` combine conditions."""

    sql: str

    def __and__(self, other: Condition) -> Condition:
        return Condition(f"({self.sql}) AND ({other.sql})")

    def __or__(self, other: Condition) -> Condition:
        return Condition(f"({self.sql}) OR ({other.sql})")


@dataclass(frozen=True)
class Col:
    """A column of a table in a query; compare it to build a :class:`Condition`."""

    sql: str

    def _cmp(self, op: str, other: Any) -> Condition:
        rhs = other.sql if isinstance(other, Col) else _literal(other)
        return Condition(f"{self.sql} {op} {rhs}")

    def eq(self, other: Any) -> Condition:
        """``column = other``."""
        return self._cmp("=", other)

    def ne(self, other: Any) -> Condition:
        """``column <> other``."""
        return self._cmp("<>", other)

    def lt(self, other: Any) -> Condition:
        """``column < other``."""
        return self._cmp("<", other)

    def le(self, other: Any) -> Condition:
        """``column <= other``."""
        return self._cmp("<=", other)

    def gt(self, other: Any) -> Condition:
        """``column > other``."""
        return self._cmp(">", other)

    def ge(self, other: Any) -> Condition:
        """``column >= other``."""
        return self._cmp(">=", other)


class _Cols:
    """The columns of one table, as attributes (by accessor name)."""

    def __init__(self, table: TableNames) -> None:
        self._table = table

    def __getattr__(self, accessor: str) -> Col:
        if accessor.startswith("_"):
            raise AttributeError(accessor)
        columns = self._table.columns
        if columns and accessor not in columns:
            raise AttributeError(f"table {self._table.sql_name!r} has no column {accessor!r}")
        column = columns.get(accessor, accessor)
        return Col(f"{_quote(self._table.sql_name)}.{_quote(column)}")


class Query(Generic[T]):
    """A query over one table (rows of type ``T``), possibly filtered and semijoined."""

    __slots__ = ("_join", "_table", "_where")

    def __init__(
        self,
        table: TableNames,
        where: Condition | None = None,
        join: tuple[TableNames, Condition, bool] | None = None,
    ) -> None:
        self._table = table
        self._where = where
        # (other table, ON condition, True when the other table's rows are the result)
        self._join = join

    def where(self, predicate: Callable[[Any], Condition]) -> Query[T]:
        """Keep the rows for which ``predicate(cols)`` holds (ANDed with earlier filters)."""
        if self._join is not None:
            raise TypeError("filter a query before joining it")
        cond = predicate(_Cols(self._table))
        return Query(self._table, cond if self._where is None else self._where & cond)

    def left_semijoin(self, other: Query[Any], on: Callable[[Any, Any], Condition]) -> Query[T]:
        """The rows of this query that match some row of ``other``."""
        return self._semijoin(other, on, right=False)

    def right_semijoin(self, other: Query[Any], on: Callable[[Any, Any], Condition]) -> Query[Any]:
        """The rows of ``other`` that match some row of this query."""
        return self._semijoin(other, on, right=True)

    def _semijoin(
        self, other: Query[Any], on: Callable[[Any, Any], Condition], right: bool
    ) -> Query[Any]:
        if self._join is not None or other._join is not None:
            raise TypeError("a view query joins at most two tables")
        if other._where is not None:
            raise TypeError("filter the left-hand query of a semijoin, not the right-hand one")
        cond = on(_Cols(self._table), _Cols(other._table))
        return Query(self._table, self._where, (other._table, cond, right))

    def to_sql(self) -> str:
        """The query as SQL text (SpacetimeDB's subscription dialect)."""
        lhs = _quote(self._table.sql_name)
        if self._join is None:
            sql = f"SELECT * FROM {lhs}"
        else:
            other, cond, right = self._join
            rhs = _quote(other.sql_name)
            result = rhs if right else lhs
            sql = f"SELECT {result}.* FROM {lhs} JOIN {rhs} ON {cond.sql}"
        if self._where is not None:
            sql += f" WHERE {self._where.sql}"
        return sql

    def __repr__(self) -> str:
        return f"Query({self.to_sql()!r})"


class QueryBuilder:
    """``ctx.from_``: one :class:`Query` per table, by accessor.

    Without a naming table (``tables``) accessors are used as SQL names, which the server accepts
    as aliases; hosts pass each table's canonical names.
    """

    def __init__(self, tables: Mapping[str, TableNames] | None = None) -> None:
        self._tables = dict(tables or {})

    def __getattr__(self, accessor: str) -> Query[Any]:
        if accessor.startswith("_"):
            raise AttributeError(accessor)
        if self._tables and accessor not in self._tables:
            raise AttributeError(f"no table with accessor {accessor!r}")
        return Query(self._tables.get(accessor, TableNames(accessor, {})))
