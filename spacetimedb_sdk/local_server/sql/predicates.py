"""Binding: typed predicates compiled to plain Python closures over rows."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Final, TypeAlias

from spacetimedb_sdk.algebraic_type import (
    AlgebraicType,
    special_kind,
)
from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.local_server.sql.errors import SqlError
from spacetimedb_sdk.local_server.sql.typed_tree import (
    BoundCompare,
    BoundExpr,
    BoundLogic,
    Constant,
    FieldRef,
    SenderValue,
)

__all__ = ["Getter", "always_true", "compile_predicate"]


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
    return compile_predicate(expr, single, sender)


def compile_predicate(expr: BoundExpr, single: bool, sender: Identity | None) -> Getter:
    """A closure testing ``expr`` on one row (``single``) or on ``{alias: row}`` environments."""
    if isinstance(expr, BoundLogic):
        parts = [compile_predicate(op, single, sender) for op in expr.operands]
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


def always_true(_row: Any) -> bool:
    """The predicate of a query without WHERE."""
    return True
