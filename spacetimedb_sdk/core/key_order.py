"""Index keys in the server's order: what the client cache's B-tree indexes sort by.

The server orders values structurally (SATS ``AlgebraicValue``): a sum by variant tag, then by
payload (so an Option's ``some`` comes before its ``none``); a product field by field; an array
element by element; bools, integers, strings (UTF-8 byte order is code-point order) and bytes
as Python does; floats totally (NaN after every number). The Python values the codecs produce
do not all compare that way -- an ``enum.Enum``, a ``SumValue`` or a generated sum class has no
``<``, ``None`` compares with nothing, a ``dict`` product has no order and a ``list`` cannot be
hashed -- so each index column gets a function from its value to a hashable stand-in that
orders as the server does, or ``None`` where the value already is one. The functions read a
value the way the encoder does, so a key a user passes to ``filter()`` maps like a cached one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from spacetimedb_sdk.algebraic_type import (
    F32,
    F64,
    AlgebraicType,
    ArrayType,
    PrimitiveType,
    ProductType,
    RefType,
    SumType,
    Typespace,
    special_kind,
)
from spacetimedb_sdk.bsatn.bindings import Bindings, ProductBinding, SumBinding
from spacetimedb_sdk.schedule_at import ScheduleAt
from spacetimedb_sdk.values import Err, Ok, Some, SumValue

__all__ = ["OrderKey", "order_key"]

#: Maps a column value to a hashable stand-in that orders as the server orders the value.
OrderKey = Callable[[Any], Any]

#: Special types whose Python classes (or values) already hash and order by their number.
_ORDERED_AS_IS = frozenset(
    {"identity", "connection_id", "timestamp", "time_duration", "uuid", "bytes", "unit"}
)


def order_key(ty: AlgebraicType, typespace: Typespace, bindings: Bindings) -> OrderKey | None:
    """The stand-in function for values of ``ty``, or None when values order as they are."""
    return _Compiler(typespace, bindings).key(ty)


def _float_key(value: float) -> Any:
    # NaN equals itself and follows every number; -0.0 and 0.0 are one key (as in Python).
    return (1,) if math.isnan(value) else (0, value)


def _schedule_at_key(value: ScheduleAt) -> Any:
    return (value.tag, value.value)


def _unwrap_sum_value(value: Any) -> tuple[int, Any]:
    if not isinstance(value, SumValue):
        raise TypeError(f"a key of this sum type is a SumValue, got {value!r}")
    return value.tag, value.value


class _Compiler:
    def __init__(self, typespace: Typespace, bindings: Bindings) -> None:
        self._typespace = typespace
        self._bindings = bindings
        #: Ref index -> its function, or a forwarding cell while it is being compiled.
        self._refs: dict[int, OrderKey | None] = {}
        self._cells: dict[int, list[OrderKey | None]] = {}

    def key(self, ty: AlgebraicType) -> OrderKey | None:
        if isinstance(ty, RefType):
            return self._ref(ty.index)
        kind = special_kind(ty)
        if kind in _ORDERED_AS_IS:
            return None
        if kind == "schedule_at":
            return _schedule_at_key
        if isinstance(ty, PrimitiveType):
            return _float_key if ty in (F32, F64) else None
        if isinstance(ty, ArrayType):
            return self._array(self.key(ty.element))
        if isinstance(ty, SumType):
            if kind == "option":
                return self._option(self.key(ty.variants[0].algebraic_type))
            if kind == "result":
                return self._result(ty)
            return self._sum(ty, _unwrap_sum_value)
        if isinstance(ty, ProductType):
            names = [el.name if el.name is not None else str(i) for i, el in enumerate(ty.elements)]
            return self._product(ty, lambda v: [v[n] for n in names])
        raise TypeError(f"no order for {ty!r}")  # pragma: no cover - every type is handled

    def _ref(self, index: int) -> OrderKey | None:
        if index in self._refs:
            return self._refs[index]
        if index in self._cells:  # a recursive type: call through the cell once it is filled
            cell = self._cells[index]

            def forward(value: Any) -> Any:
                f = cell[0]
                return value if f is None else f(value)

            return forward
        if not 0 <= index < len(self._typespace):
            raise ValueError(f"unresolvable type reference Ref({index})")
        cell = self._cells[index] = [None]
        ty = self._typespace.types[index]
        binding = self._bindings.get(index)
        if binding is not None:  # the class bound here decodes whatever type the ref leads to
            ty = self._typespace.resolve(ty)
        found: OrderKey | None
        if isinstance(binding, ProductBinding) and isinstance(ty, ProductType):
            attrs = binding.attrs
            found = self._product(ty, lambda v: [getattr(v, a) for a in attrs])
        elif isinstance(binding, SumBinding) and isinstance(ty, SumType):
            found = self._sum(ty, binding.unwrap)
        else:
            found = self.key(ty)
        cell[0] = found
        self._refs[index] = found
        del self._cells[index]
        return found

    @staticmethod
    def _array(element: OrderKey | None) -> OrderKey:
        if element is None:
            return tuple
        return lambda value: tuple(map(element, value))

    @staticmethod
    def _option(inner: OrderKey | None) -> OrderKey:
        def option_key(value: Any) -> Any:
            if value is None:
                return (1,)
            if isinstance(value, Some):
                value = value.value
            return (0, value if inner is None else inner(value))

        return option_key

    def _result(self, ty: SumType) -> OrderKey:
        ok, err = (self.key(v.algebraic_type) for v in ty.variants)

        def result_key(value: Any) -> Any:
            if isinstance(value, Ok):
                return (0, value.value if ok is None else ok(value.value))
            if isinstance(value, Err):
                return (1, value.error if err is None else err(value.error))
            raise TypeError(f"a Result key needs Ok(...) or Err(...), got {value!r}")

        return result_key

    def _sum(self, ty: SumType, unwrap: Callable[[Any], tuple[int, Any]]) -> OrderKey:
        payloads = [self.key(v.algebraic_type) for v in ty.variants]

        def sum_key(value: Any) -> Any:
            tag, payload = unwrap(value)
            f = payloads[tag]
            return (tag, payload if f is None else f(payload))

        return sum_key

    def _product(self, ty: ProductType, fields: Callable[[Any], list[Any]]) -> OrderKey:
        keys = [self.key(el.algebraic_type) for el in ty.elements]

        def product_key(value: Any) -> Any:
            return tuple(v if f is None else f(v) for f, v in zip(keys, fields(value), strict=True))

        return product_key
