"""Pure pieces of the local server's network layer: handshake rules, addresses, untyped JSON and
the per-session send queue (no sockets)."""

from __future__ import annotations

import asyncio
import gzip

import pytest

from spacetimedb_sdk.algebraic_type import (
    BOOL,
    IDENTITY,
    STRING,
    TIMESTAMP,
    U8,
    U32,
    U256,
    Typespace,
    array,
    option,
    product_of,
    sum_of,
)
from spacetimedb_sdk.compression import TAG_GZIP, TAG_NONE, Compression
from spacetimedb_sdk.frames import V2_BSATN_PROTOCOL, V3_BSATN_PROTOCOL, decode_server_frame
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.local_server.database_address import (
    InvalidDatabaseAddressError,
    not_found_text,
    parse_database_address,
)
from spacetimedb_sdk.local_server.handshake import (
    NO_VALID_PROTOCOL,
    HandshakeError,
    SubscribeParams,
    offered_subprotocols,
    parse_subscribe_params,
    select_subprotocol,
)
from spacetimedb_sdk.local_server.outbox import Outbox
from spacetimedb_sdk.local_server.untyped_json import value_to_untyped_json
from spacetimedb_sdk.messages import (
    OneOffQueryResultMsg,
    QueryRows,
    QuerySetId,
    SubscriptionErrorMsg,
    encode_server_message,
)
from spacetimedb_sdk.timestamp import Timestamp
from spacetimedb_sdk.values import Ok, SumValue


def test_subscribe_params_defaults_and_values() -> None:
    assert parse_subscribe_params({}) == SubscribeParams(Compression.BROTLI, False, None, None)
    conn = ConnectionId.random()
    parsed = parse_subscribe_params(
        {
            "compression": "Gzip",
            "light": "true",
            "confirmed": "false",
            "connection_id": conn.to_hex(),
            "token": "ignored here",
            "unknown": "ignored",
        }
    )
    assert parsed == SubscribeParams(Compression.GZIP, True, False, conn)
    assert parse_subscribe_params({"connection_id": "0" * 32}).connection_id == ConnectionId(0)


@pytest.mark.parametrize(
    "query",
    [
        {"compression": "gzip"},
        {"compression": "brotli"},
        {"light": "True"},
        {"light": "1"},
        {"confirmed": ""},
        {"connection_id": "12"},
        {"connection_id": "0x" + "1" * 30},
    ],
)
def test_subscribe_params_rejections(query: dict[str, str]) -> None:
    with pytest.raises(HandshakeError) as info:
        parse_subscribe_params(query)
    assert info.value.status == 400
    assert str(info.value).startswith("Failed to deserialize query string")


def test_subprotocol_selection_uses_the_server_order() -> None:
    v1, v2, v3 = "v1.bsatn.spacetimedb", V2_BSATN_PROTOCOL, V3_BSATN_PROTOCOL
    assert select_subprotocol([v2, v3]) == v3
    assert select_subprotocol([v1, v2]) == v2
    assert offered_subprotocols([f"{v2}, {v3}", v1]) == [v2, v3, v1]
    for offered in ([], [v1], ["v3.json.spacetimedb"]):
        with pytest.raises(HandshakeError, match=NO_VALID_PROTOCOL):
            select_subprotocol(offered)


def test_database_addresses() -> None:
    hex_id = "c200" + "ab" * 30
    assert parse_database_address(hex_id) == Identity.from_hex(hex_id)
    assert parse_database_address("0x" + hex_id) == Identity.from_hex(hex_id)
    assert parse_database_address("quickstart-chat") == "quickstart-chat"
    for bad in ("Chat", "-chat", "chat-", "a--b", "a_b", "", "ü"):
        with pytest.raises(InvalidDatabaseAddressError):
            parse_database_address(bad)
    assert not_found_text("chat") == "`chat` not found"
    assert not_found_text(Identity.from_hex(hex_id)) == "No such database."


def test_untyped_json_matches_the_servers_sql_rows() -> None:
    ts = Typespace((product_of([("x", U32), ("y", STRING)]),))
    identity = Identity.from_hex("c200" + "00" * 30)
    cases = [
        (
            IDENTITY,
            identity,
            ["0xc200000000000000000000000000000000000000000000000000000000000000"],
        ),
        (TIMESTAMP, Timestamp(1_704_067_200_000_000), [1_704_067_200_000_000]),
        (option(STRING), "a", [0, "a"]),
        (option(STRING), None, [1, []]),
        (
            product_of([("a", BOOL), ("b", array(U8))]),
            {"a": True, "b": b"\xde\xad"},
            [True, "dead"],
        ),
        (sum_of([("A", U32), ("B", product_of([]))]), SumValue(1, "B", ()), [1, []]),
        (array(option(U32)), [1, None], [[0, 1], [1, []]]),
        (U256, 42, "0x2a"),
        (ts.types[0], {"x": 1, "y": "z"}, [1, "z"]),
    ]
    for ty, value, expected in cases:
        assert value_to_untyped_json(ty, value, ts) == expected, ty


def _run_outbox(coalesce: bool, messages: list[bytes], compression: Compression) -> list[bytes]:
    sent: list[bytes] = []

    async def send(frame: bytes) -> None:
        sent.append(frame)

    async def main() -> None:
        outbox = Outbox(send, coalesce=coalesce, compression=compression)
        writer = asyncio.ensure_future(outbox.run())
        outbox.put_many(messages)
        await outbox.flush()
        outbox.close()
        await writer

    asyncio.run(main())
    return sent


def test_outbox_v3_coalesces_and_compresses_the_whole_payload() -> None:
    messages = [
        encode_server_message(SubscriptionErrorMsg(i, QuerySetId(i), "e" * 300)) for i in range(5)
    ]
    (frame,) = _run_outbox(True, messages, Compression.GZIP)
    assert frame[0] == TAG_GZIP
    assert gzip.decompress(frame[1:]) == b"".join(messages)
    decoded = decode_server_frame(frame, V3_BSATN_PROTOCOL)
    assert [m.request_id for m in decoded if isinstance(m, SubscriptionErrorMsg)] == list(range(5))


def test_outbox_v2_sends_one_frame_per_message() -> None:
    small = encode_server_message(OneOffQueryResultMsg(1, Ok(QueryRows([]))))
    frames = _run_outbox(False, [small, small], Compression.GZIP)
    assert frames == [bytes([TAG_NONE]) + small] * 2  # small bodies are never compressed
