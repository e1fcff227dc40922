"""v2 client and server messages agree byte for byte with the official TypeScript library."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacetimedb_sdk.algebraic_type import (
    AlgebraicType,
    ArrayType,
    ProductType,
    RefType,
    SumType,
    Typespace,
    product_of,
    sum_of,
    type_from_json,
)
from spacetimedb_sdk.errors import BsatnDecodeError, BsatnEncodeError, BsatnError, ProtocolError
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.messages import (
    CLIENT_MESSAGE_TYPE,
    MESSAGE_BINDINGS,
    MESSAGE_TYPESPACE,
    OK_EMPTY,
    SERVER_MESSAGE_TYPE,
    BsatnRowList,
    CallProcedureMsg,
    CallReducerMsg,
    ClientMessage,
    EventTableRows,
    FixedSize,
    InitialConnectionMsg,
    InternalErrorOutcome,
    OneOffQueryMsg,
    OneOffQueryResultMsg,
    PersistentTableRows,
    ProcedureResultMsg,
    QueryRows,
    QuerySetId,
    QuerySetUpdate,
    ReducerErr,
    ReducerOk,
    ReducerResultMsg,
    Returned,
    RowOffsets,
    ServerMessage,
    SingleTableRows,
    SubscribeAppliedMsg,
    SubscribeMsg,
    SubscriptionErrorMsg,
    TableUpdate,
    TransactionUpdateMsg,
    UnsubscribeAppliedMsg,
    UnsubscribeFlags,
    UnsubscribeMsg,
    decode_client_message,
    decode_client_message_from,
    decode_server_message,
    decode_server_message_from,
    encode_client_message,
    encode_client_message_into,
    encode_server_message,
    encode_server_message_into,
    message_name,
)
from spacetimedb_sdk.sats_json import value_from_json, value_to_json
from spacetimedb_sdk.timestamp import TimeDuration, Timestamp
from spacetimedb_sdk.values import Err, Ok
from tests.conftest import load_fixture

CLIENT_FILE: dict[str, Any] = load_fixture("vectors", "v2_client_messages.json")
SERVER_FILE: dict[str, Any] = load_fixture("vectors", "v2_server_messages.json")
CLIENT_VECTORS: list[dict[str, Any]] = CLIENT_FILE["messages"]
SERVER_VECTORS: list[dict[str, Any]] = SERVER_FILE["messages"]

CLIENT_CLASSES = (SubscribeMsg, UnsubscribeMsg, OneOffQueryMsg, CallReducerMsg, CallProcedureMsg)
SERVER_CLASSES = (
    InitialConnectionMsg, SubscribeAppliedMsg, UnsubscribeAppliedMsg, SubscriptionErrorMsg,
    TransactionUpdateMsg, OneOffQueryResultMsg, ReducerResultMsg, ProcedureResultMsg,
)  # fmt: skip

EXPECTED_ERRORS = (BsatnError, ProtocolError)


def inline_refs(ty: AlgebraicType, typespace: Typespace) -> AlgebraicType:
    """``ty`` with every Ref replaced by its (non-recursive) definition."""
    if isinstance(ty, RefType):
        return inline_refs(typespace.types[ty.index], typespace)
    if isinstance(ty, ProductType):
        return product_of([(e.name, inline_refs(e.algebraic_type, typespace)) for e in ty.elements])
    if isinstance(ty, SumType):
        return sum_of([(v.name, inline_refs(v.algebraic_type, typespace)) for v in ty.variants])
    if isinstance(ty, ArrayType):
        return ArrayType(inline_refs(ty.element, typespace))
    return ty


# ------------------------------------------------------------------------------- the types


@pytest.mark.parametrize(
    ("file", "root"),
    [(CLIENT_FILE, CLIENT_MESSAGE_TYPE), (SERVER_FILE, SERVER_MESSAGE_TYPE)],
    ids=["client", "server"],
)
def test_message_type_matches_the_fixture(file: dict[str, Any], root: RefType) -> None:
    expected = type_from_json(file["header"]["algebraic_type"])
    assert inline_refs(root, MESSAGE_TYPESPACE) == expected


@pytest.mark.parametrize(
    ("file", "root", "classes"),
    [
        (CLIENT_FILE, CLIENT_MESSAGE_TYPE, CLIENT_CLASSES),
        (SERVER_FILE, SERVER_MESSAGE_TYPE, SERVER_CLASSES),
    ],
    ids=["client", "server"],
)
def test_variant_tags_match_the_fixture(
    file: dict[str, Any], root: RefType, classes: tuple[type, ...]
) -> None:
    tags: dict[str, int] = file["header"]["variant_tags"]
    resolved = MESSAGE_TYPESPACE.resolve(root)
    assert isinstance(resolved, SumType)
    assert {v.name: i for i, v in enumerate(resolved.variants)} == tags
    assert {cls.__name__.removesuffix("Msg"): cls.TAG for cls in classes} == tags  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------- the vectors


@pytest.mark.parametrize("vector", CLIENT_VECTORS, ids=[v["name"] for v in CLIENT_VECTORS])
def test_client_vector(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["hex"])
    msg = decode_client_message(data)
    assert encode_client_message(msg) == data
    assert message_name(msg) == next(iter(vector["json"]))
    assert type(msg).__name__ == message_name(msg) + "Msg"

    from_json = value_from_json(
        CLIENT_MESSAGE_TYPE, vector["json"], MESSAGE_TYPESPACE, MESSAGE_BINDINGS
    )
    assert from_json == msg
    assert encode_client_message(from_json) == data
    as_json = value_to_json(
        CLIENT_MESSAGE_TYPE, msg, MESSAGE_TYPESPACE, MESSAGE_BINDINGS, big_ints="number"
    )
    assert as_json == vector["json"]

    assert decode_client_message_from(b"\xee" + data + b"\xff", 1) == (msg, len(data) + 1)
    out = bytearray(b"x")
    encode_client_message_into(msg, out)
    assert out == b"x" + data


@pytest.mark.parametrize("vector", SERVER_VECTORS, ids=[v["name"] for v in SERVER_VECTORS])
def test_server_vector(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["hex"])
    msg = decode_server_message(data)
    assert encode_server_message(msg) == data
    assert message_name(msg) == next(iter(vector["json"]))
    assert type(msg).__name__ == message_name(msg) + "Msg"

    from_json = value_from_json(
        SERVER_MESSAGE_TYPE, vector["json"], MESSAGE_TYPESPACE, MESSAGE_BINDINGS
    )
    assert from_json == msg
    assert encode_server_message(from_json) == data
    as_json = value_to_json(
        SERVER_MESSAGE_TYPE, msg, MESSAGE_TYPESPACE, MESSAGE_BINDINGS, big_ints="number"
    )
    assert as_json == vector["json"]

    assert decode_server_message_from(memoryview(b"\xee" + data), 1) == (msg, len(data) + 1)
    out = bytearray(b"x")
    encode_server_message_into(msg, out)
    assert out == b"x" + data


def _server(name: str) -> ServerMessage:
    vector = next(v for v in SERVER_VECTORS if v["name"] == name)
    return decode_server_message(bytes.fromhex(vector["hex"]))


def _annotation(name: str) -> dict[str, Any]:
    annotations: dict[str, Any] = next(v for v in SERVER_VECTORS if v["name"] == name)[
        "annotations"
    ]
    return annotations


def test_decoded_shapes() -> None:
    init = _server("InitialConnection")
    assert isinstance(init, InitialConnectionMsg)
    assert init.identity == Identity.from_hex(_annotation("InitialConnection")["identity_hex"])
    assert init.connection_id == ConnectionId.from_hex(
        _annotation("InitialConnection")["connection_id_hex"]
    )

    none_rows = _server("UnsubscribeApplied (rows none)")
    assert isinstance(none_rows, UnsubscribeAppliedMsg)
    assert none_rows.rows is None

    err = _server("SubscriptionError (request_id none)")
    assert isinstance(err, SubscriptionErrorMsg)
    assert err.request_id is None

    ok = _server("ReducerResult Ok")
    assert isinstance(ok, ReducerResultMsg)
    assert isinstance(ok.result, ReducerOk)
    assert ok.result.ret_value == b""
    assert ok.timestamp == Timestamp.from_iso(_annotation("ReducerResult Ok")["timestamp_iso8601"])

    empty = _server("ReducerResult OkEmpty")
    assert isinstance(empty, ReducerResultMsg)
    assert empty.result is OK_EMPTY

    reducer_err = _server("ReducerResult Err")
    assert isinstance(reducer_err, ReducerResultMsg)
    assert isinstance(reducer_err.result, ReducerErr)
    assert (
        reducer_err.result.error_message() == _annotation("ReducerResult Err")["err_payload_string"]
    )

    internal = _server("ReducerResult InternalError")
    assert isinstance(internal, ReducerResultMsg)
    assert internal.result == InternalErrorOutcome("The reducer panicked: out of bounds")

    returned = _server("ProcedureResult Returned")
    assert isinstance(returned, ProcedureResultMsg)
    assert returned.status == Returned(b"\x05\x00\x00\x00")
    assert returned.request_id == 6
    assert returned.total_host_execution_duration == TimeDuration(1234)

    one_off = _server("OneOffQueryResult err")
    assert isinstance(one_off, OneOffQueryResultMsg)
    assert one_off.result == Err("sql error: no such column `nmae`")

    tx = _server("TransactionUpdate (persistent + event rows)")
    assert isinstance(tx, TransactionUpdateMsg)
    assert [qs.query_set_id for qs in tx.query_sets] == [QuerySetId(0), QuerySetId(2)]
    assert isinstance(tx.query_sets[1].tables[0].rows[0], EventTableRows)
    assert isinstance(tx.query_sets[0].tables[0].rows[0], PersistentTableRows)


def test_unsubscribe_flags_decode_to_enum_members() -> None:
    msg = decode_client_message(bytes.fromhex("01030000000000000001"))
    assert isinstance(msg, UnsubscribeMsg)
    assert msg.flags is UnsubscribeFlags.SEND_DROPPED_ROWS
    # A plain int is accepted when encoding, as IntEnum members are ints.
    plain = UnsubscribeMsg(3, QuerySetId(0), 1)  # type: ignore[arg-type]
    assert encode_client_message(plain) == bytes.fromhex("01030000000000000001")


@pytest.mark.parametrize("cls", [CallReducerMsg, CallProcedureMsg])
def test_non_zero_call_flags_are_rejected(cls: Callable[..., ClientMessage]) -> None:
    data = encode_client_message(cls(1, 1, "f", b""))
    with pytest.raises(BsatnDecodeError, match="flags must be 0"):
        decode_client_message(data)
    with pytest.raises(BsatnDecodeError, match="flags must be 0"):
        decode_client_message_from(data, 0)


def test_decode_errors() -> None:
    with pytest.raises(BsatnDecodeError, match="sum tag 5"):
        decode_client_message(b"\x05")
    with pytest.raises(BsatnDecodeError, match="sum tag 8"):
        decode_server_message(b"\x08")
    with pytest.raises(BsatnDecodeError, match="truncated"):
        decode_server_message(b"")
    with pytest.raises(BsatnDecodeError, match="trailing"):
        decode_server_message(bytes.fromhex("02040000000100000001") + b"\x00")
    with pytest.raises(BsatnDecodeError):
        decode_server_message("00")  # type: ignore[arg-type]


def test_encode_errors() -> None:
    with pytest.raises(BsatnEncodeError):
        encode_client_message(InitialConnectionMsg(Identity(1), ConnectionId(1), "t"))  # type: ignore[arg-type]
    with pytest.raises(BsatnEncodeError):
        encode_server_message(SubscribeMsg(1, QuerySetId(1), []))  # type: ignore[arg-type]
    with pytest.raises(BsatnEncodeError):
        encode_client_message(SubscribeMsg(1, 7, []))  # type: ignore[arg-type]
    with pytest.raises(BsatnEncodeError):
        encode_client_message(OneOffQueryMsg(-1, "x"))
    bad_outcome = ReducerResultMsg(1, Timestamp(0), "ok")  # type: ignore[arg-type]
    with pytest.raises(BsatnEncodeError):
        encode_server_message(bad_outcome)
    bad_status = ProcedureResultMsg(OK_EMPTY, Timestamp(0), TimeDuration(0), 1)  # type: ignore[arg-type]
    with pytest.raises(BsatnEncodeError):
        encode_server_message(bad_status)


def test_spec_worked_examples() -> None:
    # docs/protocol.md#message-examples (complete payloads; server ones without the 00 compression tag).
    subscribe = SubscribeMsg(1, QuerySetId(7), ["SELECT * FROM person"])
    assert encode_client_message(subscribe) == bytes.fromhex(
        "00 01000000 07000000 01000000 14000000" + b"SELECT * FROM person".hex()
    )
    call = CallReducerMsg(2, 0, "add", bytes.fromhex("0500000041 6c696365"))
    assert encode_client_message(call) == bytes.fromhex(
        "03 02000000 00 03000000 616464 09000000 05000000416c696365"
    )
    proc = CallProcedureMsg(5, 0, "get_time", b"")
    assert encode_client_message(proc) == bytes.fromhex(
        "04 05000000 00 08000000 6765745f74696d65 00000000"
    )

    applied = SubscribeAppliedMsg(
        1,
        QuerySetId(7),
        QueryRows(
            [
                SingleTableRows(
                    "person",
                    BsatnRowList(
                        RowOffsets([0, 9]),
                        bytes.fromhex("0100000001000000 41 0200000002000000 426f"),
                    ),
                )
            ]
        ),
    )
    assert encode_server_message(applied) == bytes.fromhex(
        "01 01000000 07000000 01000000 06000000706572736f6e"
        "01 02000000 0000000000000000 0900000000000000"
        "13000000 010000000100000041 0200000002000000426f"
    )
    tx = TransactionUpdateMsg(
        [
            QuerySetUpdate(
                QuerySetId(7),
                [
                    TableUpdate(
                        "person",
                        [
                            PersistentTableRows(
                                BsatnRowList(FixedSize(9), bytes.fromhex("01000000010000005a")),
                                BsatnRowList(FixedSize(9), bytes.fromhex("010000000100000041")),
                            )
                        ],
                    )
                ],
            )
        ]
    )
    assert encode_server_message(tx) == bytes.fromhex(
        "04 01000000 07000000 01000000 06000000706572736f6e 01000000 00"
        "000900 09000000 01000000010000005a"
        "000900 09000000 010000000100000041"
    )
    ok = ReducerResultMsg(2, Timestamp(1704067200000000), ReducerOk(b"", TransactionUpdateMsg([])))
    assert encode_server_message(ok) == bytes.fromhex(
        "06 02000000 00202110d70d0600 00 00000000 00000000"
    )
    err = ReducerResultMsg(
        2, Timestamp(1704067200000000), ReducerErr(bytes.fromhex("04000000626f6f6d"))
    )
    assert encode_server_message(err) == bytes.fromhex(
        "06 02000000 00202110d70d0600 02 08000000 04000000626f6f6d"
    )
    assert encode_server_message(SubscriptionErrorMsg(None, QuerySetId(7), "bad")) == bytes.fromhex(
        "03 01 07000000 03000000626164"
    )


# ------------------------------------------------------------------------------- properties

u32 = st.integers(0, 2**32 - 1)
u8 = st.integers(0, 255)
i64 = st.integers(-(2**63), 2**63 - 1)
texts = st.text(max_size=20)
blobs = st.binary(max_size=40)
query_set_ids = st.builds(QuerySetId, u32)


@st.composite
def row_lists(draw: st.DrawFn) -> BsatnRowList:
    """Any valid row list: either hint, any consistent data."""
    if draw(st.booleans()):
        size = draw(st.integers(1, 12))
        count = draw(st.integers(0, 6))
        return BsatnRowList(
            FixedSize(size), draw(st.binary(min_size=size * count, max_size=size * count))
        )
    rows = draw(st.lists(st.binary(max_size=12), max_size=6))
    offsets, pos = [], 0
    for r in rows:
        offsets.append(pos)
        pos += len(r)
    return BsatnRowList(RowOffsets(offsets), b"".join(rows))


query_rows = st.builds(
    QueryRows, st.lists(st.builds(SingleTableRows, texts, row_lists()), max_size=3)
)
table_update_rows = st.one_of(
    st.builds(PersistentTableRows, row_lists(), row_lists()), st.builds(EventTableRows, row_lists())
)
transaction_updates = st.builds(
    TransactionUpdateMsg,
    st.lists(
        st.builds(
            QuerySetUpdate,
            query_set_ids,
            st.lists(
                st.builds(TableUpdate, texts, st.lists(table_update_rows, max_size=2)), max_size=2
            ),
        ),
        max_size=2,
    ),
)
reducer_outcomes = st.one_of(
    st.builds(ReducerOk, blobs, transaction_updates),
    st.just(OK_EMPTY),
    st.builds(ReducerErr, blobs),
    st.builds(InternalErrorOutcome, texts),
)

client_messages: st.SearchStrategy[ClientMessage] = st.one_of(
    st.builds(SubscribeMsg, u32, query_set_ids, st.lists(texts, max_size=4)),
    st.builds(UnsubscribeMsg, u32, query_set_ids, st.sampled_from(UnsubscribeFlags)),
    st.builds(OneOffQueryMsg, u32, texts),
    st.builds(CallReducerMsg, u32, st.just(0), texts, blobs),
    st.builds(CallProcedureMsg, u32, st.just(0), texts, blobs),
)
server_messages: st.SearchStrategy[ServerMessage] = st.one_of(
    st.builds(
        InitialConnectionMsg,
        st.builds(Identity, st.integers(0, 2**256 - 1)),
        st.builds(ConnectionId, st.integers(0, 2**128 - 1)),
        texts,
    ),
    st.builds(SubscribeAppliedMsg, u32, query_set_ids, query_rows),
    st.builds(UnsubscribeAppliedMsg, u32, query_set_ids, st.none() | query_rows),
    st.builds(SubscriptionErrorMsg, st.none() | u32, query_set_ids, texts),
    transaction_updates,
    st.builds(
        OneOffQueryResultMsg,
        u32,
        st.one_of(st.builds(Ok, query_rows), st.builds(Err, texts)),
    ),
    st.builds(ReducerResultMsg, u32, st.builds(Timestamp, i64), reducer_outcomes),
    st.builds(
        ProcedureResultMsg,
        st.one_of(st.builds(Returned, blobs), st.builds(InternalErrorOutcome, texts)),
        st.builds(Timestamp, i64),
        st.builds(TimeDuration, i64),
        u32,
    ),
)


@given(client_messages)
def test_random_client_messages_round_trip(msg: ClientMessage) -> None:
    data = encode_client_message(msg)
    assert decode_client_message(data) == msg
    assert encode_client_message(decode_client_message(data)) == data


@given(server_messages)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_random_server_messages_round_trip(msg: ServerMessage) -> None:
    data = encode_server_message(msg)
    assert decode_server_message(data) == msg
    assert encode_server_message(decode_server_message(data)) == data
    as_json = value_to_json(SERVER_MESSAGE_TYPE, msg, MESSAGE_TYPESPACE, MESSAGE_BINDINGS)
    assert value_from_json(SERVER_MESSAGE_TYPE, as_json, MESSAGE_TYPESPACE, MESSAGE_BINDINGS) == msg


# ------------------------------------------------------------------------------- robustness

DECODERS: list[tuple[str, bytes, Callable[[bytes], object]]] = [
    (v["name"], bytes.fromhex(v["hex"]), decode_client_message) for v in CLIENT_VECTORS
] + [(v["name"], bytes.fromhex(v["hex"]), decode_server_message) for v in SERVER_VECTORS]


def _decode_or_expected_error(decode: Callable[[bytes], object], data: bytes) -> None:
    with contextlib.suppress(*EXPECTED_ERRORS):
        decode(data)


@pytest.mark.parametrize(("name", "data", "decode"), DECODERS, ids=[d[0] for d in DECODERS])
def test_every_truncation_raises_a_decode_error(
    name: str, data: bytes, decode: Callable[[bytes], object]
) -> None:
    for cut in range(len(data)):
        with pytest.raises(BsatnDecodeError):
            decode(data[:cut])


@pytest.mark.parametrize(("name", "data", "decode"), DECODERS, ids=[d[0] for d in DECODERS])
def test_every_single_byte_mutation_decodes_or_raises_a_decode_error(
    name: str, data: bytes, decode: Callable[[bytes], object]
) -> None:
    for pos in range(len(data)):
        for new in {0x00, 0x01, 0x02, 0x7F, 0x80, 0xFF, data[pos] ^ 0x01, data[pos] ^ 0x80}:
            mutated = bytearray(data)
            mutated[pos] = new
            _decode_or_expected_error(decode, bytes(mutated))


@given(st.data())
@settings(max_examples=300)
def test_random_mutations_only_raise_decode_errors(data: st.DataObject) -> None:
    _, original, decode = data.draw(st.sampled_from(DECODERS))
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(u8)
    cut = data.draw(st.integers(0, len(mutated)))
    _decode_or_expected_error(decode, bytes(mutated[:cut]) + data.draw(st.binary(max_size=8)))


@given(st.binary(max_size=64))
def test_random_bytes_only_raise_decode_errors(data: bytes) -> None:
    _decode_or_expected_error(decode_client_message, data)
    _decode_or_expected_error(decode_server_message, data)
