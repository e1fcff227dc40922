"""Splitting, validating, decoding and building ``BsatnRowList``s."""

from __future__ import annotations

from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spacetimedb_sdk.algebraic_type import (
    BOOL,
    F32,
    IDENTITY,
    STRING,
    TIMESTAMP,
    U32,
    U64,
    AlgebraicType,
    option,
    product_of,
    type_from_json,
)
from spacetimedb_sdk.bsatn import BsatnCodec, compile_codec
from spacetimedb_sdk.errors import BsatnDecodeError, BsatnEncodeError
from spacetimedb_sdk.messages import (
    EventTableRows,
    OneOffQueryResultMsg,
    PersistentTableRows,
    QueryRows,
    QuerySetId,
    ReducerOk,
    ReducerResultMsg,
    ServerMessage,
    SingleTableRows,
    SubscribeAppliedMsg,
    TransactionUpdateMsg,
    UnsubscribeAppliedMsg,
    decode_server_message,
    encode_server_message,
)
from spacetimedb_sdk.row_list import MAX_FIXED_ROW_SIZE, BsatnRowList, FixedSize, RowOffsets
from spacetimedb_sdk.sats_json import value_to_json
from spacetimedb_sdk.values import Ok
from tests.conftest import load_fixture

SERVER_VECTORS: list[dict[str, Any]] = load_fixture("vectors", "v2_server_messages.json")[
    "messages"
]

USER_ROW = product_of([("identity", IDENTITY), ("name", option(STRING)), ("online", BOOL)])
MESSAGE_ROW = product_of([("sender", IDENTITY), ("sent", TIMESTAMP), ("text", STRING)])
TEST_EVENT_ROW = product_of([("name", STRING), ("value", U64)])
POINT_ROW = product_of([("x", U32), ("y", U32)])
ROW_TYPES: dict[str, AlgebraicType] = {
    "user": USER_ROW,
    "message": MESSAGE_ROW,
    "test_event": TEST_EVENT_ROW,
    "points": POINT_ROW,
}


def _vector(name: str) -> dict[str, Any]:
    return next(v for v in SERVER_VECTORS if v["name"] == name)


def _message(name: str) -> ServerMessage:
    return decode_server_message(bytes.fromhex(_vector(name)["hex"]))


def _rows_json(table: str, rows: BsatnRowList) -> list[Any]:
    ty = ROW_TYPES[table]
    return [value_to_json(ty, v, big_ints="number") for v in rows.decode_rows(compile_codec(ty))]


# ------------------------------------------------------------------------------- fixtures


def test_row_types_match_the_fixture_annotations() -> None:
    sub = _vector("SubscribeApplied (chat user rows)")["annotations"]
    assert type_from_json(sub["row_type"]) == USER_ROW
    tx_types = _vector("TransactionUpdate (persistent + event rows)")["annotations"]["row_types"]
    for table, ty_json in tx_types.items():
        assert type_from_json(ty_json) == ROW_TYPES[table]
    fixed = _vector("SubscribeApplied (FixedSize rows)")["annotations"]
    assert type_from_json(fixed["row_type"]) == POINT_ROW


def test_subscribe_applied_user_rows_row_offsets() -> None:
    msg = _message("SubscribeApplied (chat user rows)")
    assert isinstance(msg, SubscribeAppliedMsg)
    (entry,) = msg.rows.tables
    assert entry.table == "user"
    rows = entry.rows
    assert rows.size_hint == RowOffsets([0, 43, 77])
    assert len(rows) == 3
    split = rows.rows()
    assert [len(r) for r in split] == [43, 34, 48]
    assert b"".join(split) == rows.rows_data
    assert list(rows) == split
    codec = compile_codec(USER_ROW)
    assert [codec.decode(r) for r in split] == rows.decode_rows(codec)
    expected = _vector("SubscribeApplied (chat user rows)")["annotations"]["rows"]["user"]
    assert _rows_json("user", rows) == expected


def test_subscribe_applied_fixed_size_rows() -> None:
    msg = _message("SubscribeApplied (FixedSize rows)")
    assert isinstance(msg, SubscribeAppliedMsg)
    points, messages = msg.rows.tables
    assert points.rows.size_hint == FixedSize(8)
    assert len(points.rows) == 2
    assert points.rows.rows() == [
        bytes.fromhex("0100000002000000"),
        bytes.fromhex("0300000004000000"),
    ]
    expected = _vector("SubscribeApplied (FixedSize rows)")["annotations"]["rows"]
    assert _rows_json("points", points.rows) == expected["points"]
    assert messages.rows.size_hint == RowOffsets([])
    assert len(messages.rows) == 0
    assert messages.rows.rows() == []
    assert _rows_json("message", messages.rows) == expected["message"] == []


def _tables(rows: QueryRows) -> dict[str, BsatnRowList]:
    return {t.table: t.rows for t in rows.tables}


def test_every_fixture_annotation_decodes() -> None:
    unsub = _message("UnsubscribeApplied (rows some)")
    assert isinstance(unsub, UnsubscribeAppliedMsg)
    assert unsub.rows is not None
    expected = _vector("UnsubscribeApplied (rows some)")["annotations"]["rows"]
    assert {t: _rows_json(t, r) for t, r in _tables(unsub.rows).items()} == expected

    one_off = _message("OneOffQueryResult ok")
    assert isinstance(one_off, OneOffQueryResultMsg)
    assert isinstance(one_off.result, Ok)
    expected = _vector("OneOffQueryResult ok")["annotations"]["rows"]
    assert {t: _rows_json(t, r) for t, r in _tables(one_off.result.value).items()} == expected

    def deltas(update: TransactionUpdateMsg) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for qs in update.query_sets:
            for table in qs.tables:
                for rows in table.rows:
                    if isinstance(rows, PersistentTableRows):
                        out[table.table_name] = {
                            "inserts": _rows_json(table.table_name, rows.inserts),
                            "deletes": _rows_json(table.table_name, rows.deletes),
                        }
                    else:
                        assert isinstance(rows, EventTableRows)
                        out[table.table_name] = {
                            "events": _rows_json(table.table_name, rows.events)
                        }
        return out

    tx = _message("TransactionUpdate (persistent + event rows)")
    assert isinstance(tx, TransactionUpdateMsg)
    assert (
        deltas(tx) == _vector("TransactionUpdate (persistent + event rows)")["annotations"]["rows"]
    )

    reducer = _message("ReducerResult Ok")
    assert isinstance(reducer, ReducerResultMsg)
    assert isinstance(reducer.result, ReducerOk)
    expected = _vector("ReducerResult Ok")["annotations"]["rows"]
    assert deltas(reducer.result.transaction_update) == expected


# ------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("hint", "data", "match"),
    [
        (FixedSize(0), b"", "must be positive"),
        (FixedSize(0), b"abc", "must be positive"),
        (FixedSize(4), b"abcdef", "whole number"),
        (RowOffsets([]), b"a", "RowOffsets is empty"),
        (RowOffsets([1]), b"ab", "first row offset"),
        (RowOffsets([0, 3]), b"ab", "past the end"),
        (RowOffsets([0, 2, 1]), b"abc", "ascending"),
    ],
)
def test_invalid_row_lists_are_rejected(
    hint: FixedSize | RowOffsets, data: bytes, match: str
) -> None:
    with pytest.raises(BsatnDecodeError, match=match):
        BsatnRowList(hint, data)


def test_invalid_row_list_in_a_message_is_a_decode_error() -> None:
    good = SubscribeAppliedMsg(
        1, QuerySetId(1), QueryRows([SingleTableRows("t", BsatnRowList(FixedSize(2), b"abcd"))])
    )
    data = bytearray(encode_server_message(good))
    hint_at = data.index(b"\x00\x02\x00\x04\x00\x00\x00abcd")
    data[hint_at + 1] = 3  # FixedSize(3) does not divide 4 bytes
    with pytest.raises(BsatnDecodeError, match="whole number"):
        decode_server_message(bytes(data))
    data[hint_at + 1] = 0  # FixedSize(0)
    with pytest.raises(BsatnDecodeError, match="positive"):
        decode_server_message(bytes(data))


def test_not_a_hint() -> None:
    with pytest.raises(TypeError):
        BsatnRowList(8, b"")  # type: ignore[arg-type]


def test_zero_length_rows_with_offsets() -> None:
    rows = BsatnRowList(RowOffsets([0, 0, 2, 2]), b"ab")
    assert rows.rows() == [b"", b"ab", b"", b""]
    assert len(rows) == 4


def test_equality_and_repr() -> None:
    a = BsatnRowList(RowOffsets([0, 1]), bytearray(b"ab"))
    assert a == BsatnRowList(RowOffsets([0, 1]), b"ab")
    assert a != BsatnRowList(FixedSize(1), b"ab")
    assert a != "ab"
    assert type(a.rows_data) is bytes
    assert "RowOffsets" in repr(a)
    big = BsatnRowList.from_rows([b"x" * 40, b"y"])
    assert "<41 bytes, 2 rows>" in repr(big)


# ------------------------------------------------------------------------------- decoding


class _SpyCodec:
    """Forwards to a real codec and records which decode entry point was used."""

    def __init__(self, codec: BsatnCodec[Any]) -> None:
        self.codec = codec
        self.fixed_size = codec.fixed_size
        self.calls: list[str] = []

    def decode_concatenated(self, data: bytes) -> list[Any]:
        self.calls.append("concatenated")
        return self.codec.decode_concatenated(data)

    def decode_from(self, data: bytes, offset: int) -> tuple[Any, int]:
        self.calls.append("from")
        return self.codec.decode_from(data, offset)


def test_fixed_size_rows_decode_in_one_pass() -> None:
    entity = product_of([("id", U64), ("x", F32), ("y", F32), ("z", F32), ("hp", U32)])
    codec = compile_codec(entity)
    assert codec.fixed_size == 24
    assert codec.fixed_format is not None
    values = [{"id": i, "x": 0.5, "y": 1.5, "z": -2.0, "hp": i * 3} for i in range(1000)]
    rows = BsatnRowList.from_rows([codec.encode(v) for v in values], fixed_size=24)
    assert rows.size_hint == FixedSize(24)
    spy = _SpyCodec(codec)
    assert rows.decode_rows(cast("BsatnCodec[Any]", spy)) == values
    assert spy.calls == ["concatenated"]


def test_variable_rows_sent_as_fixed_size_decode_row_by_row() -> None:
    codec = compile_codec(STRING)
    rows = BsatnRowList.from_rows([codec.encode(s) for s in ["ab", "cd", "ef"]])
    assert rows.size_hint == FixedSize(6)
    assert rows.decode_rows(codec) == ["ab", "cd", "ef"]


def test_row_size_mismatches_are_decode_errors() -> None:
    with pytest.raises(BsatnDecodeError, match="does not match"):
        BsatnRowList(FixedSize(8), b"\x00" * 16).decode_rows(compile_codec(U32))
    strings = compile_codec(STRING)
    # FixedSize(5) rows holding a 1-byte string (5 bytes) then a row claiming 2 bytes.
    bad = BsatnRowList(FixedSize(5), b"\x01\x00\x00\x00a\x00\x00\x00\x00\x00")
    with pytest.raises(BsatnDecodeError, match="unread"):
        bad.decode_rows(strings)
    # Offsets that cut a row short / leave a byte over.
    data = strings.encode("abc") + strings.encode("d")
    with pytest.raises(BsatnDecodeError, match="past its end"):
        BsatnRowList(RowOffsets([0, 6]), data).decode_rows(strings)
    with pytest.raises(BsatnDecodeError, match="unread"):
        BsatnRowList(RowOffsets([0, 8]), data).decode_rows(strings)
    with pytest.raises(BsatnDecodeError, match="truncated"):
        BsatnRowList(RowOffsets([0]), b"\x09\x00\x00\x00ab").decode_rows(strings)


# ------------------------------------------------------------------------------- building


def test_from_rows_picks_the_server_hint() -> None:
    empty = BsatnRowList.from_rows([])
    assert empty.size_hint == RowOffsets([])
    assert empty.rows_data == b""
    # The fixture's empty `message` list is exactly this (01 00000000 | 00000000).
    fixed_msg = _message("SubscribeApplied (FixedSize rows)")
    assert isinstance(fixed_msg, SubscribeAppliedMsg)
    assert fixed_msg.rows.tables[1].rows == empty

    assert BsatnRowList.from_rows([b"ab", b"cd"], fixed_size=2).size_hint == FixedSize(2)
    assert BsatnRowList.from_rows([b"abc", b"def"]).size_hint == FixedSize(3)
    assert BsatnRowList.from_rows([b"abc"]).size_hint == FixedSize(3)
    varied = BsatnRowList.from_rows([b"abc", b"de", b"f"])
    assert varied.size_hint == RowOffsets([0, 3, 5])
    assert BsatnRowList.from_rows([b"", b""]).size_hint == RowOffsets([0, 0])
    huge = b"x" * (MAX_FIXED_ROW_SIZE + 1)
    assert BsatnRowList.from_rows([huge, huge]).size_hint == RowOffsets([0, len(huge)])
    top = b"x" * MAX_FIXED_ROW_SIZE
    assert BsatnRowList.from_rows([top]).size_hint == FixedSize(MAX_FIXED_ROW_SIZE)
    # A static size of 0 (unit rows) is not a FixedSize hint.
    assert BsatnRowList.from_rows([b""], fixed_size=0).size_hint == RowOffsets([0])
    with pytest.raises(BsatnEncodeError):
        BsatnRowList.from_rows([b"ab", b"c"], fixed_size=2)


def test_fixed_split_crosses_chunk_boundaries() -> None:
    count = 4096 * 2 + 7
    rows = [i.to_bytes(3, "little") for i in range(count)]
    row_list = BsatnRowList.from_rows(rows)
    assert row_list.size_hint == FixedSize(3)
    assert row_list.rows() == rows


@given(st.lists(st.binary(max_size=9), max_size=30), st.booleans())
def test_from_rows_splits_back(rows: list[bytes], via_message: bool) -> None:
    row_list = BsatnRowList.from_rows(rows)
    if via_message:
        msg = SubscribeAppliedMsg(0, QuerySetId(0), QueryRows([SingleTableRows("t", row_list)]))
        decoded = decode_server_message(encode_server_message(msg))
        assert isinstance(decoded, SubscribeAppliedMsg)
        row_list = decoded.rows.tables[0].rows
    assert row_list.rows() == rows
    assert len(row_list) == len(rows)
    if rows and len({len(r) for r in rows}) == 1 and rows[0]:
        assert row_list.size_hint == FixedSize(len(rows[0]))
    else:
        assert isinstance(row_list.size_hint, RowOffsets)


@given(st.lists(st.text(max_size=5), max_size=20))
def test_decode_rows_matches_per_row_decoding(texts: list[str]) -> None:
    codec = compile_codec(STRING)
    row_list = BsatnRowList.from_rows([codec.encode(t) for t in texts])
    assert row_list.decode_rows(codec) == texts
    assert [codec.decode(r) for r in row_list] == texts
