"""Render SATS types as Python source: annotations for values, expressions for the types.

Every generated module imports the SDK under underscore aliases (``_stdb``, ``_at``,
``_typing``), so generated user class names (PascalCase, never a leading underscore) cannot
clash with them. Named types are referred to by their bare class name; the renderer records
which ones it used so the emitter can import them.

Value shapes follow the codec (:mod:`spacetimedb_sdk.values`): ``Option<T>`` is ``T | None``
(``Some[T] | None`` when ``T`` itself can be ``None``), ``Result<T, E>`` is
``Ok[T] | Err[E]``, ``Array<u8>`` is ``bytes``, unit is ``tuple[()]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from spacetimedb_sdk import algebraic_type as _at
from spacetimedb_sdk.algebraic_type import (
    NEVER,
    UNIT,
    AlgebraicType,
    ArrayType,
    PrimitiveType,
    ProductType,
    RefType,
    SumType,
    Typespace,
    special_kind,
)
from spacetimedb_sdk.codegen.pywriter import Group, py_str

__all__ = [
    "STDB_ALIAS",
    "TypeRenderer",
]

#: Import aliases every generated module uses.
STDB_ALIAS: Final = "_stdb"
AT_ALIAS: Final = "_at"
TYPING_ALIAS: Final = "_typing"

_PRIMITIVE_ANNOTATIONS: Final = {
    "Bool": "bool",
    "String": "str",
    "F32": "float",
    "F64": "float",
}
_INTEGERS: Final = frozenset(
    {"I8", "U8", "I16", "U16", "I32", "U32", "I64", "U64", "I128", "U128", "I256", "U256"}
)
_SPECIAL_ANNOTATIONS: Final = {
    "identity": f"{STDB_ALIAS}.Identity",
    "connection_id": f"{STDB_ALIAS}.ConnectionId",
    "timestamp": f"{STDB_ALIAS}.Timestamp",
    "time_duration": f"{STDB_ALIAS}.TimeDuration",
    "uuid": f"{STDB_ALIAS}.Uuid",
    "schedule_at": f"{STDB_ALIAS}.ScheduleAt",
}
_SPECIAL_CONSTANTS: Final = {
    "identity": "IDENTITY",
    "connection_id": "CONNECTION_ID",
    "timestamp": "TIMESTAMP",
    "time_duration": "TIME_DURATION",
    "uuid": "UUID",
    "schedule_at": "SCHEDULE_AT",
}


class TypeRenderer:
    """Renders types of one module def.

    ``class_names`` maps typespace indices that have a generated class to its name; a ``Ref``
    to any other index is rendered as the type it resolves to.
    """

    def __init__(self, typespace: Typespace, class_names: Mapping[int, str]) -> None:
        self._typespace = typespace
        self._class_names = class_names
        self.used: set[str] = set()

    # --------------------------------------------------------------------------- helpers
    def resolve_alias(self, ty: AlgebraicType) -> AlgebraicType:
        """Follow ``Ref``s that do not name a generated class."""
        seen: set[int] = set()
        while isinstance(ty, RefType) and ty.index not in self._class_names:
            if ty.index in seen or not 0 <= ty.index < len(self._typespace.types):
                return ty
            seen.add(ty.index)
            ty = self._typespace.types[ty.index]
        return ty

    def can_be_none(self, ty: AlgebraicType) -> bool:
        """True if a value of ``ty`` may be ``None`` (an Option, possibly behind aliases)."""
        return special_kind(self.resolve_alias(ty)) == "option"

    def class_for(self, ty: AlgebraicType) -> str | None:
        """The generated class a (possibly aliased) ``Ref`` resolves to, or None."""
        resolved = self.resolve_alias(ty)
        if isinstance(resolved, RefType):
            return self._class_names.get(resolved.index)
        return None

    # ----------------------------------------------------------------------- annotations
    def annotation(self, ty: AlgebraicType) -> str:
        """The Python annotation of values of ``ty``."""
        ty = self.resolve_alias(ty)
        if isinstance(ty, RefType):
            name = self._class_names.get(ty.index)
            if name is None:
                return f"{TYPING_ALIAS}.Any"
            self.used.add(name)
            return name
        if isinstance(ty, PrimitiveType):
            if ty.name in _INTEGERS:
                return "int"
            return _PRIMITIVE_ANNOTATIONS[ty.name]
        kind = special_kind(ty)
        if kind in _SPECIAL_ANNOTATIONS:
            return _SPECIAL_ANNOTATIONS[kind]
        if kind == "bytes":
            return "bytes"
        if kind == "unit":
            return "tuple[()]"
        if kind == "option":
            assert isinstance(ty, SumType)
            inner_ty = ty.variants[0].algebraic_type
            inner = self.annotation(inner_ty)
            if self.can_be_none(inner_ty):
                return f"{STDB_ALIAS}.Some[{inner}] | None"
            return f"{inner} | None"
        if kind == "result":
            assert isinstance(ty, SumType)
            ok = self.annotation(ty.variants[0].algebraic_type)
            err = self.annotation(ty.variants[1].algebraic_type)
            return f"{STDB_ALIAS}.Ok[{ok}] | {STDB_ALIAS}.Err[{err}]"
        if isinstance(ty, ArrayType):
            return f"list[{self.annotation(ty.element)}]"
        if ty == NEVER:
            return f"{TYPING_ALIAS}.NoReturn"
        if isinstance(ty, ProductType):
            # Anonymous products are invalid in client code (docs/module-def.md#type-use-rules); the codec
            # still decodes them, to a dict.
            return f"dict[str, {TYPING_ALIAS}.Any]"
        if isinstance(ty, SumType):
            return f"{STDB_ALIAS}.SumValue"
        return f"{TYPING_ALIAS}.Any"

    # ----------------------------------------------------------------------- expressions
    def expression(self, ty: AlgebraicType) -> str:
        """A Python expression that builds ``ty`` with :mod:`spacetimedb_sdk.algebraic_type`."""
        if isinstance(ty, RefType):
            return f"{AT_ALIAS}.RefType({ty.index})"
        if isinstance(ty, PrimitiveType):
            return f"{AT_ALIAS}.{ty.name.upper()}"
        kind = special_kind(ty)
        constant = _SPECIAL_CONSTANTS.get(kind or "")
        if constant is not None and ty == getattr(_at, constant):
            return f"{AT_ALIAS}.{constant}"
        if ty == UNIT:
            return f"{AT_ALIAS}.UNIT"
        if isinstance(ty, ArrayType):
            return f"{AT_ALIAS}.array({self.expression(ty.element)})"
        if kind == "option":
            assert isinstance(ty, SumType)
            return f"{AT_ALIAS}.option({self.expression(ty.variants[0].algebraic_type)})"
        if kind == "result":
            assert isinstance(ty, SumType)
            ok = self.expression(ty.variants[0].algebraic_type)
            err = self.expression(ty.variants[1].algebraic_type)
            return f"{AT_ALIAS}.result({ok}, {err})"
        if isinstance(ty, ProductType):
            return self.product_expression(ty)
        if isinstance(ty, SumType):
            parts = ", ".join(
                f"({_name(v.name)}, {self.expression(v.algebraic_type)})" for v in ty.variants
            )
            return f"{AT_ALIAS}.sum_of([{parts}])"
        raise TypeError(f"cannot render {ty!r}")

    def product_expression(self, ty: ProductType) -> str:
        """``product_of([...])`` for ``ty`` (unit included, for parameter lists)."""
        return self.product_group(ty).flat()

    def product_group(self, ty: ProductType, head: str = "") -> Group:
        """:meth:`product_expression` as a :class:`Group` (split when too long)."""
        elements = tuple(
            Group("", (_name(e.name), self.expression(e.algebraic_type))) for e in ty.elements
        )
        return Group(f"{head}{AT_ALIAS}.product_of", (Group("", elements, open="[", close="]"),))


def _name(name: str | None) -> str:
    return "None" if name is None else py_str(name)
