"""Bulk decoding into row classes: generated (slotted dataclass) rows are filled slot by slot,
any other bound class still goes through its own ``__init__``; ids shared within one batch."""

from __future__ import annotations

import dataclasses
import gc
import struct

import pytest

from spacetimedb_sdk.algebraic_type import (
    BOOL,
    IDENTITY,
    STRING,
    U32,
    U64,
    RefType,
    Typespace,
    product_of,
)
from spacetimedb_sdk.bsatn import ProductBinding, compile_codec
from spacetimedb_sdk.errors import BsatnDecodeError
from spacetimedb_sdk.identity import Identity


@dataclasses.dataclass(slots=True)
class Row:
    id: int
    hp: int


@dataclasses.dataclass(slots=True)
class Checked:
    id: int
    hp: int
    seen: list[int] = dataclasses.field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self.seen.append(self.id)


@dataclasses.dataclass(slots=True)
class Chat:
    sender: Identity
    text: str


FLAT = Typespace((product_of([("id", U64), ("hp", U32)]),))


def _rows(*pairs: tuple[int, int]) -> list[bytes]:
    return [struct.pack("<QI", a, b) for a, b in pairs]


def test_slotted_dataclass_rows_decode_equal_to_their_constructor() -> None:
    codec = compile_codec(RefType(0), FLAT, {0: ProductBinding(Row, ("id", "hp"))})
    rows = _rows((1, 10), (2**64 - 1, 0))
    expected = [Row(1, 10), Row(2**64 - 1, 0)]
    assert codec.decode_many(rows) == expected
    assert codec.decode_concatenated(b"".join(rows)) == expected
    assert [codec.decode(r) for r in rows] == expected


def test_a_class_with_post_init_still_runs_it() -> None:
    binding = ProductBinding(Checked, ("id", "hp"))
    codec = compile_codec(RefType(0), FLAT, {0: binding})
    rows = _rows((7, 1), (8, 2))
    for decoded in (codec.decode_many(rows), codec.decode_concatenated(b"".join(rows))):
        assert [r.seen for r in decoded] == [[7], [8]]


def test_flat_rows_with_a_bad_bool_are_refused_in_bulk() -> None:
    ts = Typespace((product_of([("id", U32), ("alive", BOOL)]),))
    codec = compile_codec(RefType(0), ts)
    assert codec.decode_concatenated(b"\x01\x00\x00\x00\x01") == [{"id": 1, "alive": True}]
    with pytest.raises(BsatnDecodeError):
        codec.decode_concatenated(b"\x01\x00\x00\x00\x01\x02\x00\x00\x00\x02")


def test_equal_identities_in_one_batch_are_equal_values() -> None:
    ts = Typespace((product_of([("sender", IDENTITY), ("text", STRING)]),))
    codec = compile_codec(RefType(0), ts, {0: ProductBinding(Chat, ("sender", "text"))})
    alice, bob = Identity(2**255 + 5), Identity(1)
    values = [Chat(alice, "hi"), Chat(bob, "yo"), Chat(alice, "ok")]
    decoded = codec.decode_many([codec.encode(v) for v in values])
    assert decoded == values
    assert decoded[0].sender is decoded[2].sender  # one object per id in a batch
    assert str(decoded[0].sender) == str(alice)


def test_bulk_decoding_leaves_the_collector_as_it_found_it() -> None:
    codec = compile_codec(RefType(0), FLAT, {0: ProductBinding(Row, ("id", "hp"))})
    rows = _rows(*((i, i) for i in range(2000)))
    was, thresholds = gc.isenabled(), gc.get_threshold()
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            assert len(codec.decode_many(rows)) == 2000
            assert len(codec.decode_concatenated(b"".join(rows))) == 2000
            assert gc.isenabled() is enabled
            assert gc.get_threshold() == thresholds
            with pytest.raises(BsatnDecodeError):
                codec.decode_many([*rows, b"\x00"])
            assert gc.isenabled() is enabled
            assert gc.get_threshold() == thresholds
    finally:
        (gc.enable if was else gc.disable)()
        gc.set_threshold(*thresholds)


def test_a_threshold_set_during_a_bulk_decode_is_kept() -> None:
    thresholds = gc.get_threshold()
    chosen = (thresholds[0] + 1, 5, 5)

    @dataclasses.dataclass(slots=True)
    class Changing:
        id: int
        hp: int

        def __post_init__(self) -> None:
            gc.set_threshold(*chosen)  # e.g. another thread tuning the collector meanwhile

    codec = compile_codec(RefType(0), FLAT, {0: ProductBinding(Changing, ("id", "hp"))})
    try:
        codec.decode_many(_rows(*((i, i) for i in range(2000))))
        assert gc.get_threshold() == chosen
    finally:
        gc.set_threshold(*thresholds)
