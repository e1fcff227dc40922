"""Our small SQL syntax tree: what parsing produces and binding consumes.

Subscription / one-off queries are :class:`Query` (or :class:`AllTables` for ``SELECT * FROM *``);
the HTTP ``/sql`` language adds :class:`Insert`, :class:`Update`, :class:`Delete`,
:class:`SetVar` and :class:`ShowVar`. Predicates are :data:`Expr` trees of comparisons and
connectives over column references, literals and ``:sender``.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeAlias

__all__ = [
    "AllTables",
    "And",
    "Assignment",
    "ColumnList",
    "ColumnRef",
    "Compare",
    "CompareOp",
    "CountStar",
    "Delete",
    "Expr",
    "Insert",
    "Join",
    "Literal",
    "LiteralKind",
    "Or",
    "ProjectColumn",
    "Projection",
    "Query",
    "SenderParam",
    "SetVar",
    "ShowVar",
    "Star",
    "Statement",
    "Update",
    "mentions_sender",
    "walk",
]


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
        return self.where is not None and mentions_sender(self.where)


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


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node of a predicate, without recursion."""
    stack = [expr]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(_children(node))


def mentions_sender(expr: Expr) -> bool:
    """True when the predicate uses ``:sender``."""
    return any(isinstance(node, SenderParam) for node in walk(expr))
