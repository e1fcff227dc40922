"""The WebSocket endpoint over real sockets: handshake, every message kind, errors, keep-alive.

Clients are the ``websockets`` library plus our own message codecs (tests/local_server_support),
so these tests check the bytes the server puts on the wire.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from spacetimedb_sdk.compression import TAG_BROTLI, TAG_GZIP, TAG_NONE
from spacetimedb_sdk.identity import ConnectionId
from spacetimedb_sdk.local_server.auth import decode_payload_unverified, identity_from_claims
from spacetimedb_sdk.local_server.pytest_plugin import ServerFactory, spacetimedb_local_server
from spacetimedb_sdk.local_server.server import LocalServer
from spacetimedb_sdk.local_server.websocket_session import SessionConfig
from spacetimedb_sdk.messages import (
    CallProcedureMsg,
    CallReducerMsg,
    EventTableRows,
    InternalErrorOutcome,
    OneOffQueryMsg,
    OneOffQueryResultMsg,
    PersistentTableRows,
    ProcedureResultMsg,
    QuerySetId,
    ReducerErr,
    ReducerOk,
    ReducerResultMsg,
    Returned,
    SubscribeAppliedMsg,
    SubscribeMsg,
    SubscriptionErrorMsg,
    TransactionUpdateMsg,
    UnsubscribeAppliedMsg,
    UnsubscribeFlags,
    UnsubscribeMsg,
    encode_client_message,
)
from spacetimedb_sdk.values import Err, Ok
from tests.local_server_support import (
    CHAT_MODULE,
    GAME_MODULE,
    V2,
    V3,
    RawClient,
    encode_args,
    http_request,
    string_bsatn,
)

__all__ = ["spacetimedb_local_server"]  # the fixture, imported for this module's tests

FATAL = "The instance encountered a fatal error."


@pytest.fixture
def server(spacetimedb_local_server: ServerFactory) -> LocalServer:
    return spacetimedb_local_server({"chat": CHAT_MODULE, "game": GAME_MODULE})


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro_fn(), 60))


def args(server: LocalServer, db: str, function: str, *values: Any) -> bytes:
    return encode_args(server.runtime(db).database.schema, function, *values)


async def expect_closed(client: RawClient, code: int | None, timeout: float = 10.0) -> None:
    """Read until the server closes the connection; check the close code (None: no frame)."""
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await client.recv(timeout)
    received = info.value.rcvd
    if code is None:
        assert received is None, f"expected no close frame, got {received}"
    else:
        assert received is not None and received.code == code, received


# ================================================================================ handshake


def test_server_preference_picks_v3_whatever_the_client_order(server: LocalServer) -> None:
    async def main() -> None:
        for offered, expected in (
            ([V2, V3], V3),
            ([V3, V2], V3),
            ([V2], V2),
            (["v1.bsatn.spacetimedb", V2], V2),
        ):
            client = await RawClient.connect(server.ws_url, "chat", protocols=offered)
            assert client.ws.subprotocol == expected
            await client.close()

    run(main)


def _upgrade_headers(protocols: str | None = V2) -> dict[str, str]:
    headers = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
    }
    if protocols is not None:
        headers["Sec-WebSocket-Protocol"] = protocols
    return headers


def _raw_upgrade(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """Send an upgrade request with a plain socket; status, headers and (non-101) body."""
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    path = "/" + url.split("//", 1)[1].split("/", 1)[1]
    lines = [f"GET {path} HTTP/1.1", f"Host: {host_port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode().split("\r\n")
        status = int(status_line.split()[1])
        got = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
        if status != 101:
            length = int(got.get("content-length", "0"))
            while len(body) < length:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                body += chunk
        return status, got, body


def test_handshake_answers_carry_identity_headers_and_no_extensions(server: LocalServer) -> None:
    headers = _upgrade_headers(f"{V2}, {V3}")
    headers["Sec-WebSocket-Extensions"] = "permessage-deflate; client_max_window_bits"
    status, got, _ = _raw_upgrade(
        f"{server.url}/v1/database/chat/subscribe?compression=Gzip", headers
    )
    assert status == 101
    assert got["sec-websocket-protocol"] == V3
    assert "sec-websocket-extensions" not in got
    assert len(got["spacetime-identity"]) == 64
    claims = decode_payload_unverified(got["spacetime-identity-token"])
    assert claims["hex_identity"] == got["spacetime-identity"]


@pytest.mark.parametrize(
    ("path", "headers", "status", "text"),
    [
        (
            "chat/subscribe",
            {"Sec-WebSocket-Protocol": "v9.nope"},
            400,
            "no valid protocol selected",
        ),
        ("chat/subscribe", {"Sec-WebSocket-Protocol": None}, 400, "no valid protocol selected"),
        ("chat/subscribe?compression=gzip", {}, 400, "unknown variant `gzip`"),
        ("chat/subscribe?light=TRUE", {}, 400, "light"),
        ("chat/subscribe?confirmed=yes", {}, 400, "confirmed"),
        ("chat/subscribe?connection_id=xyz", {}, 400, "connection_id"),
        (
            "chat/subscribe?connection_id=" + "0" * 32,
            {},
            400,
            "the all-zeros ConnectionId is reserved",
        ),
        ("Chat/subscribe", {}, 400, "Invalid database name"),
        ("nope/subscribe", {}, 404, "`nope` not found"),
        ("c200" + "0" * 60 + "/subscribe", {}, 404, "No such database."),
        ("nope/subscribe", {"Authorization": "Basic abc"}, 400, "malformed token"),
        ("chat/subscribe", {"Authorization": "Bearer not.a.token"}, 401, "Invalid token"),
        ("chat/subscribe?token=garbage", {}, 401, "Invalid token"),
    ],
)
def test_handshake_failures(
    server: LocalServer, path: str, headers: dict[str, str | None], status: int, text: str
) -> None:
    upgrade = _upgrade_headers()
    for key, value in headers.items():
        if value is None:
            upgrade.pop(key, None)
        else:
            upgrade[key] = value
    got_status, _, body = _raw_upgrade(f"{server.url}/v1/database/{path}", upgrade)
    assert got_status == status, body
    assert text in body.decode()


def test_initial_connection_for_anonymous_and_token_clients(server: LocalServer) -> None:
    async def main() -> None:
        anon = await RawClient.connect(server.ws_url, "chat")
        assert anon.initial is not None
        claims = decode_payload_unverified(anon.initial.token)
        assert anon.initial.identity == identity_from_claims(claims["iss"], claims["sub"])
        assert not anon.initial.connection_id.is_zero()
        other = await RawClient.connect(server.ws_url, "chat")
        assert other.initial is not None
        assert other.initial.identity != anon.initial.identity

        chosen = ConnectionId.random()
        again = await RawClient.connect(
            server.ws_url,
            "chat",
            token=anon.initial.token,
            query={"connection_id": chosen.to_hex(), "confirmed": "true", "light": "false"},
        )
        assert again.initial is not None
        assert again.initial.identity == anon.initial.identity
        assert again.initial.token == anon.initial.token  # the presented token is echoed
        assert again.initial.connection_id == chosen
        for client in (anon, other, again):
            await client.close()

    run(main)


def test_query_token_is_used_when_no_header(server: LocalServer) -> None:
    async def main() -> None:
        anon = await RawClient.connect(server.ws_url, "chat")
        assert anon.initial is not None
        status, _, body = http_request(
            "POST",
            f"{server.url}/v1/identity/websocket-token",
            headers={"Authorization": f"Bearer {anon.initial.token}"},
        )
        assert status == 200
        short = __import__("json").loads(body)["token"]
        again = await RawClient.connect(server.ws_url, "chat", query={"token": short})
        assert again.initial is not None
        assert again.initial.identity == anon.initial.identity
        assert again.initial.token == short
        await anon.close()
        await again.close()

    run(main)


# ================================================================================ messages


def test_reducer_result_carries_own_updates_and_others_get_transaction_updates(
    server: LocalServer,
) -> None:
    async def main() -> None:
        alice = await RawClient.connect(server.ws_url, "chat")
        bob = await RawClient.connect(server.ws_url, "chat", protocols=[V3])
        carol = await RawClient.connect(server.ws_url, "chat")  # subscribes to nothing relevant
        assert alice.initial is not None
        await alice.send(
            SubscribeMsg(1, QuerySetId(10), ["SELECT * FROM user", "SELECT * FROM message"])
        )
        applied = await alice.expect(SubscribeAppliedMsg)
        assert (applied.request_id, applied.query_set_id.id) == (1, 10)
        assert [t.table for t in applied.rows.tables] == ["user", "message"]
        await bob.send(SubscribeMsg(7, QuerySetId(0), ["SELECT * FROM message"]))
        await bob.expect(SubscribeAppliedMsg)
        await carol.send(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM user"]))
        await carol.expect(SubscribeAppliedMsg)

        await alice.send(
            CallReducerMsg(2, 0, "send_message", args(server, "chat", "send_message", "hi"))
        )
        result = await alice.expect(ReducerResultMsg)
        assert result.request_id == 2
        assert isinstance(result.result, ReducerOk)
        assert result.result.ret_value == b""
        (own,) = result.result.transaction_update.query_sets
        assert own.query_set_id.id == 10
        assert [t.table_name for t in own.tables] == ["message"]
        update = await bob.expect(TransactionUpdateMsg)
        (theirs,) = update.query_sets
        (table,) = theirs.tables
        (rows,) = table.rows
        assert isinstance(rows, PersistentTableRows)
        assert len(rows.inserts) == 1 and len(rows.deletes) == 0
        await alice.assert_silent()  # no TransactionUpdate for the caller's own call
        await carol.assert_silent()  # nothing relevant changed: no (empty) message at all

        # A failed call: Err with the BSATN of the message, nothing committed.
        await alice.send(CallReducerMsg(3, 0, "set_name", args(server, "chat", "set_name", "")))
        failed = await alice.expect(ReducerResultMsg)
        assert isinstance(failed.result, ReducerErr)
        assert failed.result.error == string_bsatn("Names must not be empty")
        await bob.assert_silent()
        for client in (alice, bob, carol):
            await client.close()

    run(main)


def test_reducer_call_errors(server: LocalServer) -> None:
    async def main() -> None:
        client = await RawClient.connect(server.ws_url, "game")
        cases = [
            (CallReducerMsg(1, 0, "no_such", b""), "no such reducer"),
            (CallReducerMsg(2, 0, "add_player", b"\x01"), "invalid arguments"),
            (CallReducerMsg(3, 0, "on_connect", b""), "can't directly call special OnConnect"),
            (CallReducerMsg(4, 0, "crash", b""), FATAL),
            (CallReducerMsg(5, 0, "tick", b""), "no such reducer"),  # scheduled: private
        ]
        for request, text in cases:
            await client.send(request)
            result = await client.expect(ReducerResultMsg)
            assert result.request_id == request.request_id
            assert isinstance(result.result, InternalErrorOutcome), result
            assert text in result.result.message
        await client.send(CallReducerMsg(6, 0, "fail", args(server, "game", "fail", "nope")))
        failed = await client.expect(ReducerResultMsg)
        assert isinstance(failed.result, ReducerErr)
        assert failed.result.error_message() == "nope"
        await client.send(OneOffQueryMsg(7, "SELECT * FROM player"))
        rows = await client.expect(OneOffQueryResultMsg)
        assert isinstance(rows.result, Ok)
        assert len(rows.result.value.tables[0].rows) == 0  # the failed call's insert rolled back
        await client.close()

    run(main)


def test_subscription_errors_and_unsubscribe(server: LocalServer) -> None:
    async def main() -> None:
        client = await RawClient.connect(server.ws_url, "chat")
        await client.send(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM nope"]))
        error = await client.expect(SubscriptionErrorMsg)
        assert (error.request_id, error.query_set_id.id) == (1, 1)
        assert "nope" in error.error
        await client.send(SubscribeMsg(2, QuerySetId(1), ["SELECT * FROM user WHERE"]))
        await client.expect(SubscriptionErrorMsg)
        await client.send(SubscribeMsg(3, QuerySetId(1), ["SELECT * FROM user"]))  # id reusable
        applied = await client.expect(SubscribeAppliedMsg)
        assert len(applied.rows.tables[0].rows) == 1  # ourselves, online
        await client.send(UnsubscribeMsg(4, QuerySetId(1), UnsubscribeFlags.SEND_DROPPED_ROWS))
        dropped = await client.expect(UnsubscribeAppliedMsg)
        assert dropped.rows is not None and len(dropped.rows.tables[0].rows) == 1
        await client.send(SubscribeMsg(5, QuerySetId(1), ["SELECT * FROM user"]))
        await client.expect(SubscribeAppliedMsg)
        await client.send(UnsubscribeMsg(6, QuerySetId(1), UnsubscribeFlags.DEFAULT))
        plain = await client.expect(UnsubscribeAppliedMsg)
        assert plain.rows is None
        await client.send(UnsubscribeMsg(7, QuerySetId(1), UnsubscribeFlags.DEFAULT))
        unknown = await client.expect(SubscriptionErrorMsg)
        assert unknown.request_id == 7
        await client.send(OneOffQueryMsg(8, "SELECT * FROM"))
        bad = await client.expect(OneOffQueryResultMsg)
        assert isinstance(bad.result, Err)
        await client.close()

    run(main)


def test_event_tables_private_tables_and_owner(server: LocalServer) -> None:
    async def main() -> None:
        anon = await RawClient.connect(server.ws_url, "game")
        owner = await RawClient.connect(server.ws_url, "game", token=server.owner_token)
        await anon.send(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM secret"]))
        await anon.expect(SubscriptionErrorMsg)
        await anon.send(SubscribeMsg(2, QuerySetId(2), ["SELECT * FROM damage", "SELECT * FROM *"]))
        applied = await anon.expect(SubscribeAppliedMsg)
        assert "secret" not in {t.table for t in applied.rows.tables}
        assert all(len(t.rows) == 0 for t in applied.rows.tables if t.table == "damage")
        await owner.send(SubscribeMsg(3, QuerySetId(3), ["SELECT * FROM secret"]))
        await owner.expect(SubscribeAppliedMsg)

        await owner.send(CallReducerMsg(4, 0, "hit", args(server, "game", "hit", 1, 3)))
        await owner.expect(ReducerResultMsg)
        update = await anon.expect(TransactionUpdateMsg)
        (qs,) = update.query_sets
        (table,) = qs.tables
        assert table.table_name == "damage"
        (rows,) = table.rows
        assert isinstance(rows, EventTableRows) and len(rows.events) == 1

        await owner.send(
            CallReducerMsg(5, 0, "add_secret", args(server, "game", "add_secret", 1, "x"))
        )
        done = await owner.expect(ReducerResultMsg)
        assert isinstance(done.result, ReducerOk)
        assert [
            t.table_name for qs in done.result.transaction_update.query_sets for t in qs.tables
        ] == ["secret"]
        await anon.assert_silent()
        await anon.close()
        await owner.close()

    run(main)


def test_procedures(server: LocalServer) -> None:
    async def main() -> None:
        caller = await RawClient.connect(server.ws_url, "game")
        await caller.send(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM player"]))
        await caller.expect(SubscribeAppliedMsg)
        await caller.send(CallProcedureMsg(2, 0, "double", args(server, "game", "double", 21)))
        result = await caller.expect(ProcedureResultMsg)
        assert result.request_id == 2
        assert isinstance(result.status, Returned)
        assert result.status.value == (42).to_bytes(4, "little")
        await caller.send(
            CallProcedureMsg(
                3, 0, "add_player_proc", args(server, "game", "add_player_proc", "zed")
            )
        )
        # The procedure's inner transaction reaches its own caller as a TransactionUpdate.
        update = await caller.expect(TransactionUpdateMsg)
        assert update.query_sets[0].tables[0].table_name == "player"
        proc = await caller.expect(ProcedureResultMsg)
        assert isinstance(proc.status, Returned)
        assert proc.status.value == (1).to_bytes(8, "little")
        await caller.send(CallProcedureMsg(4, 0, "nope", b""))
        missing = await caller.expect(ProcedureResultMsg)
        assert isinstance(missing.status, InternalErrorOutcome)
        await caller.close()

    run(main)


def test_v3_requests_in_one_frame_are_answered_in_order(server: LocalServer) -> None:
    async def main() -> None:
        client = await RawClient.connect(server.ws_url, "game", protocols=[V3])
        requests: list[Any] = [SubscribeMsg(0, QuerySetId(0), ["SELECT * FROM player"])]
        for i in range(1, 40):
            requests.append(
                CallReducerMsg(i, 0, "add_player", args(server, "game", "add_player", f"p{i}", i))
            )
        requests.append(OneOffQueryMsg(40, "SELECT * FROM player"))
        await client.send(*requests)
        seen = []
        for _ in range(len(requests)):
            message = await client.recv()
            seen.append(message.request_id)  # type: ignore[union-attr]
        assert seen == list(range(41))
        assert client.frames < len(requests)  # answers were coalesced into fewer frames
        await client.close()

    run(main)


@pytest.mark.parametrize(
    ("compression", "tag"), [("Gzip", TAG_GZIP), ("Brotli", TAG_BROTLI), ("None", TAG_NONE)]
)
def test_compression_envelope(server: LocalServer, compression: str, tag: int) -> None:
    async def main() -> None:
        writer = await RawClient.connect(server.ws_url, "game")
        for i in range(60):
            await writer.send(
                CallReducerMsg(i, 0, "add_player", args(server, "game", "add_player", "x" * 30, i))
            )
            await writer.expect(ReducerResultMsg)
        client = await RawClient.connect(server.ws_url, "game", compression=compression)
        await client.send(OneOffQueryMsg(1, "SELECT * FROM player WHERE level = 1"))
        small = await client.ws.recv()
        assert isinstance(small, bytes) and small[0] == TAG_NONE  # <= 1024 bytes: never compressed
        await client.send(SubscribeMsg(2, QuerySetId(1), ["SELECT * FROM player"]))
        large = await client.ws.recv()
        assert isinstance(large, bytes) and large[0] == tag
        await writer.close()
        await client.close()

    run(main)


# ================================================================================ bad input


@pytest.mark.parametrize(
    ("payload", "protocol", "text"),
    [
        (b"\x09", V2, False),  # unknown message tag
        (b"\x00\x01", V2, False),  # truncated Subscribe
        (
            encode_client_message(OneOffQueryMsg(1, "SELECT 1")) + b"\x00",
            V2,
            False,
        ),  # trailing byte
        (b"\x03\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00", V2, False),  # flags=1
        (b"", V3, False),  # empty v3 frame
        (encode_client_message(CallReducerMsg(1, 0, "x", b""))[:-1], V3, False),
        (b"text frame", V2, True),
        (b"\xff\xfe not UTF-8", V3, True),
    ],
)
def test_malformed_frames_close_1011_and_others_keep_working(
    server: LocalServer, payload: bytes, protocol: str, text: bool
) -> None:
    async def main() -> None:
        bystander = await RawClient.connect(server.ws_url, "chat")
        await bystander.send(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM message"]))
        await bystander.expect(SubscribeAppliedMsg)
        offender = await RawClient.connect(server.ws_url, "chat", protocols=[protocol])
        await offender.ws.send(payload, text=text)
        await expect_closed(offender, 1011)
        await bystander.send(
            CallReducerMsg(2, 0, "send_message", args(server, "chat", "send_message", "still here"))
        )
        result = await bystander.expect(ReducerResultMsg)
        assert isinstance(result.result, ReducerOk)
        await bystander.close()

    run(main)


def test_v3_frame_is_processed_up_to_the_bad_message(server: LocalServer) -> None:
    async def main() -> None:
        bystander = await RawClient.connect(server.ws_url, "chat")
        await bystander.send(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM message"]))
        await bystander.expect(SubscribeAppliedMsg)
        offender = await RawClient.connect(server.ws_url, "chat", protocols=[V3])
        good = encode_client_message(
            CallReducerMsg(1, 0, "send_message", args(server, "chat", "send_message", "before"))
        )
        after = encode_client_message(
            CallReducerMsg(2, 0, "send_message", args(server, "chat", "send_message", "after"))
        )
        await offender.ws.send(good + b"\x07garbage" + after)
        result = await offender.expect(ReducerResultMsg)  # answered before the Close
        assert result.request_id == 1
        await expect_closed(offender, 1011)
        update = await bystander.expect(TransactionUpdateMsg)  # the commit before the error stays
        (rows,) = update.query_sets[0].tables[0].rows
        assert isinstance(rows, PersistentTableRows) and len(rows.inserts) == 1
        await bystander.assert_silent()  # the message after the bad one never ran
        await bystander.send(OneOffQueryMsg(2, "SELECT * FROM message"))
        answer = await bystander.expect(OneOffQueryResultMsg)
        assert isinstance(answer.result, Ok) and len(answer.result.value.tables[0].rows) == 1
        await bystander.close()

    run(main)


def test_reusing_an_active_query_set_id_closes_the_connection(server: LocalServer) -> None:
    async def main() -> None:
        client = await RawClient.connect(server.ws_url, "chat", protocols=[V3])
        await client.send(SubscribeMsg(1, QuerySetId(5), ["SELECT * FROM user"]))
        await client.expect(SubscribeAppliedMsg)
        await client.send(
            SubscribeMsg(2, QuerySetId(5), ["SELECT * FROM message"]),
            CallReducerMsg(3, 0, "send_message", args(server, "chat", "send_message", "skipped")),
        )
        await expect_closed(client, 1011)
        assert client.ws.close_reason is not None and "5" in client.ws.close_reason

    run(main)
    status, _, body = http_request(
        "POST", f"{server.url}/v1/database/chat/sql", "SELECT * FROM message"
    )
    assert status == 200 and b"skipped" not in body  # requests after the violation never ran


def test_oversized_frames_drop_only_that_client(spacetimedb_local_server: ServerFactory) -> None:
    config = SessionConfig(max_message_size=64 * 1024)
    server = spacetimedb_local_server({"chat": CHAT_MODULE}, session_config=config)

    async def main() -> None:
        client = await RawClient.connect(server.ws_url, "chat")
        other = await RawClient.connect(server.ws_url, "chat")
        await client.ws.send(b"\x02" + b"\x00" * (64 * 1024 + 10))
        with pytest.raises(ConnectionClosed):
            while True:
                await client.recv()
        await other.send(OneOffQueryMsg(1, "SELECT * FROM user"))
        result = await other.expect(OneOffQueryResultMsg)
        assert isinstance(result.result, Ok)
        await other.close()

    run(main)


def test_the_default_limit_is_32_mib(server: LocalServer) -> None:
    async def main() -> None:
        # Exactly 32 MiB is accepted (the over-long query is refused in-band) ...
        client = await RawClient.connect(server.ws_url, "chat")
        header = encode_client_message(OneOffQueryMsg(1, ""))
        limit = 32 * 1024 * 1024
        await client.ws.send(encode_client_message(OneOffQueryMsg(1, "x" * (limit - len(header)))))
        result = await client.expect(OneOffQueryResultMsg, timeout=30)
        assert isinstance(result.result, Err)
        # ... one byte more drops the connection.
        with pytest.raises(ConnectionClosed) as info:
            await client.ws.send(
                encode_client_message(OneOffQueryMsg(2, "x" * (limit - len(header) + 1)))
            )
            while True:
                await client.recv(30)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009
        ok = await RawClient.connect(server.ws_url, "chat")
        await ok.send(OneOffQueryMsg(3, "SELECT * FROM user"))
        answer = await ok.expect(OneOffQueryResultMsg)
        assert isinstance(answer.result, Ok)
        await ok.close()

    run(main)


def test_incoming_queue_overflow_closes_1013(spacetimedb_local_server: ServerFactory) -> None:
    config = SessionConfig(max_incoming_queue=4)
    server = spacetimedb_local_server({"game": GAME_MODULE}, session_config=config)

    async def main() -> None:
        client = await RawClient.connect(server.ws_url, "game")
        frame = encode_client_message(
            CallReducerMsg(1, 0, "add_player", args(server, "game", "add_player", "p", 1))
        )
        for _ in range(200):
            await client.ws.send(frame)
        await expect_closed(client, 1013)
        assert client.ws.close_reason == "too many requests"

    run(main)


# ================================================================================ lifecycle


def test_rejected_connections_are_dropped_without_a_message(server: LocalServer) -> None:
    async def main() -> None:
        victim = await RawClient.connect(server.ws_url, "game")
        assert victim.initial is not None
        token = victim.initial.token
        await victim.close()
        owner = await RawClient.connect(server.ws_url, "game", token=server.owner_token)
        await owner.send(
            CallReducerMsg(1, 0, "ban", args(server, "game", "ban", victim.initial.identity))
        )
        await owner.expect(ReducerResultMsg)
        refused = await RawClient.connect(server.ws_url, "game", token=token, read_initial=False)
        await expect_closed(refused, None)  # 101, then the TCP connection ends: no message
        await owner.close()

    run(main)


def test_connect_and_disconnect_run_lifecycle_reducers(server: LocalServer) -> None:
    async def main() -> None:
        watcher = await RawClient.connect(server.ws_url, "chat")
        await watcher.send(
            SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM user WHERE online = true"])
        )
        await watcher.expect(SubscribeAppliedMsg)
        visitor = await RawClient.connect(server.ws_url, "chat")
        joined = await watcher.expect(TransactionUpdateMsg)
        rows = joined.query_sets[0].tables[0].rows[0]
        assert isinstance(rows, PersistentTableRows) and len(rows.inserts) == 1
        await visitor.close()
        left = await watcher.expect(TransactionUpdateMsg)
        rows = left.query_sets[0].tables[0].rows[0]
        assert isinstance(rows, PersistentTableRows) and len(rows.deletes) == 1
        await watcher.close()

    run(main)


def test_scheduled_reducers_run_and_broadcast(server: LocalServer) -> None:
    async def main() -> None:
        client = await RawClient.connect(server.ws_url, "game")
        await client.send(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM counter"]))
        await client.expect(SubscribeAppliedMsg)
        started = time.monotonic()
        await client.send(
            CallReducerMsg(2, 0, "schedule_tick", args(server, "game", "schedule_tick", 200_000))
        )
        await client.expect(ReducerResultMsg)
        update = await client.expect(TransactionUpdateMsg, timeout=5)
        assert time.monotonic() - started >= 0.15
        assert update.query_sets[0].tables[0].table_name == "counter"
        await client.close()

    run(main)


def test_server_shutdown_sends_going_away(spacetimedb_local_server: ServerFactory) -> None:
    server = spacetimedb_local_server({"chat": CHAT_MODULE})

    async def main() -> None:
        client = await RawClient.connect(server.ws_url, "chat")
        await asyncio.get_running_loop().run_in_executor(None, server.stop_thread)
        await expect_closed(client, 1001)
        assert client.ws.close_reason == "module exited"

    run(main)


# ================================================================================ keep-alive


def test_keepalive_pings_and_idle_timeout(spacetimedb_local_server: ServerFactory) -> None:
    config = SessionConfig(ping_interval=0.1, idle_timeout=0.5)
    server = spacetimedb_local_server({"chat": CHAT_MODULE}, session_config=config)

    async def main() -> None:
        # The websockets client answers pings, so it stays connected past the idle timeout.
        alive = await RawClient.connect(server.ws_url, "chat")
        await asyncio.sleep(1.2)
        await alive.send(OneOffQueryMsg(1, "SELECT * FROM user"))
        await alive.expect(OneOffQueryResultMsg)
        await alive.close()

    run(main)

    # A raw socket that never answers: pings arrive, then the server cuts the connection.
    host, port = "127.0.0.1", server.port
    with socket.create_connection((host, port), timeout=5) as sock:
        headers = _upgrade_headers()
        lines = [
            "GET /v1/database/chat/subscribe?compression=None HTTP/1.1",
            f"Host: {host}:{port}",
        ]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        received = b""
        started = time.monotonic()
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        elapsed = time.monotonic() - started
    assert received.startswith(b"HTTP/1.1 101")
    frames = received.split(b"\r\n\r\n", 1)[1]
    opcodes = _opcodes(frames)
    assert 0x9 in opcodes, opcodes  # pings were sent
    assert 0x8 not in opcodes, opcodes  # dropped without a close frame
    assert 0.4 <= elapsed < 3.0


def _opcodes(data: bytes) -> list[int]:
    out = []
    pos = 0
    while pos + 2 <= len(data):
        opcode = data[pos] & 0x0F
        length = data[pos + 1] & 0x7F
        pos += 2
        if length == 126:
            length = int.from_bytes(data[pos : pos + 2], "big")
            pos += 2
        elif length == 127:
            length = int.from_bytes(data[pos : pos + 8], "big")
            pos += 8
        out.append(opcode)
        pos += length
    return out


# ================================================================================ durability


def test_commits_survive_a_restart(tmp_path: Any) -> None:
    data = tmp_path / "data"

    async def write(url: str) -> str:
        client = await RawClient.connect(url, "chat")
        assert client.initial is not None
        await client.send(CallReducerMsg(1, 0, "send_message", b"\x07\x00\x00\x00durable"))
        result = await client.expect(ReducerResultMsg)
        assert isinstance(result.result, ReducerOk)
        await client.close()
        return client.initial.token

    with LocalServer({"chat": CHAT_MODULE}, data_dir=data) as url:
        token = asyncio.run(write(url.replace("http", "ws")))
    with LocalServer({"chat": CHAT_MODULE}, data_dir=data) as url:
        status, _, body = http_request(
            "POST",
            f"{url}/v1/database/chat/sql",
            "SELECT * FROM message",
            {"Authorization": f"Bearer {token}"},  # same key: the old token is still valid
        )
    assert status == 200, body
    assert b"durable" in body


# ================================================================================ sessions


def test_reusing_a_live_connection_id_never_disturbs_the_first_session(
    server: LocalServer,
) -> None:
    shared = {"connection_id": ConnectionId.random().to_hex()}

    async def main() -> None:
        first = await RawClient.connect(server.ws_url, "chat", query=shared)
        await first.send(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM message"]))
        await first.expect(SubscribeAppliedMsg)
        # Another identity with the same connection id gets a session of its own ...
        second = await RawClient.connect(server.ws_url, "chat", query=shared)
        assert first.initial is not None and second.initial is not None
        assert second.initial.identity != first.initial.identity
        assert second.initial.connection_id == first.initial.connection_id
        await second.send(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM user"]))
        await second.expect(SubscribeAppliedMsg)
        await second.send(
            CallReducerMsg(2, 0, "send_message", args(server, "chat", "send_message", "from 2"))
        )
        assert isinstance((await second.expect(ReducerResultMsg)).result, ReducerOk)
        assert (await first.expect(TransactionUpdateMsg)).query_sets[0].tables[0].table_name == (
            "message"
        )
        # ... and the same identity with the same live connection id is refused.
        token = first.initial.token
        twin = await RawClient.connect(
            server.ws_url, "chat", query=shared, token=token, read_initial=False
        )
        await expect_closed(twin, None)
        await second.close()
        await asyncio.sleep(0.2)
        # The first session still gets answers and updates.
        await first.send(
            CallReducerMsg(3, 0, "send_message", args(server, "chat", "send_message", "from 1"))
        )
        result = await first.expect(ReducerResultMsg)
        assert result.request_id == 3 and isinstance(result.result, ReducerOk)
        other = await RawClient.connect(server.ws_url, "chat")
        await other.send(
            CallReducerMsg(4, 0, "send_message", args(server, "chat", "send_message", "other"))
        )
        await other.expect(ReducerResultMsg)
        update = await first.expect(TransactionUpdateMsg)
        (rows,) = update.query_sets[0].tables[0].rows
        assert isinstance(rows, PersistentTableRows) and len(rows.inserts) == 1
        await first.send(OneOffQueryMsg(5, "SELECT * FROM message"))
        answer = await first.expect(OneOffQueryResultMsg)
        assert isinstance(answer.result, Ok) and len(answer.result.value.tables[0].rows) == 3
        await other.close()
        await first.close()

    run(main)
