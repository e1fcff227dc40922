"""The client cache's B-tree keys order as the server orders values (core/key_order.py): sums
by tag then payload, products field by field, Option's some before none, floats totally."""

from __future__ import annotations

import enum
import math
from typing import Any

import pytest

from spacetimedb_sdk.algebraic_type import (
    F64,
    I32,
    IDENTITY,
    STRING,
    U8,
    UNIT,
    ArrayType,
    RefType,
    Typespace,
    option,
    product_of,
    result,
    sum_of,
)
from spacetimedb_sdk.bsatn.bindings import ProductBinding, SumBinding
from spacetimedb_sdk.core.key_order import order_key
from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.values import Err, Ok, Some, SumValue


class Color(enum.Enum):
    """A plain enum as generated code binds it: members have no ``<``."""

    RED = 0
    GREEN = 1
    BLUE = 2


COLOR_TYPE = sum_of([("Red", UNIT), ("Green", UNIT), ("Blue", UNIT)])


def _member(member: Color) -> Any:
    return lambda _payload: member


def _unwrap_color(color: Color) -> tuple[int, Any]:
    return color.value, ()


COLOR_BINDING = SumBinding(tuple(_member(m) for m in Color), _unwrap_color)


def ordered(
    ty: Any, values: list[Any], typespace: Typespace | None = None, bindings: Any = None
) -> list[Any]:
    key = order_key(ty, typespace or Typespace(), bindings or {})
    assert key is not None
    return sorted(values, key=key)


def test_a_plain_enum_orders_by_variant_tag() -> None:
    ts = Typespace((COLOR_TYPE,))
    values = [Color.BLUE, Color.RED, Color.GREEN, Color.RED]
    assert ordered(RefType(0), values, ts, {0: COLOR_BINDING}) == [
        Color.RED, Color.RED, Color.GREEN, Color.BLUE,
    ]  # fmt: skip


def test_a_sum_orders_by_tag_then_payload() -> None:
    ty = sum_of([("Int", I32), ("Text", STRING)])
    values = [SumValue(1, "Text", "a"), SumValue(0, "Int", 7), SumValue(0, "Int", -3)]
    assert ordered(ty, values) == [
        SumValue(0, "Int", -3), SumValue(0, "Int", 7), SumValue(1, "Text", "a"),
    ]  # fmt: skip


def test_option_some_comes_before_none_and_nests() -> None:
    assert ordered(option(I32), [None, 5, -1]) == [-1, 5, None]
    nested = option(option(U8))
    # some(some(x)) < some(none) < none
    assert ordered(nested, [None, Some(None), 3, 1]) == [1, 3, Some(None), None]


def test_result_orders_ok_before_err() -> None:
    ty = result(I32, STRING)
    assert ordered(ty, [Err("b"), Ok(2), Err("a"), Ok(1)]) == [Ok(1), Ok(2), Err("a"), Err("b")]


def test_products_order_field_by_field_bound_or_not() -> None:
    point = product_of([("x", I32), ("y", STRING)])
    dicts = [{"x": 2, "y": "a"}, {"x": 1, "y": "z"}, {"x": 1, "y": "b"}]
    assert ordered(point, dicts) == [{"x": 1, "y": "b"}, {"x": 1, "y": "z"}, {"x": 2, "y": "a"}]

    class Point:
        def __init__(self, x: int, y: str) -> None:
            self.x, self.y = x, y

    ts = Typespace((point,))
    objects = [Point(2, "a"), Point(1, "z"), Point(1, "b")]
    bound = ordered(RefType(0), objects, ts, {0: ProductBinding(Point, ("x", "y"))})
    assert [(p.x, p.y) for p in bound] == [(1, "b"), (1, "z"), (2, "a")]


def test_arrays_order_element_by_element_and_hash() -> None:
    ts = Typespace((COLOR_TYPE,))
    key = order_key(ArrayType(RefType(0)), ts, {0: COLOR_BINDING})
    assert key is not None
    a, b = key([Color.RED, Color.BLUE]), key([Color.GREEN])
    assert a < b and hash(a) == hash(key([Color.RED, Color.BLUE]))


def test_floats_order_totally() -> None:
    values = [math.nan, 1.5, -math.inf, 0.0]
    out = ordered(F64, values)
    assert out[:3] == [-math.inf, 0.0, 1.5] and math.isnan(out[3])


@pytest.mark.parametrize("ty", [I32, STRING, IDENTITY, ArrayType(U8)])
def test_values_that_already_order_as_the_server_does_are_kept(ty: Any) -> None:
    assert order_key(ty, Typespace(), {}) is None


def test_identities_order_by_their_number() -> None:
    # The server compares the U256; the class compares the same integer.
    assert sorted([Identity(3), Identity(1 << 200), Identity(2)]) == [
        Identity(2), Identity(3), Identity(1 << 200),
    ]  # fmt: skip


def test_a_recursive_type_has_a_key() -> None:
    # List = Nil | Cons(Node); Node = {head: I32, tail: List}
    ts = Typespace(
        (
            sum_of([("Nil", UNIT), ("Cons", RefType(1))]),
            product_of([("head", I32), ("tail", RefType(0))]),
        )
    )
    nil = SumValue(0, "Nil", ())

    def cons(head: int, tail: Any) -> SumValue:
        return SumValue(1, "Cons", {"head": head, "tail": tail})

    values = [cons(2, nil), nil, cons(1, cons(5, nil)), cons(1, nil)]
    assert ordered(RefType(0), values, ts) == [
        nil,
        cons(1, nil),
        cons(1, cons(5, nil)),
        cons(2, nil),
    ]


def test_a_value_of_the_wrong_kind_is_a_type_error() -> None:
    key = order_key(sum_of([("A", I32), ("B", STRING)]), Typespace(), {})
    assert key is not None
    with pytest.raises(TypeError, match="SumValue"):
        key(3)
