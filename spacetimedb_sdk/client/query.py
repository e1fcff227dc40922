"""A typed query builder that compiles to the subscription SQL subset (docs/protocol.md#sql-subset).

Start from ``conn.from_`` (or a :class:`QueryBuilder` over a module), pick a table, filter it::

    q = conn.from_.user.where(lambda u: u.online == True)
    q = conn.from_.player.where(lambda p: (p.level >= 10) & ~(p.name == "bot"))
    q = conn.from_.message.left_semijoin(conn.from_.user, lambda m, u: m.sender == u.identity)
    conn.subscription_builder().subscribe(q)          # or subscribe([q1, q2, "SELECT ..."])
    q.to_sql()  # 'SELECT * FROM "user" WHERE "user"."online" = TRUE'

Columns compare with ``== != < <= > >=`` or ``eq ne lt lte gt gte`` against a literal or
another column; predicates combine with ``&``, ``|``, ``~`` (or ``and_``, ``or_``, ``not_``);
chained ``where`` calls are ANDed. The server's subscription SQL has no ``NOT``, so a negation is
compiled by pushing it down to the comparisons (``~(a < 1)`` is ``a >= 1``, De Morgan for
``AND``/``OR``); comparisons there never see NULLs, so this is exact. A boolean column alone is ``column = TRUE``. A semijoin
returns the rows of one table that have a match in the other, joined on equal (indexed)
columns. Literals are rendered from their Python type: Identity/ConnectionId/bytes as ``0x…``
hex, Timestamp as an RFC 3339 string, Uuid as its canonical string, strings quoted with ``''``.

:meth:`TableQuery.matches` evaluates a single-table filter against a row on the client.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from spacetimedb_sdk.core.table_layout import CompiledModule, TableLayout
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.timestamp import Timestamp
from spacetimedb_sdk.uuid import Uuid

__all__ = [
    "Col",
    "Predicate",
    "QueryBuilder",
    "RowCols",
    "SemijoinQuery",
    "TableQuery",
    "and_",
    "not_",
    "or_",
    "quote_identifier",
    "sql_literal",
    "to_sql",
]

_OPS = {"eq": "=", "ne": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_NEGATED = {"eq": "ne", "ne": "eq", "lt": "gte", "lte": "gt", "gt": "lte", "gte": "lt"}
_PY_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: bool(a == b),
    "ne": lambda a, b: bool(a != b),
    "lt": lambda a, b: bool(a < b),
    "lte": lambda a, b: bool(a <= b),
    "gt": lambda a, b: bool(a > b),
    "gte": lambda a, b: bool(a >= b),
}


def quote_identifier(name: str) -> str:
    """A double-quoted SQL identifier (SpacetimeDB identifiers are case-sensitive)."""
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: Any) -> str:
    """The SQL literal of a Python value."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no SQL literal")
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, (Identity, ConnectionId)):
        return "0x" + value.to_hex()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "0x" + bytes(value).hex()
    if isinstance(value, Timestamp):
        return "'" + value.to_iso() + "'"
    if isinstance(value, Uuid):
        return "'" + str(value) + "'"
    raise TypeError(f"cannot use a {type(value).__name__} as an SQL literal")


class Predicate:
    """A boolean condition over one or two tables' columns."""

    __slots__ = ()

    def to_sql(self) -> str:
        """The SQL text of the condition."""
        raise NotImplementedError

    def evaluate(self, rows: Mapping[str, Any]) -> bool:
        """Evaluate against rows by table name (each row a dict or an object)."""
        raise NotImplementedError

    def tables(self) -> set[str]:
        """The tables whose columns the condition reads."""
        raise NotImplementedError

    def negated(self) -> Predicate:
        """The negation, without NOT (pushed down to the comparisons)."""
        raise NotImplementedError

    def __and__(self, other: Predicate) -> Predicate:
        return and_(self, other)

    def __or__(self, other: Predicate) -> Predicate:
        return or_(self, other)

    def __invert__(self) -> Predicate:
        return not_(self)

    def and_(self, *others: Predicate) -> Predicate:
        """This condition AND the others."""
        return and_(self, *others)

    def or_(self, *others: Predicate) -> Predicate:
        """This condition OR the others."""
        return or_(self, *others)

    def not_(self) -> Predicate:
        """The negation of this condition."""
        return not_(self)

    def __bool__(self) -> bool:
        raise TypeError("use & | ~ (or and_/or_/not_) to combine query conditions, not and/or/not")

    def __str__(self) -> str:
        return self.to_sql()


def _value_of(row: Any, col: Col) -> Any:
    if isinstance(row, Mapping):
        return row[col.name]
    return getattr(row, col.attr)


class Col:
    """A column of a table in a query; compare it to build a :class:`Predicate`."""

    __slots__ = ("attr", "name", "table")

    def __init__(self, table: str, name: str, attr: str | None = None) -> None:
        #: The table's and the column's canonical names.
        self.table = table
        self.name = name
        #: The attribute to read on a row object (the accessor name).
        self.attr = attr or name

    def to_sql(self) -> str:
        """``"table"."column"``."""
        return f"{quote_identifier(self.table)}.{quote_identifier(self.name)}"

    def _cmp(self, op: str, other: Any) -> Comparison:
        return Comparison(op, self, other)

    def eq(self, other: Any) -> Comparison:
        """``self = other``."""
        return self._cmp("eq", other)

    def ne(self, other: Any) -> Comparison:
        """``self <> other``."""
        return self._cmp("ne", other)

    def lt(self, other: Any) -> Comparison:
        """``self < other``."""
        return self._cmp("lt", other)

    def lte(self, other: Any) -> Comparison:
        """``self <= other``."""
        return self._cmp("lte", other)

    def gt(self, other: Any) -> Comparison:
        """``self > other``."""
        return self._cmp("gt", other)

    def gte(self, other: Any) -> Comparison:
        """``self >= other``."""
        return self._cmp("gte", other)

    __eq__ = eq  # type: ignore[assignment]
    __ne__ = ne  # type: ignore[assignment]
    __lt__ = lt
    __le__ = lte
    __gt__ = gt
    __ge__ = gte
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Col({self.table!r}, {self.name!r})"


class Comparison(Predicate):
    """``left op right``: a column compared with a literal or with another column."""

    __slots__ = ("left", "op", "right")

    def __init__(self, op: str, left: Col, right: Any) -> None:
        self.op = op
        self.left = left
        self.right = right
        if not isinstance(right, Col):
            sql_literal(right)  # fail early on values that have no literal

    def to_sql(self) -> str:
        right = self.right.to_sql() if isinstance(self.right, Col) else sql_literal(self.right)
        return f"{self.left.to_sql()} {_OPS[self.op]} {right}"

    def evaluate(self, rows: Mapping[str, Any]) -> bool:
        left = _value_of(rows[self.left.table], self.left)
        right = self.right
        if isinstance(right, Col):
            right = _value_of(rows[right.table], right)
        return _PY_OPS[self.op](left, right)

    def tables(self) -> set[str]:
        found = {self.left.table}
        if isinstance(self.right, Col):
            found.add(self.right.table)
        return found

    def negated(self) -> Predicate:
        return Comparison(_NEGATED[self.op], self.left, self.right)


class _Junction(Predicate):
    __slots__ = ("clauses",)
    keyword = ""

    def __init__(self, clauses: tuple[Predicate, ...]) -> None:
        self.clauses = clauses

    def to_sql(self) -> str:
        return f" {self.keyword} ".join(f"({c.to_sql()})" for c in self.clauses)

    def tables(self) -> set[str]:
        return set().union(*(c.tables() for c in self.clauses))


class And(_Junction):
    """All clauses hold."""

    __slots__ = ()
    keyword = "AND"

    def evaluate(self, rows: Mapping[str, Any]) -> bool:
        return all(c.evaluate(rows) for c in self.clauses)

    def negated(self) -> Predicate:
        return or_(*(c.negated() for c in self.clauses))


class Or(_Junction):
    """At least one clause holds."""

    __slots__ = ()
    keyword = "OR"

    def evaluate(self, rows: Mapping[str, Any]) -> bool:
        return any(c.evaluate(rows) for c in self.clauses)

    def negated(self) -> Predicate:
        return and_(*(c.negated() for c in self.clauses))


class Not(Predicate):
    """The clause does not hold (rendered without ``NOT``, see the module docs)."""

    __slots__ = ("clause",)

    def __init__(self, clause: Predicate) -> None:
        self.clause = clause

    def to_sql(self) -> str:
        return self.clause.negated().to_sql()

    def negated(self) -> Predicate:
        return self.clause

    def evaluate(self, rows: Mapping[str, Any]) -> bool:
        return not self.clause.evaluate(rows)

    def tables(self) -> set[str]:
        return self.clause.tables()


PredicateLike = Predicate | Col


def _predicate(value: PredicateLike) -> Predicate:
    if isinstance(value, Col):
        return Comparison("eq", value, True)  # a boolean column on its own
    if isinstance(value, Predicate):
        return value
    raise TypeError(f"expected a query condition, got {type(value).__name__}")


def and_(*clauses: PredicateLike) -> Predicate:
    """All of ``clauses`` (nested ANDs are flattened)."""
    flat: list[Predicate] = []
    for c in map(_predicate, clauses):
        flat.extend(c.clauses if isinstance(c, And) else (c,))
    if not flat:
        raise ValueError("and_() needs at least one condition")
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def or_(*clauses: PredicateLike) -> Predicate:
    """Any of ``clauses`` (nested ORs are flattened)."""
    flat: list[Predicate] = []
    for c in map(_predicate, clauses):
        flat.extend(c.clauses if isinstance(c, Or) else (c,))
    if not flat:
        raise ValueError("or_() needs at least one condition")
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


def not_(clause: PredicateLike) -> Predicate:
    """The negation of ``clause``."""
    return Not(_predicate(clause))


class RowCols:
    """The columns of one table, as attributes (accessor or canonical names)."""

    __slots__ = ("_cols", "_table")

    def __init__(self, layout: TableLayout) -> None:
        self._table = layout.name
        cols: dict[str, Col] = {}
        for i, el in enumerate(layout.row_type.elements):
            name = el.name or str(i)
            col = Col(layout.name, name, layout.row_attrs[i] if layout.row_attrs else name)
            cols.setdefault(name, col)
            if layout.accessor_columns:
                cols.setdefault(layout.accessor_columns[i], col)
            cols.setdefault(col.attr, col)
        self._cols = cols

    def __getattr__(self, name: str) -> Col:
        try:
            return self._cols[name]
        except KeyError:
            raise AttributeError(f"table {self._table!r} has no column {name!r}") from None

    def __getitem__(self, name: str) -> Col:
        return self.__getattr__(name)


WhereArg = PredicateLike | Callable[[RowCols], PredicateLike]
OnArg = Callable[[RowCols, RowCols], PredicateLike]


class TableQuery:
    """``SELECT * FROM <table> [WHERE …]``."""

    __slots__ = ("_cols", "layout", "predicate")

    def __init__(self, layout: TableLayout, predicate: Predicate | None = None) -> None:
        self.layout = layout
        self.predicate = predicate
        self._cols: RowCols | None = None

    @property
    def cols(self) -> RowCols:
        """The table's columns."""
        if self._cols is None:
            self._cols = RowCols(self.layout)
        return self._cols

    @property
    def table(self) -> str:
        """The table's canonical name."""
        return self.layout.name

    def _resolve(self, where: WhereArg) -> Predicate:
        if callable(where) and not isinstance(where, (Predicate, Col)):
            where = where(self.cols)
        pred = _predicate(where)
        foreign = pred.tables() - {self.table}
        if foreign:
            raise ValueError(f"a filter on {self.table!r} cannot use columns of {sorted(foreign)}")
        return pred

    def where(self, condition: WhereArg) -> TableQuery:
        """Rows that also satisfy ``condition`` (a predicate, or a function of the columns)."""
        pred = self._resolve(condition)
        return TableQuery(
            self.layout, pred if self.predicate is None else and_(self.predicate, pred)
        )

    filter = where

    def left_semijoin(self, other: TableQuery, on: OnArg) -> SemijoinQuery:
        """Rows of this table having a match in ``other`` (``on(self_cols, other_cols)``)."""
        return SemijoinQuery(self, other, _join_condition(on(self.cols, other.cols), self, other))

    def right_semijoin(self, other: TableQuery, on: OnArg) -> SemijoinQuery:
        """Rows of ``other`` having a match in this table (``on(self_cols, other_cols)``)."""
        return SemijoinQuery(other, self, _join_condition(on(self.cols, other.cols), self, other))

    def to_sql(self) -> str:
        """The SQL text."""
        sql = f"SELECT * FROM {quote_identifier(self.table)}"
        if self.predicate is not None:
            sql += f" WHERE {self.predicate.to_sql()}"
        return sql

    def matches(self, row: Any) -> bool:
        """Whether ``row`` (a row object or dict of this table) satisfies the filter."""
        return self.predicate is None or self.predicate.evaluate({self.table: row})

    def __str__(self) -> str:
        return self.to_sql()

    def __repr__(self) -> str:
        return f"TableQuery({self.to_sql()!r})"


def _join_condition(value: PredicateLike, a: TableQuery, b: TableQuery) -> Comparison:
    cond = _predicate(value)
    if not (
        isinstance(cond, Comparison)
        and cond.op == "eq"
        and isinstance(cond.right, Col)
        and {cond.left.table, cond.right.table} == {a.table, b.table}
    ):
        raise ValueError("a semijoin condition must be one column of each table compared with ==")
    if a.table == b.table:
        raise ValueError("a semijoin of a table with itself needs aliases; write the SQL instead")
    return cond


class SemijoinQuery:
    """``SELECT <source>.* FROM <filter> JOIN <source> ON … [WHERE …]``."""

    __slots__ = ("filter_query", "on", "source")

    def __init__(self, source: TableQuery, filter_query: TableQuery, on: Comparison) -> None:
        #: The table whose rows are returned, and the table they must have a match in.
        self.source = source
        self.filter_query = filter_query
        self.on = on

    def where(self, condition: WhereArg) -> SemijoinQuery:
        """Also filter the returned table's rows."""
        return SemijoinQuery(self.source.where(condition), self.filter_query, self.on)

    filter = where

    def to_sql(self) -> str:
        """The SQL text."""
        src, flt = self.source, self.filter_query
        sql = (
            f"SELECT {quote_identifier(src.table)}.* FROM {quote_identifier(flt.table)} "
            f"JOIN {quote_identifier(src.table)} ON {self.on.to_sql()}"
        )
        clauses = [q.predicate for q in (flt, src) if q.predicate is not None]
        if clauses:
            sql += f" WHERE {and_(*clauses).to_sql()}"
        return sql

    def __str__(self) -> str:
        return self.to_sql()

    def __repr__(self) -> str:
        return f"SemijoinQuery({self.to_sql()!r})"


Query = TableQuery | SemijoinQuery


def to_sql(query: Query | str) -> str:
    """The SQL text of a query (a string is returned as is)."""
    return query if isinstance(query, str) else query.to_sql()


class QueryBuilder:
    """Entry point of typed queries: one :class:`TableQuery` per table, by accessor or
    canonical name (``builder.user``, ``builder["user"]``), or by the name the connection's
    ``db`` gives it (generated bindings: ``player_1`` for the accessor ``player1``)."""

    __slots__ = ("_module", "_tables")

    def __init__(self, module: CompiledModule, tables: object = None) -> None:
        self._module = module
        #: The connection's ``db``: its table handles name their table (``table_name``).
        self._tables = tables

    def table(self, name: str) -> TableQuery:
        """The query of every row of table ``name``."""
        layout = self._module.find(name)
        if layout is None and self._tables is not None and not name.startswith("_"):
            handle = getattr(self._tables, name, None)
            canonical = getattr(handle, "table_name", None)
            if isinstance(canonical, str):
                layout = self._module.find(canonical)
        if layout is None:
            raise KeyError(f"the module has no table or view {name!r}")
        return TableQuery(layout)

    def __getattr__(self, name: str) -> TableQuery:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self.table(name)
        except KeyError:
            raise AttributeError(f"the module has no table or view {name!r}") from None

    def __getitem__(self, name: str) -> TableQuery:
        return self.table(name)
