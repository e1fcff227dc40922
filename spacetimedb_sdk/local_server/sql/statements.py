"""Binding: the HTTP ``/sql`` statements (SELECT with projections, DML, SET / SHOW)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from spacetimedb_sdk.algebraic_type import (
    BOOL,
    STRING,
    U8,
    U64,
    AlgebraicType,
    array,
)
from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.local_server.sql.ast import (
    CountStar,
    Delete,
    Expr,
    Insert,
    Literal,
    Query,
    SetVar,
    Star,
    Statement,
    Update,
    mentions_sender,
)
from spacetimedb_sdk.local_server.sql.catalog import Catalog, TableInfo
from spacetimedb_sdk.local_server.sql.errors import SqlError, recursion_guard
from spacetimedb_sdk.local_server.sql.literals import parse_literal
from spacetimedb_sdk.local_server.sql.predicates import always_true, compile_predicate
from spacetimedb_sdk.local_server.sql.queries import FromClause, Row, bind_from, star_source
from spacetimedb_sdk.local_server.sql.row_budget import RowBudget
from spacetimedb_sdk.local_server.sql.typed_tree import (
    BoundExpr,
    FieldRef,
    Source,
    TypeChecker,
    require_table,
    unexpected_type,
)

__all__ = [
    "BoundDelete",
    "BoundInsert",
    "BoundSelect",
    "BoundSetVar",
    "BoundShowVar",
    "BoundStatement",
    "BoundUpdate",
    "OutputColumn",
    "bind_sql",
]


#: The only system variable ``SET``/``SHOW`` know.
_SYSTEM_VARIABLES: Final = frozenset({"row_limit"})


@dataclass(frozen=True)
class OutputColumn:
    """One column of a ``/sql`` result schema."""

    name: str
    type: AlgebraicType


@dataclass(frozen=True)
class BoundSelect:
    """A type-checked HTTP ``SELECT``; :meth:`execute` produces its result rows."""

    query: Query
    columns: tuple[OutputColumn, ...]
    sources: tuple[Source, ...]
    limit: int | None
    _from: FromClause = field(repr=False, compare=False)
    _star: Source | None = field(repr=False, compare=False)
    _fields: tuple[FieldRef, ...] = field(repr=False, compare=False)
    _count: bool = field(repr=False, compare=False)

    def execute(
        self, scan: Callable[[str], Iterable[Row]], budget: RowBudget | None = None
    ) -> list[list[Any]]:
        """Result rows as value lists in :attr:`columns` order (``COUNT`` gives one row).

        A ``budget`` bounds the rows scanned (:class:`RowLimitExceededError` once spent).
        """
        matches = self._from.matches(scan, budget)
        if self._count:
            rows: list[list[Any]] = [[sum(1 for _ in matches)]]
        elif self._star is not None:
            alias = self._star.alias
            names = [c.name for c in self._star.table.columns]
            rows = []
            for env in matches:
                if self.limit is not None and len(rows) >= self.limit:
                    break
                row = env[alias]
                rows.append([row[name] for name in names])
        else:
            rows = []
            for env in matches:
                if self.limit is not None and len(rows) >= self.limit:
                    break
                rows.append([env[f.alias][f.column] for f in self._fields])
        return rows if self.limit is None else rows[: self.limit]


@dataclass(frozen=True)
class BoundInsert:
    """Rows to insert, as column name -> value dicts (values in column order, as the server)."""

    table: TableInfo
    rows: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class BoundUpdate:
    """Column values to set on every row matching ``predicate``."""

    table: TableInfo
    assignments: tuple[tuple[str, Any], ...]
    filter: BoundExpr | None
    predicate: Callable[[Row], bool] = field(repr=False, compare=False)


@dataclass(frozen=True)
class BoundDelete:
    """Delete every row matching ``predicate``."""

    table: TableInfo
    filter: BoundExpr | None
    predicate: Callable[[Row], bool] = field(repr=False, compare=False)


@dataclass(frozen=True)
class BoundSetVar:
    """``SET row_limit = n``."""

    name: str
    value: int


@dataclass(frozen=True)
class BoundShowVar:
    """``SHOW row_limit``."""

    name: str


BoundStatement: TypeAlias = (
    BoundSelect | BoundInsert | BoundUpdate | BoundDelete | BoundSetVar | BoundShowVar
)


def bind_sql(
    statement: Statement, catalog: Catalog, *, sender: Identity | None = None
) -> BoundStatement:
    """Resolve and type-check an HTTP ``/sql`` statement (permissions are the caller's job)."""
    with recursion_guard("type checker"):
        return _bind_statement(statement, catalog, sender)


def _bind_statement(
    statement: Statement, catalog: Catalog, sender: Identity | None
) -> BoundStatement:
    if isinstance(statement, Query):
        return _bind_select(statement, catalog, sender)
    if isinstance(statement, Insert):
        return _bind_insert(statement, catalog)
    if isinstance(statement, Update):
        table = _dml_table(catalog, statement.table)
        values = []
        for assignment in statement.assignments:
            column = table.column(assignment.column)
            if column is None:
                raise SqlError(f"`{table.name}` does not have a field `{assignment.column}`")
            values.append((column.name, _dml_value(assignment.value, table.resolved_type(column))))
        where, predicate = _bind_dml_filter(statement.table, table, statement.where, sender)
        return BoundUpdate(table, tuple(values), where, predicate)
    if isinstance(statement, Delete):
        table = _dml_table(catalog, statement.table)
        where, predicate = _bind_dml_filter(statement.table, table, statement.where, sender)
        return BoundDelete(table, where, predicate)
    if isinstance(statement, SetVar):
        _check_variable(statement.name)
        literal = statement.value
        if literal.kind != "number":
            inferred = {"bool": BOOL, "string": STRING}.get(literal.kind, array(U8))
            raise unexpected_type(U64, inferred)
        value = parse_literal(literal.text, U64)
        return BoundSetVar(statement.name, value)
    _check_variable(statement.name)
    return BoundShowVar(statement.name)


def _check_variable(name: str) -> None:
    if name not in _SYSTEM_VARIABLES:
        raise SqlError(f"{name} is not a valid system variable")


def _bind_select(query: Query, catalog: Catalog, sender: Identity | None) -> BoundSelect:
    checker = TypeChecker()
    bound_from = bind_from(query, catalog, checker, sender)
    projection = query.projection
    star: Source | None = None
    fields: tuple[FieldRef, ...] = ()
    if isinstance(projection, Star):
        star = star_source(projection, bound_from.sources)
        columns = tuple(
            OutputColumn(c.name, star.table.resolved_type(c)) for c in star.table.columns
        )
    elif isinstance(projection, CountStar):
        columns = (OutputColumn(projection.alias, U64),)
    else:
        seen: set[str] = set()
        refs = []
        for item in projection.items:
            if item.alias in seen:
                raise SqlError(f"Duplicate name `{item.alias}`")
            seen.add(item.alias)
            refs.append(checker.field(item.column))
        fields = tuple(refs)
        columns = tuple(
            OutputColumn(item.alias, ref.ty)
            for item, ref in zip(projection.items, fields, strict=True)
        )
    limit = None
    if query.limit is not None:
        limit = parse_literal(query.limit, U64)
    return BoundSelect(
        query=query,
        columns=columns,
        sources=bound_from.sources,
        limit=limit,
        _from=bound_from,
        _star=star,
        _fields=fields,
        _count=isinstance(projection, CountStar),
    )


def _dml_table(catalog: Catalog, name: str) -> TableInfo:
    table = require_table(catalog, name)
    if table.is_view:
        raise SqlError(f"`{table.name}` is a view; DML on views is not supported")
    return table


def _dml_value(literal: Literal, ty: AlgebraicType) -> Any:
    # DML is stricter than WHERE: a quoted string only fits a String column, a boolean only Bool.
    if literal.kind == "bool":
        if ty != BOOL:
            raise unexpected_type(ty, BOOL)
        return literal.text == "true"
    if literal.kind == "string":
        if ty != STRING:
            raise unexpected_type(ty, STRING)
        return literal.text
    return parse_literal(literal.text, ty)


def _bind_insert(insert: Insert, catalog: Catalog) -> BoundInsert:
    table = _dml_table(catalog, insert.table)
    count = len(table.columns)
    if len(insert.columns) != count:
        raise SqlError(
            f"The number of fields ({len(insert.columns)}) in the INSERT does not match the "
            f"number of columns ({count}) of the table `{table.name}`"
        )
    rows = []
    for literals in insert.rows:
        if len(literals) != count:
            raise SqlError(
                f"Inserting a row with {len(literals)} values into `{table.name}` "
                f"which has {count} fields"
            )
        # Like the server, values are matched to the table's columns by position.
        rows.append(
            {
                column.name: _dml_value(literal, table.resolved_type(column))
                for column, literal in zip(table.columns, literals, strict=True)
            }
        )
    return BoundInsert(table, tuple(rows))


def _bind_dml_filter(
    written_name: str, table: TableInfo, where: Expr | None, sender: Identity | None
) -> tuple[BoundExpr | None, Callable[[Row], bool]]:
    if where is None:
        return None, always_true
    checker = TypeChecker()
    checker.add(written_name, table)
    bound = checker.check(where, BOOL)
    if mentions_sender(where) and sender is None:
        raise SqlError("the query uses :sender but no caller identity was given")
    return bound, compile_predicate(bound, True, sender)
