"""Parsing: sqlglot's PostgreSQL dialect narrowed to our syntax tree.

Everything SpacetimeDB rejects is rejected here with messages modelled on the server's
(docs/protocol.md#sql-subset, docs/protocol.md#sql-endpoint).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from sqlglot import Dialect, Token, TokenType, exp
from sqlglot.errors import ParseError, TokenError

from spacetimedb_sdk.local_server.sql.ast import (
    AllTables,
    And,
    Assignment,
    ColumnList,
    ColumnRef,
    Compare,
    CompareOp,
    CountStar,
    Delete,
    Expr,
    Insert,
    Join,
    Literal,
    Or,
    ProjectColumn,
    Projection,
    Query,
    SenderParam,
    SetVar,
    ShowVar,
    Star,
    Statement,
    Update,
    walk,
)
from spacetimedb_sdk.local_server.sql.errors import SqlError, recursion_guard

__all__ = [
    "MAX_SQL_LENGTH",
    "is_select_all_tables",
    "parse_one_off_query",
    "parse_sql",
    "parse_subscription",
]


#: Queries longer than this many UTF-8 bytes are rejected before parsing (as the server does).
MAX_SQL_LENGTH: Final = 50_000

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
    with recursion_guard("sql-parser"):
        parser = _Parser(sql, subscription=True)
        statement = parser.single_statement()
        if not isinstance(statement, (exp.Select, exp.SetOperation, exp.Subquery)):
            raise SqlError("Unsupported: Non-SELECT queries")
        return parser.query(statement)


def parse_sql(sql: str) -> Statement:
    """Parse one statement of the HTTP ``/sql`` language."""
    with recursion_guard("sql-parser"):
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
        except TokenError:
            raise SqlError(f"sql parser error: {_token_error_text(sql)}") from None

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
        except ParseError as exc:
            raise SqlError(f"sql parser error: {_parse_error_text(exc)}") from None
        except TokenError:
            raise SqlError(f"sql parser error: {_token_error_text(self.sql)}") from None
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


_TOKEN_DUMP = re.compile(r"<Token token_type: TokenType\.(\w+), text: (.*?), line: \d+")
_MISSING_PART = re.compile(r"Required keyword: '\w+' missing for <class '[\w.]+\.(\w+)'>")
_MISSING_AFTER = {
    "Where": "a condition after WHERE",
    "Limit": "a number after LIMIT",
    "And": "a condition after AND",
    "Or": "a condition after OR",
    "Not": "a condition after NOT",
    "Join": "a table after JOIN",
}


def _parse_error_text(exc: ParseError | TokenError) -> str:
    """sqlglot's complaint in our own words (its texts dump tokens and class names)."""
    if not isinstance(exc, ParseError) or not exc.errors:
        return _token_error_text(str(exc))
    first = exc.errors[0]
    description = str(first.get("description") or "")
    near = str(first.get("highlight") or "").strip()
    where = f" (line {first.get('line')}, column {first.get('col')})"
    missing = _MISSING_PART.match(description)
    dump = _TOKEN_DUMP.search(description)
    if missing is not None:
        part = _MISSING_AFTER.get(missing.group(1))
        text = f"expected {part}" if part else f"incomplete expression after `{near}`"
    elif description.startswith("Expected ") and dump is not None:
        wanted = description[len("Expected ") : description.find(" but got")]
        found = "the end of the query" if dump.group(1) == "SENTINEL" else f"`{dump.group(2)}`"
        text = f"expected a {wanted} after `{near}`, found {found}"
    elif description.startswith("Expecting "):
        text = f"expected `{description[len('Expecting ') :]}` after `{near}`"
    elif "Unexpected token" in description or "Invalid expression" in description:
        text = f"unexpected `{near}`"
    else:
        text = re.sub(r"<[^>]*>", "…", description)
    return text + where


def _token_error_text(sql: str) -> str:
    """Why the text could not even be split into tokens (nearly always an open quote)."""
    if sql.count("'") % 2 or sql.count('"') % 2:
        return "unterminated quoted string or identifier"
    return "the query text could not be read"


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
    return any(isinstance(node, ColumnRef) and node.table is None for node in walk(expr))


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
