"""The SQL of SpacetimeDB: subscription / one-off queries and the HTTP ``/sql`` statements.

Parsing uses sqlglot's PostgreSQL dialect (the real server uses a PostgreSQL-dialect parser too)
and then narrows the result to our own small AST, rejecting everything SpacetimeDB rejects with
messages modelled on the server's (docs/protocol.md#sql-subset, docs/protocol.md#sql-endpoint):

* :func:`parse_subscription` / :func:`parse_one_off_query` — the subscription language:
  ``SELECT * | t.* FROM t [AS a] {[INNER|CROSS] JOIN u [AS b] [ON a.x = b.y]} [WHERE p]``;
  ``SELECT * FROM *`` (subscriptions only) comes back as :class:`AllTables`.
* :func:`parse_sql` — the HTTP language: additionally column lists, ``COUNT(*) AS n``, ``LIMIT``,
  ``INSERT``, ``UPDATE``, ``DELETE``, ``SET var = n`` and ``SHOW var``.

Binding resolves names against a :class:`Catalog`, types every literal from the column it is
compared with, and compiles predicates to plain Python closures over rows in the codec's
generic product shape (``dict`` column name -> value):

* :func:`bind_subscription` / :func:`bind_query` -> :class:`BoundQuery` (whole rows of one
  table; ``row_predicate()`` for single-table queries, ``evaluate()`` for any query);
* :func:`bind_sql` -> :class:`BoundSelect` / :class:`BoundInsert` / :class:`BoundUpdate` /
  :class:`BoundDelete` / :class:`BoundSetVar` / :class:`BoundShowVar`.

Every rejection raises :class:`SqlError`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import math
import operator
import re
import struct
import typing
import uuid as _uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Protocol, TypeAlias, TypeVar

from sqlglot import Dialect, Token, TokenType, exp
from sqlglot.errors import ParseError, TokenError

from spacetimedb_sdk.algebraic_type import (
    BOOL,
    IDENTITY,
    INTEGER_RANGES,
    STRING,
    U8,
    U64,
    AlgebraicType,
    ArrayType,
    PrimitiveType,
    ProductType,
    RefType,
    SumType,
    Typespace,
    array,
    special_kind,
)
from spacetimedb_sdk.errors import SpacetimeDBError
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.timestamp import Timestamp
from spacetimedb_sdk.uuid import Uuid

__all__ = [
    "MAX_SQL_LENGTH",
    "AllTables",
    "And",
    "Assignment",
    "BoundCompare",
    "BoundDelete",
    "BoundExpr",
    "BoundInsert",
    "BoundLogic",
    "BoundQuery",
    "BoundSelect",
    "BoundSetVar",
    "BoundShowVar",
    "BoundStatement",
    "BoundUpdate",
    "Catalog",
    "ColumnInfo",
    "ColumnList",
    "ColumnRef",
    "Compare",
    "CompareOp",
    "Constant",
    "CountStar",
    "Delete",
    "Expr",
    "FieldRef",
    "Insert",
    "Join",
    "Literal",
    "LiteralKind",
    "OutputColumn",
    "ProjectColumn",
    "Projection",
    "Query",
    "Row",
    "RowBudget",
    "RowLimitExceededError",
    "SenderParam",
    "SenderValue",
    "SetVar",
    "ShowVar",
    "SimpleCatalog",
    "Source",
    "SqlError",
    "Star",
    "Statement",
    "TableInfo",
    "Update",
    "bind_query",
    "bind_sql",
    "bind_subscription",
    "format_type",
    "is_select_all_tables",
    "parse_literal",
    "parse_one_off_query",
    "parse_sql",
    "parse_subscription",
    "queries_for_all_tables",
]

#: Queries longer than this many UTF-8 bytes are rejected before parsing (as the server does).
MAX_SQL_LENGTH: Final = 50_000
#: The only system variable ``SET``/``SHOW`` know.
_SYSTEM_VARIABLES: Final = frozenset({"row_limit"})

Row: TypeAlias = Mapping[str, Any]


class SqlError(SpacetimeDBError, ValueError):
    """A query or statement was rejected: syntax, unsupported construct, name or type error."""


# --------------------------------------------------------------------------------------------
# AST
# --------------------------------------------------------------------------------------------

CompareOp = typing.Literal["=", "<>", "<", "<=", ">", ">="]
LiteralKind = typing.Literal["number", "string", "hex", "bool"]


@dataclass(frozen=True)
class ColumnRef:
    """A column, optionally qualified by a table name or alias (``None`` = unqualified)."""

    table: str | None
    column: str


@dataclass(frozen=True)
class Literal:
    """A literal as written; its type comes from the column it meets.

    ``text`` is the number's digits (with sign), the string's contents, the hex digits (without
    ``0x``/``X'…'``), or ``"true"``/``"false"``.
    """

    kind: LiteralKind
    text: str


@dataclass(frozen=True)
class SenderParam:
    """``:sender`` — the caller's Identity."""


@dataclass(frozen=True)
class Compare:
    """``left op right``; ``!=`` is normalised to ``<>``."""

    op: CompareOp
    left: Expr
    right: Expr


@dataclass(frozen=True)
class And:
    """``a AND b AND ...``: a chain is kept flat (two or more operands), so that long
    generated filters do not nest thousands deep."""

    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """``a OR b OR ...`` (two or more operands, flat like :class:`And`)."""

    operands: tuple[Expr, ...]


Expr: TypeAlias = ColumnRef | Literal | SenderParam | Compare | And | Or


@dataclass(frozen=True)
class Star:
    """``*`` (``table=None``) or ``name.*``."""

    table: str | None = None


@dataclass(frozen=True)
class ProjectColumn:
    """One item of a column list: the column and its output name."""

    column: ColumnRef
    alias: str


@dataclass(frozen=True)
class ColumnList:
    """``SELECT a, t.b AS c`` (HTTP SQL only; subscriptions reject it when binding)."""

    items: tuple[ProjectColumn, ...]


@dataclass(frozen=True)
class CountStar:
    """``COUNT(*) AS alias`` (HTTP SQL only)."""

    alias: str


Projection: TypeAlias = Star | ColumnList | CountStar


@dataclass(frozen=True)
class Join:
    """``[INNER|CROSS] JOIN table [AS alias] [ON a.x = b.y]``."""

    table: str
    alias: str
    on: Compare | None = None


@dataclass(frozen=True)
class Query:
    """A SELECT. ``alias`` equals ``table`` when no alias was written."""

    table: str
    alias: str
    joins: tuple[Join, ...] = ()
    where: Expr | None = None
    projection: Projection = field(default_factory=Star)
    limit: str | None = None

    @property
    def uses_sender(self) -> bool:
        """True when the query mentions ``:sender`` (its result depends on the caller)."""
        return self.where is not None and _mentions_sender(self.where)


@dataclass(frozen=True)
class AllTables:
    """``SELECT * FROM *``: every readable non-event table (subscriptions only)."""


@dataclass(frozen=True)
class Insert:
    """``INSERT INTO table (columns) VALUES (...), ...``."""

    table: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Literal, ...], ...]


@dataclass(frozen=True)
class Assignment:
    """``column = literal`` in an UPDATE."""

    column: str
    value: Literal


@dataclass(frozen=True)
class Update:
    """``UPDATE table SET ... [WHERE ...]``."""

    table: str
    assignments: tuple[Assignment, ...]
    where: Expr | None = None


@dataclass(frozen=True)
class Delete:
    """``DELETE FROM table [WHERE ...]``."""

    table: str
    where: Expr | None = None


@dataclass(frozen=True)
class SetVar:
    """``SET name = literal`` / ``SET name TO literal`` (experimental in the server)."""

    name: str
    value: Literal


@dataclass(frozen=True)
class ShowVar:
    """``SHOW name`` (experimental in the server)."""

    name: str


Statement: TypeAlias = Query | Insert | Update | Delete | SetVar | ShowVar


def _children(expr: Expr) -> tuple[Expr, ...]:
    if isinstance(expr, Compare):
        return (expr.left, expr.right)
    if isinstance(expr, (And, Or)):
        return expr.operands
    return ()


def _walk(expr: Expr) -> Iterator[Expr]:
    """Every node of a predicate, without recursion."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(_children(node))


def _mentions_sender(expr: Expr) -> bool:
    return any(isinstance(node, SenderParam) for node in _walk(expr))


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------

_SELECT_ALL_TABLES: Final = re.compile(r"\A\s*(?i:SELECT)\s+\*\s+(?i:FROM)\s+\*\s*\Z")
_DIALECT: Final = Dialect.get_or_raise("postgres")

_COMPARE_OPS: Final[dict[type[exp.Expr], CompareOp]] = {
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.LT: "<",
    exp.LTE: "<=",
    exp.GT: ">",
    exp.GTE: ">=",
}
# Other binary operators sqlglot knows, with the spelling used in error messages.
_OTHER_BINARY_OPS: Final[dict[type[exp.Expr], str]] = {
    exp.Add: "+",
    exp.Sub: "-",
    exp.Mul: "*",
    exp.Div: "/",
    exp.Mod: "%",
    exp.DPipe: "||",
    exp.BitwiseAnd: "&",
    exp.BitwiseOr: "|",
    exp.BitwiseXor: "#",
    exp.BitwiseLeftShift: "<<",
    exp.BitwiseRightShift: ">>",
    exp.NullSafeEQ: "<=>",
    exp.NullSafeNEQ: "IS DISTINCT FROM",
}
# Tokens that end a FROM clause, for spotting comma (implicit) joins.
_FROM_CLAUSE_END: Final = frozenset(
    {
        TokenType.WHERE,
        TokenType.GROUP_BY,
        TokenType.ORDER_BY,
        TokenType.LIMIT,
        TokenType.HAVING,
        TokenType.OFFSET,
        TokenType.SEMICOLON,
        TokenType.UNION,
        TokenType.EXCEPT,
        TokenType.INTERSECT,
    }
)
_SELECT_START: Final = frozenset({TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN})
_STATEMENT_START: Final = _SELECT_START | {
    TokenType.INSERT,
    TokenType.UPDATE,
    TokenType.DELETE,
    TokenType.SET,
    TokenType.SHOW,
}
_SHOW: Final = re.compile(
    r'\A\s*(?i:SHOW)\s+("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)\s*;*\s*\Z', re.DOTALL
)


@contextlib.contextmanager
def _recursion_guard(where: str) -> Iterator[None]:
    # Deeply nested SQL (thousands of parentheses) exhausts Python's stack somewhere in sqlglot
    # or in our tree walks; report it the way the server reports its own nesting limit.
    try:
        yield
    except RecursionError:
        raise SqlError(f"Recursion limit exceeded, `{where}`") from None


def is_select_all_tables(sql: str) -> bool:
    """True for ``SELECT * FROM *`` in any case and spacing (matched before any parsing)."""
    return _SELECT_ALL_TABLES.match(sql) is not None


def parse_subscription(sql: str) -> Query | AllTables:
    """Parse one subscription query (``SELECT * FROM *`` -> :class:`AllTables`)."""
    if is_select_all_tables(sql):
        return AllTables()
    return parse_one_off_query(sql)


def parse_one_off_query(sql: str) -> Query:
    """Parse a WebSocket one-off query: the subscription grammar, without ``SELECT * FROM *``."""
    with _recursion_guard("sql-parser"):
        parser = _Parser(sql, subscription=True)
        statement = parser.single_statement()
        if not isinstance(statement, (exp.Select, exp.SetOperation, exp.Subquery)):
            raise SqlError("Unsupported: Non-SELECT queries")
        return parser.query(statement)


def parse_sql(sql: str) -> Statement:
    """Parse one statement of the HTTP ``/sql`` language."""
    with _recursion_guard("sql-parser"):
        return _parse_sql(sql)


def _parse_sql(sql: str) -> Statement:
    parser = _Parser(sql, subscription=False)
    show = parser.show_statement()
    if show is not None:
        return show
    statement = parser.single_statement()
    if isinstance(statement, (exp.Select, exp.SetOperation, exp.Subquery)):
        return parser.query(statement)
    if isinstance(statement, exp.Insert):
        return parser.insert(statement)
    if isinstance(statement, exp.Update):
        return parser.update(statement)
    if isinstance(statement, exp.Delete):
        return parser.delete(statement)
    if isinstance(statement, exp.Set):
        return parser.set_var(statement)
    raise SqlError(f"Unsupported: {_sql_text(statement)}")


def _sql_text(node: exp.Expr) -> str:
    if isinstance(node, exp.Placeholder):
        return f":{node.this}"
    try:
        return node.sql(dialect="postgres")
    except Exception:  # rendering is only for the error text; never mask the real error
        return type(node).__name__


def _unsupported(node: exp.Expr, what: str = "Unsupported") -> SqlError:
    return SqlError(f"{what}: {_sql_text(node)}")


def _truthy_args(node: exp.Expr, allowed: frozenset[str]) -> list[str]:
    return [key for key, value in node.args.items() if key not in allowed and value]


class _Parser:
    """Narrows sqlglot's PostgreSQL AST to ours."""

    def __init__(self, sql: str, *, subscription: bool) -> None:
        if len(sql.encode()) > MAX_SQL_LENGTH:
            raise SqlError(f'SQL query exceeds maximum allowed length: "{sql[:120]}..."')
        self.sql = sql
        self.subscription = subscription
        try:
            self.tokens: list[Token] = _DIALECT.tokenize(sql)
        except TokenError as exc:
            raise SqlError(f"sql parser error: {exc}") from None

    # -- statements ---------------------------------------------------------------------------

    def show_statement(self) -> ShowVar | None:
        if not self.tokens or self.tokens[0].token_type != TokenType.SHOW:
            return None
        # sqlglot has no SHOW for PostgreSQL (it falls back to an opaque command), so read the
        # one identifier that may follow from the text itself.
        match = _SHOW.match(self.sql)
        if match is None:
            raise SqlError(f"sql parser error: expected one variable name after SHOW: {self.sql}")
        name = match.group(1)
        if name.startswith('"'):
            name = name[1:-1].replace('""', '"')
        return ShowVar(name)

    def single_statement(self) -> exp.Expr:
        if not self.tokens:
            raise SqlError("Empty SQL query")
        first = self.tokens[0].token_type
        allowed = _SELECT_START if self.subscription else _STATEMENT_START
        if first not in allowed:
            if self.subscription and first != TokenType.SEMICOLON:
                raise SqlError("Unsupported: Non-SELECT queries")
            if first != TokenType.SEMICOLON:
                raise SqlError(f"Unsupported: {self.sql.strip()}")
        self._check_tokens()
        try:
            parsed = _DIALECT.parser().parse(self.tokens, self.sql)
        except (ParseError, TokenError) as exc:
            raise SqlError(f"sql parser error: {_parse_error_text(exc)}") from None
        statements = [s for s in parsed if s is not None]
        if not statements:
            raise SqlError("Empty SQL query")
        if len(statements) > 1:
            raise SqlError("Multiple SQL statements are not supported")
        return statements[0]

    def _check_tokens(self) -> None:
        for token in self.tokens:
            # sqlglot turns a malformed number such as `0xZZ` or `0x` into a quoted identifier;
            # a real quoted identifier starts with a double quote in the source text.
            if token.token_type == TokenType.IDENTIFIER and self.sql[token.start] != '"':
                raise SqlError(f"sql parser error: invalid literal `{token.text}`")

    def _has_comma_join(self) -> bool:
        depth = 0
        in_from = False
        for token in self.tokens:
            kind = token.token_type
            if kind == TokenType.L_PAREN:
                depth += 1
            elif kind == TokenType.R_PAREN:
                depth -= 1
            elif depth == 0 and kind == TokenType.FROM:
                in_from = True
            elif depth == 0 and in_from and kind in _FROM_CLAUSE_END:
                in_from = False
            elif depth == 0 and in_from and kind == TokenType.COMMA:
                return True
        return False

    # -- SELECT -------------------------------------------------------------------------------

    def query(self, node: exp.Expr) -> Query:
        if isinstance(node, exp.SetOperation):
            raise _unsupported(node, "Unsupported set operation")
        if not isinstance(node, exp.Select):
            raise _unsupported(node)
        allowed = {"expressions", "from_", "from", "joins", "where"}
        if not self.subscription:
            allowed.add("limit")
        if _truthy_args(node, frozenset(allowed)):
            raise _unsupported(node)
        limit = None if self.subscription else self._limit(node)

        from_clause = node.args.get("from_") or node.args.get("from")
        if not isinstance(from_clause, exp.From):
            raise SqlError("A FROM clause is required")
        if from_clause.args.get("expressions"):
            raise SqlError("Implicit joins are not supported")
        table, alias = self._relvar(from_clause.this)
        joins = tuple(self._join(j) for j in node.args.get("joins") or ())

        projection = self._projection(node.expressions)
        where_node = node.args.get("where")
        where = self.expr(where_node.this) if isinstance(where_node, exp.Where) else None

        if joins:
            if any(j.on is not None and _has_unqualified(j.on) for j in joins) or (
                _projection_has_unqualified(projection)
                or (where is not None and _has_unqualified(where))
            ):
                raise SqlError("Names must be qualified when using joins")
        else:
            projection = _qualify_projection(projection, alias)
            where = None if where is None else _qualify(where, alias)
        return Query(table, alias, joins, where, projection, limit)

    def _limit(self, node: exp.Select) -> str | None:
        limit = node.args.get("limit")
        if limit is None:
            return None
        value = limit.args.get("expression") if isinstance(limit, exp.Limit) else None
        if isinstance(value, exp.Literal) and not value.is_string:
            return str(value.this)
        raise _unsupported(node)

    def _relvar(self, node: exp.Expr) -> tuple[str, str]:
        if not isinstance(node, exp.Table) or not isinstance(node.this, exp.Identifier):
            raise _unsupported(node, "Unsupported FROM expression")
        if _truthy_args(node, frozenset({"this", "db", "catalog", "alias"})):
            raise _unsupported(node, "Unsupported FROM expression")
        name = _dotted(node.args.get("catalog"), node.args.get("db"), node.this)
        alias_node = node.args.get("alias")
        if alias_node is None:
            return name, name
        if (
            not isinstance(alias_node, exp.TableAlias)
            or alias_node.args.get("columns")
            or not isinstance(alias_node.this, exp.Identifier)
        ):
            raise _unsupported(node, "Unsupported FROM expression")
        return name, alias_node.this.this

    def _join(self, node: exp.Join) -> Join:
        if self._has_comma_join():
            raise SqlError("Implicit joins are not supported")
        kind = (node.args.get("kind") or "").upper()
        if kind not in ("", "INNER", "CROSS") or _truthy_args(
            node, frozenset({"this", "on", "kind"})
        ):
            raise SqlError("Non-inner joins are not supported")
        table, alias = self._relvar(node.this)
        on_node = node.args.get("on")
        if on_node is None:
            return Join(table, alias)
        on_node = _unparen(on_node)
        if (
            kind == "CROSS"
            or not isinstance(on_node, exp.EQ)
            or not isinstance(_unparen(on_node.this), exp.Column)
            or not isinstance(_unparen(on_node.expression), exp.Column)
        ):
            raise SqlError("Non-inner joins are not supported")
        on = self.expr(on_node)
        assert isinstance(on, Compare)
        return Join(table, alias, on)

    def _projection(self, items: Sequence[exp.Expr]) -> Projection:
        if not items:
            raise SqlError("sql parser error: SELECT needs a projection before FROM")
        if len(items) == 1:
            (item,) = items
            star = self._star(item)
            if star is not None:
                return star
            if isinstance(item, exp.Func):
                raise SqlError("Aggregate expressions must have column aliases")
            if isinstance(item, exp.Alias) and isinstance(item.this, exp.Func):
                count = item.this
                if (
                    isinstance(count, exp.Count)
                    and isinstance(count.this, exp.Star)
                    and not _truthy_args(count.this, frozenset())
                    and not count.args.get("expressions")
                ):
                    return CountStar(_alias_name(item))
                raise _unsupported(count, "Unsupported aggregate function")
        columns = []
        for item in items:
            if self._star(item) is not None or isinstance(item, exp.Star):
                raise SqlError("Mixed wildcard projections are not supported")
            columns.append(self._project_column(item))
        return ColumnList(tuple(columns))

    def _star(self, item: exp.Expr) -> Star | None:
        if isinstance(item, exp.Star):
            if _truthy_args(item, frozenset()):
                raise _unsupported(item, "Unsupported projection")
            return Star()
        if isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
            if _truthy_args(item.this, frozenset()):
                raise _unsupported(item, "Unsupported projection")
            qualifier = _column_qualifier(item)
            return Star(qualifier)
        return None

    def _project_column(self, item: exp.Expr) -> ProjectColumn:
        target = item.this if isinstance(item, exp.Alias) else item
        if not isinstance(target, exp.Column) or not isinstance(target.this, exp.Identifier):
            raise _unsupported(target, "Unsupported projection expression")
        ref = _column_ref(target)
        alias = _alias_name(item) if isinstance(item, exp.Alias) else ref.column
        return ProjectColumn(ref, alias)

    # -- expressions --------------------------------------------------------------------------

    def expr(self, node: exp.Expr) -> Expr:
        node = _unparen(node)
        if isinstance(node, exp.And):
            return And(tuple(self.expr(op) for op in _flatten(node, exp.And)))
        if isinstance(node, exp.Or):
            return Or(tuple(self.expr(op) for op in _flatten(node, exp.Or)))
        op = _COMPARE_OPS.get(type(node))
        if op is not None:
            return Compare(op, self.expr(node.this), self.expr(node.expression))
        other = _OTHER_BINARY_OPS.get(type(node))
        if other is not None:
            raise SqlError(f"Unsupported binary operator: {other}")
        if isinstance(node, exp.Column):
            if not isinstance(node.this, exp.Identifier):
                raise _unsupported(node, "Unsupported expression")
            return _column_ref(node)
        if isinstance(node, exp.Placeholder):
            if node.this == "sender":
                return SenderParam()
            raise _unsupported(node, "Unsupported literal expression")
        return _literal(node, "Unsupported expression")

    # -- DML and variables ----------------------------------------------------------------------

    def insert(self, node: exp.Insert) -> Insert:
        if _truthy_args(node, frozenset({"this", "expression"})):
            raise _unsupported(node)
        target = node.this
        columns: tuple[str, ...] = ()
        if isinstance(target, exp.Schema):
            names = []
            for column in target.expressions:
                if not isinstance(column, exp.Identifier):
                    raise _unsupported(node)
                names.append(column.this)
            columns = tuple(names)
            target = target.this
        if not isinstance(target, exp.Table) or target.args.get("alias"):
            raise _unsupported(node)
        table, _ = self._relvar(target)
        values = node.expression
        if not isinstance(values, exp.Values) or _truthy_args(values, frozenset({"expressions"})):
            raise _unsupported(node, "Unsupported INSERT expression")
        rows = []
        for row in values.expressions:
            items = row.expressions if isinstance(row, exp.Tuple) else [row]
            rows.append(tuple(_literal(item, "Unsupported INSERT value") for item in items))
        return Insert(table, columns, tuple(rows))

    def update(self, node: exp.Update) -> Update:
        if _truthy_args(node, frozenset({"this", "expressions", "where"})):
            raise _unsupported(node)
        target = node.this
        if not isinstance(target, exp.Table) or target.args.get("alias"):
            raise _unsupported(node)
        table, _ = self._relvar(target)
        assignments = []
        for item in node.expressions:
            if not isinstance(item, exp.EQ) or not isinstance(item.this, exp.Column):
                raise _unsupported(item, "Unsupported column/variable assignment expression")
            column = _column_ref(item.this)
            name = column.column if column.table is None else f"{column.table}.{column.column}"
            value = _literal(item.expression, "Unsupported column/variable assignment expression")
            assignments.append(Assignment(name, value))
        where_node = node.args.get("where")
        where = self.expr(where_node.this) if isinstance(where_node, exp.Where) else None
        return Update(table, tuple(assignments), None if where is None else _qualify(where, table))

    def delete(self, node: exp.Delete) -> Delete:
        if node.args.get("using") or node.args.get("tables"):
            raise SqlError("Multi-table DELETE is not supported")
        if _truthy_args(node, frozenset({"this", "where"})):
            raise _unsupported(node)
        target = node.this
        if not isinstance(target, exp.Table) or target.args.get("alias"):
            raise _unsupported(node, "Unsupported table expression in DELETE")
        table, _ = self._relvar(target)
        where_node = node.args.get("where")
        where = self.expr(where_node.this) if isinstance(where_node, exp.Where) else None
        return Delete(table, None if where is None else _qualify(where, table))

    def set_var(self, node: exp.Set) -> SetVar:
        items = node.expressions
        if _truthy_args(node, frozenset({"expressions"})) or len(items) != 1:
            raise _unsupported(node)
        (item,) = items
        if not isinstance(item, exp.SetItem) or _truthy_args(item, frozenset({"this"})):
            raise _unsupported(node)
        assignment = item.this
        if not isinstance(assignment, exp.EQ) or not isinstance(assignment.this, exp.Column):
            raise _unsupported(node)
        variable = _column_ref(assignment.this)
        name = variable.column if variable.table is None else f"{variable.table}.{variable.column}"
        value = _literal(assignment.expression, "Unsupported column/variable assignment expression")
        return SetVar(name, value)


def _parse_error_text(exc: ParseError | TokenError) -> str:
    if isinstance(exc, ParseError) and exc.errors:
        first = exc.errors[0]
        return f"{first.get('description')} (line {first.get('line')}, column {first.get('col')})"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _flatten(node: exp.Expr, kind: type[exp.Expr]) -> list[exp.Expr]:
    """The operands of a chain of one associative connective, left to right, iteratively."""
    operands = []
    stack = [node]
    while stack:
        current = _unparen(stack.pop())
        if isinstance(current, kind):
            stack.append(current.expression)
            stack.append(current.this)
        else:
            operands.append(current)
    return operands


def _unparen(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _dotted(*parts: exp.Expr | None) -> str:
    return ".".join(p.this for p in parts if isinstance(p, exp.Identifier))


def _column_qualifier(node: exp.Column) -> str | None:
    qualifier = _dotted(node.args.get("catalog"), node.args.get("db"), node.args.get("table"))
    return qualifier or None


def _column_ref(node: exp.Column) -> ColumnRef:
    name = node.this
    assert isinstance(name, exp.Identifier)
    return ColumnRef(_column_qualifier(node), name.this)


def _alias_name(node: exp.Alias) -> str:
    alias = node.args.get("alias")
    if isinstance(alias, exp.Identifier):
        return str(alias.this)
    return str(node.alias)


def _literal(node: exp.Expr, unsupported: str) -> Literal:
    """A literal value, with an optional sign on numbers; anything else is ``unsupported``."""
    if isinstance(node, exp.Neg):
        inner = node.this
        if isinstance(inner, exp.Literal) and not inner.is_string:
            return Literal("number", f"-{inner.this}")
        raise _unsupported(node, unsupported)
    if isinstance(node, exp.Literal):
        return Literal("string" if node.is_string else "number", str(node.this))
    if isinstance(node, exp.Boolean):
        return Literal("bool", "true" if node.this else "false")
    if isinstance(node, exp.HexString):
        return Literal("hex", str(node.this))
    if isinstance(node, (exp.Null, exp.BitString, exp.ByteString, exp.National, exp.Placeholder)):
        raise _unsupported(node, "Unsupported literal expression")
    raise _unsupported(node, unsupported)


def _has_unqualified(expr: Expr) -> bool:
    return any(isinstance(node, ColumnRef) and node.table is None for node in _walk(expr))


def _projection_has_unqualified(projection: Projection) -> bool:
    return isinstance(projection, ColumnList) and any(
        item.column.table is None for item in projection.items
    )


def _qualify(expr: Expr, alias: str) -> Expr:
    if isinstance(expr, ColumnRef):
        return expr if expr.table is not None else ColumnRef(alias, expr.column)
    if isinstance(expr, Compare):
        return Compare(expr.op, _qualify(expr.left, alias), _qualify(expr.right, alias))
    if isinstance(expr, And):
        return And(tuple(_qualify(op, alias) for op in expr.operands))
    if isinstance(expr, Or):
        return Or(tuple(_qualify(op, alias) for op in expr.operands))
    return expr


def _qualify_projection(projection: Projection, alias: str) -> Projection:
    if not isinstance(projection, ColumnList):
        return projection
    return ColumnList(
        tuple(
            ProjectColumn(
                item.column
                if item.column.table is not None
                else ColumnRef(alias, item.column.column),
                item.alias,
            )
            for item in projection.items
        )
    )


# --------------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnInfo:
    """A column: canonical ``name``, type, and the module-source ``accessor`` name if different."""

    name: str
    type: AlgebraicType
    accessor: str | None = None


@dataclass(frozen=True)
class TableInfo:
    """What binding needs to know about one table or view.

    ``indexed_columns`` lists columns that lead some index (``None`` = unknown, and then the
    subscription rule "join columns must be indexed" is not enforced). Column types may contain
    ``Ref``s into ``typespace``.
    """

    name: str
    columns: tuple[ColumnInfo, ...]
    accessor: str | None = None
    is_event: bool = False
    is_view: bool = False
    indexed_columns: frozenset[str] | None = None
    typespace: Typespace = field(default_factory=Typespace)

    @classmethod
    def of(
        cls, name: str, columns: Iterable[tuple[str, AlgebraicType]], **options: Any
    ) -> TableInfo:
        """Build from ``(column name, type)`` pairs; ``options`` are the other fields."""
        return cls(name, tuple(ColumnInfo(n, t) for n, t in columns), **options)

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


# --------------------------------------------------------------------------------------------
# Types and literals
# --------------------------------------------------------------------------------------------

_NUMBER: Final = re.compile(r"\A[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_HEX: Final = re.compile(r"\A[0-9a-fA-F]*\Z")
_RFC3339: Final = re.compile(
    r"\A(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z"
)
_COMPARABLE_KINDS: Final = frozenset({"bytes", "identity", "connection_id", "timestamp", "uuid"})


def format_type(ty: AlgebraicType) -> str:
    """A short text form of a type, as used in the server's error messages."""
    if isinstance(ty, PrimitiveType):
        return ty.name
    if isinstance(ty, ArrayType):
        return f"Array<{format_type(ty.element)}>"
    if isinstance(ty, RefType):
        return f"&{ty.index}"
    if isinstance(ty, ProductType):
        inner = ", ".join(
            f"{e.name if e.name is not None else i}: {format_type(e.algebraic_type)}"
            for i, e in enumerate(ty.elements)
        )
        return f"({inner})"
    if isinstance(ty, SumType):
        if not ty.variants:
            return "(|)"
        inner = " | ".join(
            (f"{v.name}: " if v.name is not None else "") + format_type(v.algebraic_type)
            for v in ty.variants
        )
        return f"({inner})"
    return type(ty).__name__


def _is_comparable(ty: AlgebraicType) -> bool:
    if isinstance(ty, PrimitiveType):
        return True  # bool, the integers, the floats and String
    return special_kind(ty) in _COMPARABLE_KINDS


class _LiteralTypeError(ValueError):
    pass


def parse_literal(text: str, ty: AlgebraicType) -> Any:
    """Read a literal's text as a value of ``ty`` (numbers, strings or hex digits).

    Raises :class:`SqlError` ("The literal expression `x` cannot be parsed as type `T`").
    """
    try:
        return _parse_literal(text, ty)
    except _LiteralTypeError:
        raise SqlError(
            f"The literal expression `{text}` cannot be parsed as type `{format_type(ty)}`"
        ) from None


def _parse_literal(text: str, ty: AlgebraicType) -> Any:
    if isinstance(ty, PrimitiveType):
        if ty.name == "String":
            return text
        if ty.name == "Bool":
            raise _LiteralTypeError  # only TRUE/FALSE literals denote booleans
        if ty.name in ("F32", "F64"):
            return _parse_float(text, single=ty.name == "F32")
        low, high = INTEGER_RANGES[ty.name]
        return _parse_int(text, low, high)
    kind = special_kind(ty)
    if kind == "timestamp":
        return _parse_timestamp(text)
    if kind == "bytes":
        return _parse_hex_bytes(text)
    if kind == "identity":
        data = _parse_hex_bytes(text)
        if len(data) != 32:
            raise _LiteralTypeError
        return Identity.from_be_bytes(data)
    if kind == "connection_id":
        data = _parse_hex_bytes(text)
        if len(data) != 16:
            raise _LiteralTypeError
        return ConnectionId(data)
    if kind == "uuid":
        try:
            return Uuid(_uuid.UUID(text))
        except ValueError:
            raise _LiteralTypeError from None
    raise _LiteralTypeError


def _decimal(text: str) -> Decimal:
    if _NUMBER.match(text) is None:
        raise _LiteralTypeError
    try:
        return Decimal(text)
    except InvalidOperation:
        raise _LiteralTypeError from None


def _parse_int(text: str, low: int, high: int) -> int:
    number = _decimal(text)
    # Refuse absurd exponents before materialising the integer (u256 has 78 digits).
    if number != 0 and number.adjusted() > 80:
        raise _LiteralTypeError
    if number != number.to_integral_value():
        raise _LiteralTypeError
    value = int(number)
    if not low <= value <= high:
        raise _LiteralTypeError
    return value


def _parse_float(text: str, *, single: bool) -> float:
    value = float(_decimal(text))
    if single and not math.isinf(value):
        try:
            value = struct.unpack("<f", struct.pack("<f", value))[0]
        except OverflowError:
            value = math.copysign(math.inf, value)
    return value


def _parse_hex_bytes(text: str) -> bytes:
    body = text[2:] if text.startswith("0x") else text
    if len(body) % 2 or _HEX.match(body) is None:
        raise _LiteralTypeError
    return bytes.fromhex(body)


def _parse_timestamp(text: str) -> Timestamp:
    match = _RFC3339.match(text)
    if match is None:
        raise _LiteralTypeError
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = match.group(7) or ""
    micros = int(fraction[:6].ljust(6, "0")) if fraction else 0
    if match.group(8):
        offset = _dt.timedelta(0)
    else:
        sign = -1 if match.group(9) == "-" else 1
        offset = sign * _dt.timedelta(hours=int(match.group(10)), minutes=int(match.group(11)))
    leap = second == 60  # RFC 3339 allows a leap second; fold it into the next second
    try:
        when = _dt.datetime(
            year, month, day, hour, minute, 59 if leap else second, micros,
            tzinfo=_dt.timezone(offset),
        )  # fmt: skip
    except ValueError:
        raise _LiteralTypeError from None
    stamp = Timestamp.from_datetime(when)
    return Timestamp(stamp.micros_since_unix_epoch + 1_000_000) if leap else stamp


# --------------------------------------------------------------------------------------------
# Binding: the typed expression tree
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRef:
    """A resolved column: the FROM-clause alias it belongs to and its canonical name."""

    alias: str
    column: str
    ty: AlgebraicType


@dataclass(frozen=True)
class Constant:
    """A literal converted to the Python value shape of ``ty``."""

    value: Any
    ty: AlgebraicType


@dataclass(frozen=True)
class SenderValue:
    """``:sender``, as an Identity or (for byte-array columns) its 32 big-endian bytes."""

    ty: AlgebraicType


@dataclass(frozen=True)
class BoundCompare:
    """A type-checked comparison; both sides have type ``operand_type``."""

    op: CompareOp
    left: BoundExpr
    right: BoundExpr

    @property
    def ty(self) -> AlgebraicType:
        """Comparisons are boolean."""
        return BOOL


@dataclass(frozen=True)
class BoundLogic:
    """A type-checked ``AND`` (``is_and``) or ``OR`` of two or more operands."""

    is_and: bool
    operands: tuple[BoundExpr, ...]

    @property
    def ty(self) -> AlgebraicType:
        """Connectives are boolean."""
        return BOOL


BoundExpr: TypeAlias = FieldRef | Constant | SenderValue | BoundCompare | BoundLogic


@dataclass(frozen=True)
class Source:
    """One table of a FROM clause under its alias."""

    alias: str
    table: TableInfo


def _unexpected(expected: AlgebraicType, inferred: AlgebraicType) -> SqlError:
    return SqlError(
        f"Unexpected type: (expected) {format_type(expected)} != {format_type(inferred)} (inferred)"
    )


class _TypeChecker:
    """Types expressions against the aliases in scope, the way the server's checker does."""

    def __init__(self) -> None:
        self.scope: dict[str, TableInfo] = {}

    def add(self, alias: str, table: TableInfo) -> None:
        if alias in self.scope:
            raise SqlError(f"Duplicate name `{alias}`")
        self.scope[alias] = table

    def check(self, expr: Expr, expected: AlgebraicType | None) -> BoundExpr:
        if isinstance(expr, Literal):
            if expr.kind == "bool":
                if expected is None or expected == BOOL:
                    return Constant(expr.text == "true", BOOL)
                raise _unexpected(expected, BOOL)
            if expected is None:
                raise SqlError("Cannot resolve type for literal expression")
            return Constant(parse_literal(expr.text, expected), expected)
        if isinstance(expr, SenderParam):
            if expected is None:
                return SenderValue(IDENTITY)
            if expected == IDENTITY or special_kind(expected) == "bytes":
                return SenderValue(expected)
            raise _unexpected(expected, IDENTITY)
        if isinstance(expr, ColumnRef):
            ref = self.field(expr)
            if expected is not None and ref.ty != expected:
                raise _unexpected(expected, ref.ty)
            return ref
        if expected is not None and expected != BOOL:
            raise _unexpected(expected, BOOL)
        if isinstance(expr, (And, Or)):
            operands = tuple(self.check(op, BOOL) for op in expr.operands)
            return BoundLogic(isinstance(expr, And), operands)
        # A literal (or :sender) takes its type from the other side, so type that side first.
        if isinstance(expr.left, (Literal, SenderParam)):
            right = self.check(expr.right, None)
            left = self.check(expr.left, _type_of(right))
        else:
            left = self.check(expr.left, None)
            right = self.check(expr.right, _type_of(left))
        operand_type = _type_of(left)
        if not _is_comparable(operand_type):
            raise SqlError(
                f"Invalid binary operator `{expr.op}` for type `{format_type(operand_type)}`"
            )
        return BoundCompare(expr.op, left, right)

    def field(self, ref: ColumnRef) -> FieldRef:
        alias = ref.table
        if alias is None:  # the parser qualifies or rejects every column; this is a safeguard
            raise SqlError("Names must be qualified when using joins")
        table = self.scope.get(alias)
        if table is None:
            raise SqlError(f"`{alias}` is not in scope")
        column = table.column(ref.column)
        if column is None:
            raise SqlError(f"`{table.name}` does not have a field `{ref.column}`")
        return FieldRef(alias, column.name, table.resolved_type(column))


def _type_of(expr: BoundExpr) -> AlgebraicType:
    return expr.ty


def _lookup(catalog: Catalog, name: str) -> TableInfo:
    table = catalog.lookup_table(name)
    if table is None:
        raise SqlError(f"no such table: `{name}`. If the table exists, it may be marked private.")
    return table


# --------------------------------------------------------------------------------------------
# Binding: compiled predicates
# --------------------------------------------------------------------------------------------

_OPERATORS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "=": operator.eq,
    "<>": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}

Getter: TypeAlias = Callable[[Any], Any]


def _sender_value(ty: AlgebraicType, sender: Identity | None) -> Any:
    if sender is None:
        raise SqlError("the query uses :sender but no caller identity was given")
    return sender.data if special_kind(ty) == "bytes" else sender


def _compile_value(expr: BoundExpr, single: bool, sender: Identity | None) -> Getter:
    """A getter over a row (``single``) or over ``{alias: row}`` environments."""
    if isinstance(expr, FieldRef):
        if single:
            return operator.itemgetter(expr.column)
        alias, column = expr.alias, expr.column
        return lambda env: env[alias][column]
    if isinstance(expr, Constant):
        value = expr.value
        return lambda _env: value
    if isinstance(expr, SenderValue):
        sender_value = _sender_value(expr.ty, sender)
        return lambda _env: sender_value
    return _compile_predicate(expr, single, sender)


def _compile_predicate(expr: BoundExpr, single: bool, sender: Identity | None) -> Getter:
    if isinstance(expr, BoundLogic):
        parts = [_compile_predicate(op, single, sender) for op in expr.operands]
        if expr.is_and:
            return lambda env: all(part(env) for part in parts)
        return lambda env: any(part(env) for part in parts)
    if isinstance(expr, BoundCompare):
        op = _OPERATORS[expr.op]
        get_left = _compile_value(expr.left, single, sender)
        if isinstance(expr.right, Constant):
            constant = expr.right.value
            return lambda env: op(get_left(env), constant)
        get_right = _compile_value(expr.right, single, sender)
        return lambda env: op(get_left(env), get_right(env))
    getter = _compile_value(expr, single, sender)
    return lambda env: bool(getter(env))


def _always_true(_row: Any) -> bool:
    return True


# --------------------------------------------------------------------------------------------
# Binding: queries
# --------------------------------------------------------------------------------------------

_T = TypeVar("_T")


class RowLimitExceededError(SqlError):
    """A query scanned more rows than the database's ``row_limit`` allows its caller."""


class RowBudget:
    """The rows one request may scan (``row_limit``); evaluation stops as soon as it is spent.

    Every row read from a table and every row combination a join produces costs one, so a huge
    join is cut off early instead of being built and then refused.
    """

    __slots__ = ("limit", "used")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def meter(self, rows: Iterable[_T]) -> Iterator[_T]:
        """``rows``, charging one per row taken (raises :class:`RowLimitExceededError`)."""
        limit = self.limit
        for row in rows:
            self.used += 1
            if self.used > limit:
                raise RowLimitExceededError(
                    f"The query scans more than the row_limit of {limit} rows"
                )
            yield row


@dataclass(frozen=True)
class _From:
    """The typed FROM + WHERE part shared by subscription queries and HTTP selects."""

    sources: tuple[Source, ...]
    join_conditions: tuple[BoundCompare | None, ...]
    filter: BoundExpr | None
    sender: Identity | None
    _keep: Getter | None = field(init=False, repr=False, compare=False)
    _join_keeps: tuple[Getter | None, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Compile once: subscriptions are re-evaluated on every transaction.
        keep = None if self.filter is None else _compile_predicate(self.filter, False, self.sender)
        object.__setattr__(self, "_keep", keep)
        join_keeps = tuple(
            None if c is None else _compile_predicate(c, False, self.sender)
            for c in self.join_conditions
        )
        object.__setattr__(self, "_join_keeps", join_keeps)

    def matches(
        self, scan: Callable[[str], Iterable[Row]], budget: RowBudget | None = None
    ) -> Iterator[dict[str, Row]]:
        """Every combination of rows satisfying the ON conditions and WHERE, as alias -> row.

        With a ``budget``, every row scanned and every join combination is charged to it.
        """
        first = self.sources[0]
        rows = scan(first.table.name)
        if budget is not None:
            rows = budget.meter(rows)
        envs: Iterable[dict[str, Row]]
        if len(self.sources) == 1:
            alias = first.alias
            envs = ({alias: row} for row in rows)  # lazy: a LIMIT stops the scan
        else:
            joined = [{first.alias: row} for row in rows]
            for source, condition, join_keep in zip(
                self.sources[1:], self.join_conditions, self._join_keeps, strict=True
            ):
                joined = _join_rows(joined, source, condition, join_keep, scan, budget)
            envs = joined
        keep = self._keep
        if keep is None:
            yield from envs
            return
        for env in envs:
            if keep(env):
                yield env


def _join_rows(
    envs: list[dict[str, Row]],
    source: Source,
    condition: BoundCompare | None,
    keep: Getter | None,
    scan: Callable[[str], Iterable[Row]],
    budget: RowBudget | None,
) -> list[dict[str, Row]]:
    scanned = scan(source.table.name)
    rows = list(scanned if budget is None else budget.meter(scanned))
    alias = source.alias
    probe = _hash_join_sides(condition, alias)
    if probe is not None:
        outer, inner = probe
        buckets: dict[Any, list[Row]] = {}
        for row in rows:
            buckets.setdefault(row[inner.column], []).append(row)
        pairs = (
            {**env, alias: row}
            for env in envs
            for row in buckets.get(env[outer.alias][outer.column], ())
        )
        return list(pairs if budget is None else budget.meter(pairs))
    combined: Iterator[dict[str, Row]] = ({**env, alias: row} for env in envs for row in rows)
    if budget is not None:
        combined = budget.meter(combined)  # every combination examined counts, kept or not
    if keep is None:
        return list(combined)
    return [env for env in combined if keep(env)]


def _hash_join_sides(
    condition: BoundCompare | None, new_alias: str
) -> tuple[FieldRef, FieldRef] | None:
    """(earlier side, new side) when ``condition`` is ``earlier.x = new.y``."""
    if condition is None or condition.op != "=":
        return None
    left, right = condition.left, condition.right
    if not isinstance(left, FieldRef) or not isinstance(right, FieldRef):
        return None
    if right.alias == new_alias and left.alias != new_alias:
        return left, right
    if left.alias == new_alias and right.alias != new_alias:
        return right, left
    return None


def _bind_from(
    query: Query, catalog: Catalog, checker: _TypeChecker, sender: Identity | None
) -> _From:
    sources = [Source(query.alias, _lookup(catalog, query.table))]
    checker.add(query.alias, sources[0].table)
    conditions: list[BoundCompare | None] = []
    for join in query.joins:
        if join.alias in checker.scope:
            raise SqlError(f"Duplicate name `{join.alias}`")
        table = _lookup(catalog, join.table)
        checker.add(join.alias, table)
        sources.append(Source(join.alias, table))
        if join.on is None:
            conditions.append(None)
            continue
        bound = checker.check(join.on, BOOL)
        assert isinstance(bound, BoundCompare)
        conditions.append(bound)
    where = None if query.where is None else checker.check(query.where, BOOL)
    if query.uses_sender and sender is None:
        raise SqlError("the query uses :sender but no caller identity was given")
    return _From(tuple(sources), tuple(conditions), where, sender)


def _star_source(star: Star, sources: Sequence[Source]) -> Source:
    if star.table is None:
        if len(sources) > 1:
            raise SqlError("SELECT * is not supported for joins")
        return sources[0]
    for source in sources:
        if source.alias == star.table:
            return source
    raise SqlError(f"`{star.table}` is not in scope")


@dataclass(frozen=True)
class BoundQuery:
    """A type-checked query returning whole rows of one table (subscriptions, one-off queries).

    ``table`` is the canonical name of the returned table; ``tables`` every table read.
    """

    query: Query
    returns: Source
    sources: tuple[Source, ...]
    join_conditions: tuple[BoundCompare | None, ...]
    filter: BoundExpr | None
    sender: Identity | None
    _from: _From = field(repr=False, compare=False)
    _row_predicate: Callable[[Row], bool] | None = field(repr=False, compare=False)

    @property
    def table(self) -> str:
        """Canonical name of the table whose rows the query returns."""
        return self.returns.table.name

    @property
    def tables(self) -> tuple[str, ...]:
        """Canonical names of all tables the query reads, in FROM order."""
        return tuple(source.table.name for source in self.sources)

    @property
    def is_join(self) -> bool:
        """True when more than one table is involved."""
        return len(self.sources) > 1

    def row_predicate(self) -> Callable[[Row], bool]:
        """The compiled WHERE over one row of a single-table query."""
        if self._row_predicate is None:
            raise SqlError("a join query has no single-row predicate; use evaluate()")
        return self._row_predicate

    def evaluate(
        self, scan: Callable[[str], Iterable[Row]], budget: RowBudget | None = None
    ) -> list[Row]:
        """The returned table's rows, one per matching combination (a bag, like the server).

        ``scan(table_name)`` yields the current rows of a table; a ``budget`` bounds the work
        (:class:`RowLimitExceededError` once it is spent).
        """
        if self._row_predicate is not None:
            keep = self._row_predicate
            rows = scan(self.table)
            return [row for row in (rows if budget is None else budget.meter(rows)) if keep(row)]
        alias = self.returns.alias
        return [env[alias] for env in self._from.matches(scan, budget)]


def bind_query(
    query: Query,
    catalog: Catalog,
    *,
    sender: Identity | None = None,
    subscription: bool = False,
) -> BoundQuery:
    """Resolve and type-check a subscription-language query (see :func:`bind_subscription`)."""
    with _recursion_guard("type checker"):
        return _bind_query(query, catalog, sender, subscription)


def _bind_query(
    query: Query, catalog: Catalog, sender: Identity | None, subscription: bool
) -> BoundQuery:
    checker = _TypeChecker()
    bound_from = _bind_from(query, catalog, checker, sender)
    projection = query.projection
    if not isinstance(projection, Star) or query.limit is not None:
        raise SqlError(
            "Column projections are not supported in subscriptions; "
            "Subscriptions must return a table type"
        )
    returns = _star_source(projection, bound_from.sources)
    if subscription:
        _check_subscription_plan(bound_from, returns)
    row_predicate: Callable[[Row], bool] | None = None
    if len(bound_from.sources) == 1:
        row_predicate = (
            _always_true
            if bound_from.filter is None
            else _compile_predicate(bound_from.filter, True, sender)
        )
    return BoundQuery(
        query=query,
        returns=returns,
        sources=bound_from.sources,
        join_conditions=bound_from.join_conditions,
        filter=bound_from.filter,
        sender=sender,
        _from=bound_from,
        _row_predicate=row_predicate,
    )


def bind_subscription(
    query: Query, catalog: Catalog, *, sender: Identity | None = None
) -> BoundQuery:
    """Bind a subscription query, applying the extra subscription rules.

    Beyond the one-off rules: at most two tables; the looked-up (joined) table's join column
    must be indexed (when the catalog knows indexes); an event table cannot be looked up.
    ``sender`` is required when the query mentions ``:sender``.
    """
    return bind_query(query, catalog, sender=sender, subscription=True)


def _check_subscription_plan(bound: _From, returns: Source) -> None:
    count = len(bound.sources)
    if count > 2:
        raise SqlError(f"Invalid number of tables in subscription: {count}")
    if count < 2:
        return
    # A two-table subscription is planned as an index lookup into the table that is not
    # returned; without an equality linking the two tables and an index on the looked-up
    # column it would need a hash or nested-loop join, which subscriptions refuse.
    lookup = next(s for s in bound.sources if s.alias != returns.alias)
    link = _link_column(bound.join_conditions[0], lookup.alias, returns.alias)
    if link is None and bound.filter is not None:
        for conjunct in _conjuncts(bound.filter):
            link = _link_column(conjunct, lookup.alias, returns.alias)
            if link is not None:
                break
    indexed = lookup.table.indexed_columns
    if link is None or (indexed is not None and link not in indexed):
        raise SqlError("Subscriptions require indexes on join columns")
    if lookup.table.is_event:
        raise SqlError("Event tables cannot be used as the lookup table in subscription joins")


def _conjuncts(expr: BoundExpr) -> Iterator[BoundExpr]:
    if isinstance(expr, BoundLogic) and expr.is_and:
        for operand in expr.operands:
            yield from _conjuncts(operand)
    else:
        yield expr


def _link_column(expr: BoundExpr | None, lookup_alias: str, other_alias: str) -> str | None:
    """The looked-up column of an ``other.x = lookup.y`` equality, if ``expr`` is one."""
    if not isinstance(expr, BoundCompare) or expr.op != "=":
        return None
    left, right = expr.left, expr.right
    if not isinstance(left, FieldRef) or not isinstance(right, FieldRef):
        return None
    if left.alias == other_alias and right.alias == lookup_alias:
        return right.column
    if left.alias == lookup_alias and right.alias == other_alias:
        return left.column
    return None


# --------------------------------------------------------------------------------------------
# Binding: HTTP SQL statements
# --------------------------------------------------------------------------------------------


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
    _from: _From = field(repr=False, compare=False)
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
    with _recursion_guard("type checker"):
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
            raise _unexpected(U64, inferred)
        value = parse_literal(literal.text, U64)
        return BoundSetVar(statement.name, value)
    _check_variable(statement.name)
    return BoundShowVar(statement.name)


def _check_variable(name: str) -> None:
    if name not in _SYSTEM_VARIABLES:
        raise SqlError(f"{name} is not a valid system variable")


def _bind_select(query: Query, catalog: Catalog, sender: Identity | None) -> BoundSelect:
    checker = _TypeChecker()
    bound_from = _bind_from(query, catalog, checker, sender)
    projection = query.projection
    star: Source | None = None
    fields: tuple[FieldRef, ...] = ()
    if isinstance(projection, Star):
        star = _star_source(projection, bound_from.sources)
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
    table = _lookup(catalog, name)
    if table.is_view:
        raise SqlError(f"`{table.name}` is a view; DML on views is not supported")
    return table


def _dml_value(literal: Literal, ty: AlgebraicType) -> Any:
    # DML is stricter than WHERE: a quoted string only fits a String column, a boolean only Bool.
    if literal.kind == "bool":
        if ty != BOOL:
            raise _unexpected(ty, BOOL)
        return literal.text == "true"
    if literal.kind == "string":
        if ty != STRING:
            raise _unexpected(ty, STRING)
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
        return None, _always_true
    checker = _TypeChecker()
    checker.add(written_name, table)
    bound = checker.check(where, BOOL)
    if _mentions_sender(where) and sender is None:
        raise SqlError("the query uses :sender but no caller identity was given")
    return bound, _compile_predicate(bound, True, sender)
