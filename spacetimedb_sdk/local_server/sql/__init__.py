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

The package follows those steps, one module each: :mod:`.ast` (the syntax tree),
:mod:`.parsing`, :mod:`.catalog` (what names resolve against), :mod:`.literals` (typed
literals), :mod:`.typed_tree` (the type checker), :mod:`.predicates` (compiled closures),
:mod:`.queries` and :mod:`.statements` (bound queries and ``/sql`` statements),
:mod:`.row_budget` (``row_limit`` while evaluating) and :mod:`.errors`.
"""

from __future__ import annotations

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
    LiteralKind,
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
)
from spacetimedb_sdk.local_server.sql.catalog import (
    Catalog,
    ColumnInfo,
    RowFilterShape,
    SimpleCatalog,
    TableInfo,
    queries_for_all_tables,
)
from spacetimedb_sdk.local_server.sql.errors import SqlError
from spacetimedb_sdk.local_server.sql.literals import format_type, parse_literal
from spacetimedb_sdk.local_server.sql.parsing import (
    MAX_SQL_LENGTH,
    is_select_all_tables,
    parse_one_off_query,
    parse_sql,
    parse_subscription,
)
from spacetimedb_sdk.local_server.sql.queries import (
    BoundQuery,
    Row,
    bind_query,
    bind_subscription,
    row_filter_shape,
)
from spacetimedb_sdk.local_server.sql.row_budget import RowBudget, RowLimitExceededError
from spacetimedb_sdk.local_server.sql.statements import (
    BoundDelete,
    BoundInsert,
    BoundSelect,
    BoundSetVar,
    BoundShowVar,
    BoundStatement,
    BoundUpdate,
    OutputColumn,
    bind_sql,
)
from spacetimedb_sdk.local_server.sql.typed_tree import (
    BoundCompare,
    BoundExpr,
    BoundLogic,
    Constant,
    FieldRef,
    SenderValue,
    Source,
)

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
    "Or",
    "OutputColumn",
    "ProjectColumn",
    "Projection",
    "Query",
    "Row",
    "RowBudget",
    "RowFilterShape",
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
    "row_filter_shape",
]
