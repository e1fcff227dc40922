"""Binding, first step: the typed expression tree and the type checker that builds it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from spacetimedb_sdk.algebraic_type import (
    BOOL,
    IDENTITY,
    AlgebraicType,
    special_kind,
)
from spacetimedb_sdk.local_server.sql.ast import (
    And,
    ColumnRef,
    CompareOp,
    Expr,
    Literal,
    Or,
    SenderParam,
)
from spacetimedb_sdk.local_server.sql.catalog import Catalog, TableInfo
from spacetimedb_sdk.local_server.sql.errors import SqlError
from spacetimedb_sdk.local_server.sql.literals import format_type, is_comparable, parse_literal

__all__ = [
    "BoundCompare",
    "BoundExpr",
    "BoundLogic",
    "Constant",
    "FieldRef",
    "SenderValue",
    "Source",
    "TypeChecker",
    "require_table",
    "unexpected_type",
]


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


def unexpected_type(expected: AlgebraicType, inferred: AlgebraicType) -> SqlError:
    """The server's type-mismatch error."""
    return SqlError(
        f"Unexpected type: (expected) {format_type(expected)} != {format_type(inferred)} (inferred)"
    )


class TypeChecker:
    """Types expressions against the aliases in scope, the way the server's checker does."""

    def __init__(self) -> None:
        self.scope: dict[str, TableInfo] = {}

    def add(self, alias: str, table: TableInfo) -> None:
        """Bring ``table`` into scope as ``alias``."""
        if alias in self.scope:
            raise SqlError(f"Duplicate name `{alias}`")
        self.scope[alias] = table

    def check(self, expr: Expr, expected: AlgebraicType | None) -> BoundExpr:
        """Type ``expr`` (against ``expected`` when given) into a bound expression."""
        if isinstance(expr, Literal):
            if expr.kind == "bool":
                if expected is None or expected == BOOL:
                    return Constant(expr.text == "true", BOOL)
                raise unexpected_type(expected, BOOL)
            if expected is None:
                raise SqlError("Cannot resolve type for literal expression")
            return Constant(parse_literal(expr.text, expected), expected)
        if isinstance(expr, SenderParam):
            if expected is None:
                return SenderValue(IDENTITY)
            if expected == IDENTITY or special_kind(expected) == "bytes":
                return SenderValue(expected)
            raise unexpected_type(expected, IDENTITY)
        if isinstance(expr, ColumnRef):
            ref = self.field(expr)
            if expected is not None and ref.ty != expected:
                raise unexpected_type(expected, ref.ty)
            return ref
        if expected is not None and expected != BOOL:
            raise unexpected_type(expected, BOOL)
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
        if not is_comparable(operand_type):
            raise SqlError(
                f"Invalid binary operator `{expr.op}` for type `{format_type(operand_type)}`"
            )
        return BoundCompare(expr.op, left, right)

    def field(self, ref: ColumnRef) -> FieldRef:
        """Resolve a qualified column reference."""
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


def require_table(catalog: Catalog, name: str) -> TableInfo:
    """The table ``name`` from ``catalog``, or the server's unknown-table error."""
    table = catalog.lookup_table(name)
    if table is None:
        raise SqlError(f"no such table: `{name}`. If the table exists, it may be marked private.")
    return table
