"""Property and strictness tests for the compiled BSATN codecs.

Random types are drawn together with random values of those types; encode-then-decode must be the
identity, and every truncation or mutation of a valid encoding must either decode or raise
``BsatnDecodeError`` — never another exception.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacetimedb_sdk.algebraic_type import (
    BOOL,
    CONNECTION_ID,
    F32,
    F64,
    I8,
    I16,
    I32,
    I64,
    I128,
    I256,
    IDENTITY,
    SCHEDULE_AT,
    STRING,
    TIME_DURATION,
    TIMESTAMP,
    U8,
    U16,
    U32,
    U64,
    U128,
    U256,
    UNIT,
    UUID,
    AlgebraicType,
    ArrayType,
    PrimitiveType,
    ProductType,
    RefType,
    SumType,
    Typespace,
    array,
    option,
    product_of,
    result,
    special_kind,
    sum_of,
)
from spacetimedb_sdk.bsatn import ProductBinding, SumBinding, compile_codec
from spacetimedb_sdk.errors import BsatnDecodeError, BsatnEncodeError, BsatnError
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.schedule_at import ScheduleAt
from spacetimedb_sdk.timestamp import TimeDuration, Timestamp
from spacetimedb_sdk.uuid import Uuid
from spacetimedb_sdk.values import Err, Ok, Some, SumValue

_INT_BOUNDS = {
    "I8": 8, "U8": 8, "I16": 16, "U16": 16, "I32": 32, "U32": 32, "I64": 64, "U64": 64,
    "I128": 128, "U128": 128, "I256": 256, "U256": 256,
}  # fmt: skip

LEAVES: list[AlgebraicType] = [
    BOOL, I8, U8, I16, U16, I32, U32, I64, U64, I128, U128, I256, U256, F32, F64, STRING,
    IDENTITY, CONNECTION_ID, TIMESTAMP, TIME_DURATION, UUID, SCHEDULE_AT, UNIT, array(U8),
]  # fmt: skip

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=6)


def _compound(children: st.SearchStrategy[AlgebraicType]) -> st.SearchStrategy[AlgebraicType]:
    return st.one_of(
        children.map(array),
        children.map(option),
        st.tuples(children, children).map(lambda p: result(p[0], p[1])),
        st.lists(st.tuples(names, children), min_size=1, max_size=5, unique_by=lambda t: t[0]).map(
            product_of
        ),
        st.lists(st.tuples(names, children), min_size=1, max_size=4, unique_by=lambda t: t[0])
        .filter(lambda vs: [n for n, _ in vs][:2] not in (["some", "none"], ["ok", "err"]))
        .map(sum_of),
    )


types = st.recursive(st.sampled_from(LEAVES), _compound, max_leaves=8)


def values_of(ty: AlgebraicType) -> st.SearchStrategy[Any]:
    """A strategy for Python values of ``ty`` in the codec's unbound value shapes."""
    if isinstance(ty, PrimitiveType):
        n = ty.name
        if n == "Bool":
            return st.booleans()
        if n == "String":
            return st.text(max_size=20)
        if n == "F64":
            return st.floats(allow_nan=False)
        if n == "F32":
            return st.floats(width=32, allow_nan=False)
        bits = _INT_BOUNDS[n]
        if n.startswith("I"):
            return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
        return st.integers(0, (1 << bits) - 1)
    kind = special_kind(ty)
    if kind == "identity":
        return st.integers(0, (1 << 256) - 1).map(Identity)
    if kind == "connection_id":
        return st.integers(0, (1 << 128) - 1).map(ConnectionId)
    if kind == "uuid":
        return st.integers(0, (1 << 128) - 1).map(Uuid)
    if kind == "timestamp":
        return st.integers(-(1 << 63), (1 << 63) - 1).map(Timestamp)
    if kind == "time_duration":
        return st.integers(-(1 << 63), (1 << 63) - 1).map(TimeDuration)
    if kind == "schedule_at":
        return st.one_of(
            st.integers(-(1 << 63), (1 << 63) - 1).map(lambda m: ScheduleAt(TimeDuration(m))),
            st.integers(-(1 << 63), (1 << 63) - 1).map(lambda m: ScheduleAt(Timestamp(m))),
        )
    if kind == "unit":
        return st.just(())
    if kind == "bytes":
        return st.binary(max_size=20)
    if isinstance(ty, ArrayType):
        return st.lists(values_of(ty.element), max_size=4)
    if isinstance(ty, SumType):
        if kind == "option":
            inner_ty = ty.variants[0].algebraic_type
            inner = values_of(inner_ty)
            if special_kind(inner_ty) == "option":
                inner = inner.map(Some)
            return st.one_of(st.none(), inner)
        if kind == "result":
            return st.one_of(
                values_of(ty.variants[0].algebraic_type).map(Ok),
                values_of(ty.variants[1].algebraic_type).map(Err),
            )
        return st.one_of(
            *[_variant_values(i, v.name, v.algebraic_type) for i, v in enumerate(ty.variants)]
        )
    assert isinstance(ty, ProductType)
    return st.fixed_dictionaries({str(el.name): values_of(el.algebraic_type) for el in ty.elements})


def _variant_values(tag: int, name: str | None, ty: AlgebraicType) -> st.SearchStrategy[SumValue]:
    return values_of(ty).map(lambda val: SumValue(tag, name, val))


def draw_typed_value(data: st.DataObject) -> tuple[AlgebraicType, Any]:
    """Draw a random type, then a random value of it (drawn in two steps to keep reprs small)."""
    ty = data.draw(types, label="type")
    return ty, data.draw(values_of(ty), label="value")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, SumValue) and isinstance(b, SumValue):
        return a.tag == b.tag and a.name == b.name and _same(a.value, b.value)
    if isinstance(a, (Ok, Err, Some)) and type(a) is type(b):
        return _same(a.value if not isinstance(a, Err) else a.error,
                     b.value if not isinstance(b, Err) else b.error)  # fmt: skip
    return bool(a == b)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_encode_then_decode_is_identity(data: st.DataObject) -> None:
    ty, value = draw_typed_value(data)
    codec = compile_codec(ty)
    encoded = codec.encode(value)
    decoded = codec.decode(encoded)
    assert _same(decoded, value)
    assert codec.encode(decoded) == encoded
    if codec.fixed_size is not None:
        assert len(encoded) == codec.fixed_size


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_truncations_and_mutations_raise_only_bsatn_errors(data: st.DataObject) -> None:
    ty, value = draw_typed_value(data)
    codec = compile_codec(ty)
    encoded = codec.encode(value)
    if encoded:
        cut = data.draw(st.integers(0, len(encoded) - 1))
        with pytest.raises(BsatnDecodeError):
            codec.decode(encoded[:cut])
        pos = data.draw(st.integers(0, len(encoded) - 1))
        byte = data.draw(st.integers(0, 255))
        mutated = bytearray(encoded)
        mutated[pos] = byte
        try:
            codec.decode(bytes(mutated))
        except BsatnDecodeError as exc:
            assert exc.offset is None or 0 <= exc.offset <= len(encoded)
    with pytest.raises(BsatnDecodeError, match="trailing"):
        codec.decode(encoded + b"\x00")


# ----------------------------------------------------------------------------- strictness cases


def test_bool_byte_other_than_0_or_1_is_rejected() -> None:
    codec = compile_codec(product_of([("a", U8), ("b", BOOL)]))
    with pytest.raises(BsatnDecodeError, match="invalid Bool byte 0x02") as info:
        codec.decode(b"\x07\x02")
    assert info.value.offset == 1


def test_bad_sum_tag_is_rejected_with_offset() -> None:
    codec = compile_codec(product_of([("a", U32), ("o", option(STRING))]))
    with pytest.raises(BsatnDecodeError, match="invalid sum tag 5 for Option") as info:
        codec.decode(b"\x01\x00\x00\x00\x05")
    assert info.value.offset == 4


def test_invalid_utf8_is_rejected_with_offset() -> None:
    codec = compile_codec(STRING)
    with pytest.raises(BsatnDecodeError, match="invalid UTF-8") as info:
        codec.decode(b"\x03\x00\x00\x00a\xffb")
    assert info.value.offset == 5


def test_truncated_string_names_what_is_missing() -> None:
    codec = compile_codec(STRING)
    with pytest.raises(BsatnDecodeError, match="String needs 10 byte") as info:
        codec.decode(b"\x0a\x00\x00\x00abc")
    assert info.value.offset == 4


def test_trailing_bytes_are_rejected() -> None:
    with pytest.raises(BsatnDecodeError, match="1 trailing byte"):
        compile_codec(U16).decode(b"\x01\x00\x00")


def test_huge_array_count_on_short_input_is_an_error_not_a_hang() -> None:
    codec = compile_codec(array(U64))
    with pytest.raises(BsatnDecodeError):
        codec.decode(b"\xff\xff\xff\xff\x00")
    codec2 = compile_codec(array(STRING))
    with pytest.raises(BsatnDecodeError):
        codec2.decode(b"\xff\xff\xff\xff\x00")


def test_decode_errors_are_bsatn_errors_and_spacetimedb_errors() -> None:
    from spacetimedb_sdk.errors import SpacetimeDBError

    with pytest.raises(BsatnError) as info:
        compile_codec(BOOL).decode(b"")
    assert isinstance(info.value, SpacetimeDBError)


def test_non_bytes_input_is_a_typed_error() -> None:
    with pytest.raises(BsatnDecodeError):
        compile_codec(U8).decode("x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ty", "value"),
    [
        (U8, 256),
        (I8, -129),
        (U64, -1),
        (U256, 1 << 256),
        (I128, "7"),
        (STRING, 5),
        (BOOL, 1),
        (IDENTITY, "c200"),
        (option(U8), "x"),
        (array(U32), "abc"),
        (F32, 1e300),
        (product_of([("a", U8)]), {"b": 1}),
    ],
)
def test_encode_rejects_values_that_do_not_fit(ty: AlgebraicType, value: Any) -> None:
    with pytest.raises(BsatnEncodeError):
        compile_codec(ty).encode(value)


# ------------------------------------------------------------------------- compiled fast paths


def test_fixed_width_row_is_read_with_one_struct_call() -> None:
    entity = product_of([("id", U64), ("x", F32), ("y", F32), ("z", F32), ("hp", U32)])
    codec = compile_codec(entity)
    assert codec.fixed_size == 24
    assert codec.fixed_format is not None and codec.fixed_format.size == 24
    # The generated decoder has exactly one unpack for the whole row.
    root = codec.source.split("def _enc_root")[0]
    assert root.count("unpack_from") == 1
    rows = [{"id": i, "x": 1.5, "y": -2.0, "z": 0.25, "hp": 100 + i} for i in range(50)]
    data = b"".join(codec.encode(r) for r in rows)
    assert codec.decode_concatenated(data) == rows
    with pytest.raises(BsatnDecodeError, match="whole number"):
        codec.decode_concatenated(data[:-1])


def test_string_length_joins_the_preceding_fixed_run() -> None:
    message = product_of([("sender", IDENTITY), ("sent", TIMESTAMP), ("text", STRING)])
    codec = compile_codec(message)
    root = codec.source.split("def _enc_root")[0]
    assert root.count("unpack_from") == 1  # Identity + Timestamp + the string's length prefix
    value = {"sender": Identity(7), "sent": Timestamp(1), "text": "héllo"}
    assert codec.decode(codec.encode(value)) == value


class Point:
    """A user class bound to a typespace entry."""

    __slots__ = ("x", "y")

    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)

    def __hash__(self) -> int:
        return hash((self.x, self.y))


def test_bindings_decode_into_user_classes_and_recursive_refs_work() -> None:
    # 0: Point {x: i32, y: i32}; 1: Tree = Leaf(Point) | Node(Array<Tree>)
    ts = Typespace(
        (
            product_of([("x", I32), ("y", I32)]),
            sum_of([("Leaf", RefType(0)), ("Node", array(RefType(1)))]),
        )
    )
    bindings: dict[int, ProductBinding | SumBinding] = {
        0: ProductBinding(Point, ("x", "y")),
        1: SumBinding(
            wrap=(lambda p: ("leaf", p), lambda kids: ("node", kids)),
            unwrap=lambda v: (0 if v[0] == "leaf" else 1, v[1]),
        ),
    }
    codec = compile_codec(RefType(1), ts, bindings)
    tree = ("node", [("leaf", Point(1, 2)), ("node", [("leaf", Point(-3, 4))]), ("node", [])])
    data = codec.encode(tree)
    assert codec.decode(data) == tree
    with pytest.raises(BsatnDecodeError):
        codec.decode(data[:-1])


def test_nested_option_round_trips_with_some_wrapper() -> None:
    codec = compile_codec(option(option(U8)))
    assert codec.encode(None) == b"\x01"
    assert codec.encode(Some(None)) == b"\x00\x01"
    assert codec.encode(Some(5)) == b"\x00\x00\x05"
    assert codec.decode(b"\x01") is None
    assert codec.decode(b"\x00\x01") == Some(None)
    assert codec.decode(b"\x00\x00\x05") == Some(5)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_bulk_decoding_agrees_with_decoding_one_value(data: st.DataObject) -> None:
    # decode_many is the cache's bulk path: same values, and on bad input the same error.
    ty, value = draw_typed_value(data)
    codec = compile_codec(ty)
    encoded = codec.encode(value)
    first, second = codec.decode_many([encoded, encoded])
    assert _same(first, value) and _same(second, value)
    if not encoded:
        return
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(BsatnDecodeError) as one:
        codec.decode(encoded[:cut])
    with pytest.raises(BsatnDecodeError) as bulk:
        codec.decode_many([encoded, encoded[:cut]])
    assert str(bulk.value) == str(one.value)
    pos = data.draw(st.integers(0, len(encoded) - 1))
    mutated = bytearray(encoded)
    mutated[pos] = data.draw(st.integers(0, 255))
    try:
        expected = codec.decode_from(bytes(mutated), 0)[0]
    except BsatnDecodeError as exc:
        with pytest.raises(BsatnDecodeError) as bulk_mutated:
            codec.decode_many([bytes(mutated)])
        assert str(bulk_mutated.value) == str(exc)
    else:
        assert _same(codec.decode_many([bytes(mutated)])[0], expected)
