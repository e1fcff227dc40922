"""Type aliases that give Python annotations an exact SATS type.

Python has one ``int`` and one ``float``; SATS has twelve integer widths and two float widths.
Annotate a column or parameter with one of these aliases to choose the width::

    from spacetimedb_sdk.module import u32, f32

    @table
    class Point:
        x: f32
        y: f32
        tag: u32

Each alias is ``Annotated[int, SatsType(...)]`` (or ``float``), so type checkers see a plain
``int``/``float`` while the module API reads the marker. A bare ``int`` means ``i64`` and a bare
``float`` means ``f64``.

``Result[T, E]`` is SATS ``Result<T, E>``; its values are :class:`~spacetimedb_sdk.values.Ok`
and :class:`~spacetimedb_sdk.values.Err`::

    @table
    class Outcome:
        r: Result[i32, str]          # Ok(5) or Err("bad input")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final, TypeAlias, TypeVar, Union

from spacetimedb_sdk import algebraic_type as _at
from spacetimedb_sdk.algebraic_type import AlgebraicType
from spacetimedb_sdk.values import Err, Ok

__all__ = [
    "Result",
    "SatsType",
    "f32",
    "f64",
    "i8",
    "i16",
    "i32",
    "i64",
    "i128",
    "i256",
    "u8",
    "u16",
    "u32",
    "u64",
    "u128",
    "u256",
]


@dataclass(frozen=True)
class SatsType:
    """``Annotated`` metadata naming the exact SATS type of an annotation."""

    type: AlgebraicType


u8: TypeAlias = Annotated[int, SatsType(_at.U8)]
u16: TypeAlias = Annotated[int, SatsType(_at.U16)]
u32: TypeAlias = Annotated[int, SatsType(_at.U32)]
u64: TypeAlias = Annotated[int, SatsType(_at.U64)]
u128: TypeAlias = Annotated[int, SatsType(_at.U128)]
u256: TypeAlias = Annotated[int, SatsType(_at.U256)]
i8: TypeAlias = Annotated[int, SatsType(_at.I8)]
i16: TypeAlias = Annotated[int, SatsType(_at.I16)]
i32: TypeAlias = Annotated[int, SatsType(_at.I32)]
i64: TypeAlias = Annotated[int, SatsType(_at.I64)]
i128: TypeAlias = Annotated[int, SatsType(_at.I128)]
i256: TypeAlias = Annotated[int, SatsType(_at.I256)]
f32: TypeAlias = Annotated[float, SatsType(_at.F32)]
f64: TypeAlias = Annotated[float, SatsType(_at.F64)]

_T = TypeVar("_T")
_E = TypeVar("_E")

#: ``Result[T, E]``: ``Ok[T] | Err[E]`` to type checkers, SATS ``Result<T, E>`` to the module API.
Result: TypeAlias = Union[Ok[_T], Err[_E]]  # noqa: UP007 (a generic alias needs Union here)

#: Integer primitives (by SATS name) that may carry an auto-increment sequence.
INTEGER_TYPE_NAMES: Final = frozenset(
    ("I8", "U8", "I16", "U16", "I32", "U32", "I64", "U64", "I128", "U128", "I256", "U256")
)
