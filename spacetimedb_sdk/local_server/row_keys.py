"""Index keys: hashable, totally ordered stand-ins for column values.

Unique and hash indexes are dicts keyed by column values; BTree indexes are sorted lists. Most
column values (integers, strings, bools, bytes, Identity, Timestamp, ...) already hash and
order correctly and are used as they are. Values that do not (``None`` next to values in an
Option, module dataclasses, enum members, tagged unions, lists) are mapped to tuples that order
like SATS values: sums by tag then payload, products field by field, arrays element-wise.

Key functions take values in the module's form (instances of its bound classes).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter, itemgetter
from typing import Any, Final

from spacetimedb_sdk.algebraic_type import (
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
from spacetimedb_sdk.bsatn import Bindings, ProductBinding, SumBinding
from spacetimedb_sdk.values import Err, Ok, Some, SumValue

__all__ = ["MAX", "MIN", "KeyFn", "column_key_function", "row_key_function"]

#: Maps a value to its key; ``None`` means "the value is its own key".
KeyFn = Callable[[Any], Any] | None

_SELF_KEYED_SPECIALS: Final = frozenset(
    ("identity", "connection_id", "timestamp", "time_duration", "uuid", "bytes")
)


class _Extreme:
    """A sentinel greater (or smaller) than every key; used for range bounds on tuples."""

    __slots__ = ("_top",)

    def __init__(self, top: bool) -> None:
        self._top = top

    def __lt__(self, other: object) -> bool:
        return not self._top and other is not self

    def __gt__(self, other: object) -> bool:
        return self._top and other is not self

    def __le__(self, other: object) -> bool:
        return other is self or not self._top

    def __ge__(self, other: object) -> bool:
        return other is self or self._top

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return hash(self._top)

    def __repr__(self) -> str:
        return "MAX" if self._top else "MIN"


MAX: Final = _Extreme(True)
MIN: Final = _Extreme(False)


def _resolve(
    ty: AlgebraicType, typespace: Typespace, bindings: Bindings
) -> tuple[AlgebraicType, ProductBinding | SumBinding | None]:
    binding: ProductBinding | SumBinding | None = None
    while isinstance(ty, RefType):
        if binding is None:
            binding = bindings.get(ty.index)
        ty = typespace.types[ty.index]
    return ty, binding


def column_key_function(ty: AlgebraicType, typespace: Typespace, bindings: Bindings) -> KeyFn:
    """The key function for values of ``ty`` (``None`` when values are their own keys)."""
    resolved, binding = _resolve(ty, typespace, bindings)
    if isinstance(resolved, PrimitiveType):
        return None
    kind = special_kind(resolved)
    if kind in _SELF_KEYED_SPECIALS:
        return None
    if kind == "unit":
        return lambda _v: ()
    if isinstance(resolved, ArrayType):
        inner = column_key_function(resolved.element, typespace, bindings)
        if inner is None:
            return tuple
        return lambda v: tuple(map(inner, v))
    if isinstance(resolved, ProductType):
        return _product_key(resolved, binding, typespace, bindings)
    if isinstance(resolved, SumType):
        return _sum_key(resolved, kind, binding, typespace, bindings)
    raise TypeError(f"no key function for {resolved!r}")


def _product_key(
    ty: ProductType,
    binding: ProductBinding | SumBinding | None,
    typespace: Typespace,
    bindings: Bindings,
) -> Callable[[Any], Any]:
    keys = [column_key_function(e.algebraic_type, typespace, bindings) for e in ty.elements]
    getters: list[Callable[[Any], Any]]
    if isinstance(binding, ProductBinding):
        getters = [attrgetter(a) for a in binding.attrs]
    else:
        getters = [itemgetter(e.name or str(i)) for i, e in enumerate(ty.elements)]
    pairs = list(zip(getters, keys, strict=True))

    def key(v: Any) -> tuple[Any, ...]:
        return tuple(g(v) if k is None else k(g(v)) for g, k in pairs)

    return key


def _sum_key(
    ty: SumType,
    kind: str | None,
    binding: ProductBinding | SumBinding | None,
    typespace: Typespace,
    bindings: Bindings,
) -> Callable[[Any], Any]:
    payload_keys = [
        column_key_function(v.algebraic_type, typespace, bindings)
        if v.algebraic_type != UNIT else (lambda _p: ())
        for v in ty.variants
    ]  # fmt: skip

    def with_payload(tag: int, payload: Any) -> tuple[Any, ...]:
        k = payload_keys[tag]
        return (tag, payload if k is None else k(payload))

    if isinstance(binding, SumBinding):
        unwrap = binding.unwrap
        return lambda v: with_payload(*unwrap(v))
    if kind == "option":

        def option_key(v: Any) -> tuple[Any, ...]:
            if v is None:
                return (1,)
            return with_payload(0, v.value if isinstance(v, Some) else v)

        return option_key
    if kind == "result":
        return lambda v: with_payload(0, v.value) if isinstance(v, Ok) else with_payload(1, v.error)
    if kind == "schedule_at":
        return lambda v: (v.tag, v.value)

    def generic_key(v: Any) -> tuple[Any, ...]:
        if isinstance(v, SumValue):
            return with_payload(v.tag, v.value)
        if isinstance(v, Err):
            return with_payload(1, v.error)
        raise TypeError(f"not a value of this sum type: {v!r}")

    return generic_key


def row_key_function(
    attrs: tuple[str, ...], keys: tuple[KeyFn, ...], as_tuple: bool
) -> Callable[[Any], Any]:
    """The key of a row for an index on the columns read by ``attrs``.

    Single-column keys are the column key itself unless ``as_tuple`` (BTree indexes always use
    tuples so that prefixes and the MIN/MAX sentinels compare uniformly).
    """
    if len(attrs) == 1 and not as_tuple:
        getter = attrgetter(attrs[0])
        k = keys[0]
        if k is None:
            return getter
        return lambda row: k(getter(row))
    getters = [attrgetter(a) for a in attrs]
    if all(k is None for k in keys):
        if len(attrs) == 1:
            g0 = getters[0]
            return lambda row: (g0(row),)
        multi = attrgetter(*attrs)
        return multi
    pairs = list(zip(getters, keys, strict=True))
    return lambda row: tuple(g(row) if k is None else k(g(row)) for g, k in pairs)
