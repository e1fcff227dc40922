"""DRIVER TESTS (not end-to-end): the threaded and asyncio drivers against a small scripted
WebSocket server defined here, which speaks just enough of the protocol for each scenario.

They check what only a real socket shows: the handshake (URL, query parameters, subprotocols,
Authorization header), framing (v2 and v3, compressed frames), sends from other threads,
closes, connect errors and reconnects.
"""

from __future__ import annotations

import asyncio
import threading
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from spacetimedb_sdk.client import (
    Compression,
    ConnectError,
    DbConnection,
    DisconnectedError,
    ReconnectPolicy,
    ReducerError,
)
from spacetimedb_sdk.errors import ProtocolError
from spacetimedb_sdk.frames import V2_BSATN_PROTOCOL, V3_BSATN_PROTOCOL, split_client_payload
from spacetimedb_sdk.messages import (
    OK_EMPTY,
    CallReducerMsg,
    ClientMessage,
    InitialConnectionMsg,
    QuerySetId,
    ReducerErr,
    ReducerOk,
    ReducerResultMsg,
    ServerMessage,
    SubscribeMsg,
    decode_client_message,
    encode_server_message,
)
from spacetimedb_sdk.timestamp import Timestamp
from tests.client_helpers import ME, MY_CONNECTION, applied, persistent, schema, set_update, user
from tests.client_helpers import transaction as tx

Handler = Callable[["Session"], Awaitable[None]]


@dataclass
class Session:
    """One accepted connection of the scripted server."""

    ws: ServerConnection
    path: str
    headers: Headers
    protocol: str
    received: list[ClientMessage] = field(default_factory=list)

    async def send(self, *messages: ServerMessage, compress: bool = False) -> None:
        body = b"".join(encode_server_message(m) for m in messages)
        if compress:
            gz = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            await self.ws.send(b"\x02" + gz.compress(body) + gz.flush())
        else:
            await self.ws.send(b"\x00" + body)

    async def recv(self) -> ClientMessage:
        while not self.received:
            frame = await self.ws.recv()
            assert isinstance(frame, bytes)
            if self.protocol == V3_BSATN_PROTOCOL:
                self.received.extend(split_client_payload(frame))
            else:
                self.received.append(decode_client_message(frame))
        return self.received.pop(0)


class ScriptedServer:
    """A WebSocket server on its own thread and loop; each connection runs ``handler``."""

    def __init__(
        self,
        handler: Handler,
        protocols: tuple[str, ...] = (V2_BSATN_PROTOCOL,),
        reject: HTTPStatus | None = None,
    ) -> None:
        self.handler = handler
        self.protocols = protocols
        self.reject = reject
        self.sessions: list[Session] = []
        self.errors: list[BaseException] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.reject is not None:
            return connection.respond(self.reject, "Invalid token: ExpiredSignature\n")
        return None

    async def _serve(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None
        session = Session(ws, request.path, request.headers, ws.subprotocol or "")
        self.sessions.append(session)
        try:
            await self.handler(session)
        except Exception as exc:  # surfaced by the test
            if not type(exc).__name__.startswith("ConnectionClosed"):
                self.errors.append(exc)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            async with serve(
                self._serve,
                "127.0.0.1",
                0,
                subprotocols=list(self.protocols),  # type: ignore[arg-type]
                process_request=self._process_request,
                compression=None,
            ) as server:
                self.port = server.sockets[0].getsockname()[1]
                self._ready.set()
                await self._stop.wait()

        self._loop.run_until_complete(main())

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        assert self._ready.wait(5)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def builder(url: str, **kw: Any) -> Any:
    b: Any = (
        DbConnection.builder().with_uri(url).with_database_name("chat-db").with_module(schema())
    )
    for name, value in kw.items():
        b = getattr(b, name)(value)
    return b


async def chat_script(session: Session) -> None:
    """InitialConnection, then answer Subscribe and CallReducer until the client leaves."""
    await session.send(InitialConnectionMsg(ME, MY_CONNECTION, "minted-token"))
    while True:
        msg = await session.recv()
        if isinstance(msg, SubscribeMsg):
            rows = [user(i, f"u{i}") for i in range(1, 200)]
            await session.send(
                applied(msg.query_set_id.id, msg.request_id, user=rows), compress=True
            )
        elif isinstance(msg, CallReducerMsg):
            if msg.args == b"\x00\x00\x00\x00":
                text = b"Names must not be empty"
                await session.send(
                    ReducerResultMsg(
                        msg.request_id,
                        Timestamp(1),
                        ReducerErr(len(text).to_bytes(4, "little") + text),
                    )
                )
            else:
                name = msg.args[4:].decode()
                update = tx(set_update(0, user=persistent([user(1, name)], [user(1, "u1")])))
                await session.send(
                    ReducerResultMsg(msg.request_id, Timestamp(1), ReducerOk(b"", update))
                )


# ------------------------------------------------------------------------------ threaded


def test_threaded_handshake_subscribe_and_reducers() -> None:
    with ScriptedServer(chat_script) as server:
        connects: list[Any] = []
        conn = builder(
            server.url + "/base/",
            with_token="my-token",
            with_confirmed_reads=True,
            on_connect=lambda c, i, t: connects.append((i, t, threading.current_thread().name)),
        ).build()
        thread = conn.run_threaded()
        handle = conn.subscription_builder().subscribe("SELECT * FROM user")
        assert handle.applied.result(5) is handle
        assert connects == [(ME, "my-token", "spacetimedb-callbacks")]
        assert conn.db.user.count() == 199  # a gzip-compressed SubscribeApplied

        updates: list[Any] = []
        conn.db.user.on_update(lambda ctx, o, n: updates.append((o["name"], n["name"])))
        event = conn.reducers.set_name("Zed").result(5)
        assert event.committed and updates == [("u1", "Zed")]
        with pytest.raises(ReducerError, match="Names must not be empty"):
            conn.reducers.set_name("").result(5)

        # sends from several threads at once
        results: list[Any] = []

        def worker(i: int) -> None:
            results.append(conn.reducers.set_name(f"w{i}").result(5).committed)

        workers = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(10)
        assert results == [True] * 8

        session = server.sessions[0]
        assert session.path == "/base/v1/database/chat-db/subscribe?compression=Gzip&confirmed=true"
        assert session.headers["Authorization"] == "Bearer my-token"
        assert session.protocol == V2_BSATN_PROTOCOL
        assert (
            "v3.bsatn.spacetimedb, v2.bsatn.spacetimedb"
            in session.headers["Sec-WebSocket-Protocol"]
        )
        conn.disconnect()
        thread.join(5)
        assert conn.is_closed and not thread.is_alive()
        assert not server.errors


def test_threaded_manual_pumping_with_frame_tick() -> None:
    with ScriptedServer(chat_script) as server:
        seen: list[str] = []
        conn = builder(server.url, on_connect=lambda c, i, t: seen.append(t)).build()
        handle = conn.subscription_builder().subscribe("SELECT * FROM user")
        deadline = time.monotonic() + 5
        while not handle.is_active and time.monotonic() < deadline:
            conn.frame_tick()
            time.sleep(0.01)
        assert seen == ["minted-token"] and conn.token == "minted-token"
        assert handle.is_active
        # result() pumps the connection itself when nobody else does
        assert conn.reducers.set_name("x").result(5).committed
        with conn:
            pass
        assert conn.is_closed


def test_threaded_connect_errors() -> None:
    errors: list[Exception] = []
    with (
        ScriptedServer(chat_script, reject=HTTPStatus.UNAUTHORIZED) as server,
        pytest.raises(ConnectError) as caught,
    ):
        builder(server.url, on_connect_error=lambda ctx, e: errors.append(e)).build()
    assert caught.value.status == 401 and "ExpiredSignature" in caught.value.message
    assert errors == [caught.value]
    with pytest.raises(ConnectError):
        builder("http://127.0.0.1:9").build()  # nothing listens there


def test_threaded_close_before_initial_connection_is_a_connect_error() -> None:
    async def refuse(session: Session) -> None:
        await session.ws.close(1011, "client_connected refused")

    with ScriptedServer(refuse) as server:
        errors: list[Exception] = []
        conn = builder(server.url, on_connect_error=lambda ctx, e: errors.append(e)).build()
        conn.run_threaded()
        assert conn.wait_closed(5)
        assert len(errors) == 1 and isinstance(errors[0], ConnectError)
        with pytest.raises(ConnectError):
            conn.connected.result(1)


def test_threaded_server_close_and_garbage_frames() -> None:
    async def script(session: Session) -> None:
        await session.send(InitialConnectionMsg(ME, MY_CONNECTION, "t"))
        await session.ws.send(b"\x00\x63garbage")
        await session.ws.send("a text frame")
        await session.recv()  # the client still works: it sends a reducer call
        await session.ws.close(1011, "boom")

    with ScriptedServer(script) as server:
        reported: list[Exception] = []
        disconnects: list[Any] = []
        conn = builder(
            server.url,
            on_error=lambda ctx, e: reported.append(e),
            on_disconnect=lambda ctx, e: disconnects.append(e),
        ).build()
        conn.run_threaded()
        assert conn.connected.result(5) is conn
        call = conn.reducers.set_name("a")
        assert conn.wait_closed(5)
        assert len(reported) == 2 and all(isinstance(e, ProtocolError) for e in reported)
        (error,) = disconnects
        assert isinstance(error, DisconnectedError) and "1011" in str(error)
        assert isinstance(call.exception(1), DisconnectedError)


def test_threaded_auto_reconnect_replays_and_reconciles() -> None:
    async def script(session: Session) -> None:
        first = len(server.sessions) == 1
        await session.send(InitialConnectionMsg(ME, MY_CONNECTION, "server-token"))
        msg = await session.recv()
        assert isinstance(msg, SubscribeMsg)
        rows = [user(1), user(2)] if first else [user(1), user(3)]
        await session.send(applied(msg.query_set_id.id, msg.request_id, user=rows))
        if first:
            await session.ws.close(1001, "going away")
            return
        await session.recv()

    with ScriptedServer(script) as server:
        log: list[Any] = []
        conn = builder(
            server.url,
            with_auto_reconnect=ReconnectPolicy(initial_delay=0.05, jitter=0, max_attempts=5),
            on_reconnecting=lambda c, attempt, delay, e: log.append(("reconnecting", attempt)),
            on_reconnected=lambda c, i, t: log.append(("reconnected", t)),
        ).build()
        conn.db.user.on_insert(lambda ctx, r: log.append(("insert", r["identity"].value)))
        conn.db.user.on_delete(lambda ctx, r: log.append(("delete", r["identity"].value)))
        conn.run_threaded()
        handle = conn.subscription_builder().subscribe("SELECT * FROM user")
        handle.applied.result(5)
        deadline = time.monotonic() + 5
        while ("delete", 2) not in log and time.monotonic() < deadline:
            time.sleep(0.02)
        assert log == [
            ("insert", 1),
            ("insert", 2),
            ("reconnecting", 1),
            ("reconnected", "server-token"),
            ("insert", 3),
            ("delete", 2),
        ]
        # the second connection presented the token minted for the first
        assert server.sessions[1].headers["Authorization"] == "Bearer server-token"
        assert handle.is_active
        conn.disconnect()
        assert conn.wait_closed(5)


# ------------------------------------------------------------------------------ asyncio


def test_asyncio_driver_v3_and_async_with() -> None:
    async def script(session: Session) -> None:
        await session.send(InitialConnectionMsg(ME, MY_CONNECTION, "t"))
        pending: list[ServerMessage] = []
        while True:
            msg = await session.recv()
            if isinstance(msg, SubscribeMsg):
                pending.append(applied(msg.query_set_id.id, msg.request_id, user=[user(1)]))
            elif isinstance(msg, CallReducerMsg):
                pending.append(ReducerResultMsg(msg.request_id, Timestamp(1), OK_EMPTY))
            if not session.received:  # answer a whole client frame with one v3 frame
                await session.send(*pending)
                pending.clear()

    async def main() -> list[Any]:
        with ScriptedServer(script, protocols=(V3_BSATN_PROTOCOL, V2_BSATN_PROTOCOL)) as server:
            events: list[Any] = []
            async with builder(
                server.url,
                with_compression=Compression.NONE,
                on_disconnect=lambda ctx, e: events.append(("disconnect", e)),
            ).build_async() as conn:
                assert conn.identity == ME and conn.is_active
                handle = conn.subscription_builder().subscribe("SELECT * FROM user")
                calls = [conn.reducers.set_name(f"n{i}") for i in range(3)]  # one v3 frame
                await handle.applied
                results = [await c for c in calls]
                events.append(("applied", conn.db.user.count(), [r.committed for r in results]))
                # a blocking wait on the loop is refused rather than deadlocking
                with pytest.raises(RuntimeError, match="await"):
                    conn.reducers.set_name("x").result(1)
            session = server.sessions[0]
            assert session.protocol == V3_BSATN_PROTOCOL
            assert "compression=None" in session.path
            events.append(("closed", conn.is_closed))
            return events

    assert asyncio.run(main()) == [
        ("applied", 1, [True, True, True]),
        ("disconnect", None),
        ("closed", True),
    ]


def test_asyncio_connect_error_and_sends_from_a_thread() -> None:
    async def main() -> None:
        with ScriptedServer(chat_script, reject=HTTPStatus.NOT_FOUND) as server:
            with pytest.raises(ConnectError) as caught:
                await builder(server.url).build_async()
            assert caught.value.status == 404
        with ScriptedServer(chat_script) as server:
            conn = await builder(server.url).build_async()
            loop = asyncio.get_running_loop()
            # a blocking call from another thread while the loop processes the answer
            event = await loop.run_in_executor(None, lambda: conn.reducers.set_name("T").result(5))
            assert event.committed
            conn.disconnect()
            await conn.run_async()
            assert conn.is_closed

    asyncio.run(main())


def test_asyncio_callbacks_run_on_the_loop_thread() -> None:
    async def main() -> None:
        with ScriptedServer(chat_script) as server:
            threads: list[int] = []
            conn = await builder(
                server.url, on_connect=lambda c, i, t: threads.append(threading.get_ident())
            ).build_async()
            conn.db.user.on_insert(lambda ctx, r: threads.append(threading.get_ident()))
            await conn.subscription_builder().subscribe("SELECT * FROM user").applied
            assert set(threads) == {threading.get_ident()}
            conn.disconnect()
            await conn.run_async()

    asyncio.run(main())


def test_query_set_ids_are_echoed() -> None:
    # sanity check of the scripted server helpers themselves
    assert applied(3, 4, user=[]).query_set_id == QuerySetId(3)


def test_asyncio_close_before_initial_connection_raises_connect_error() -> None:
    async def refuse(session: Session) -> None:
        await session.ws.close(1011, "refused")

    async def main() -> list[Exception]:
        errors: list[Exception] = []
        with ScriptedServer(refuse) as server, pytest.raises(ConnectError):
            await builder(
                server.url, on_connect_error=lambda ctx, e: errors.append(e)
            ).build_async()
        return errors

    (error,) = asyncio.run(main())
    assert isinstance(error, ConnectError)


def test_asyncio_auto_reconnect() -> None:
    async def script(session: Session) -> None:
        first = len(server.sessions) == 1
        await session.send(InitialConnectionMsg(ME, MY_CONNECTION, "tok"))
        msg = await session.recv()
        assert isinstance(msg, SubscribeMsg)
        rows = [user(1, "a")] if first else [user(1, "b")]
        await session.send(applied(msg.query_set_id.id, msg.request_id, user=rows))
        if first:
            await session.ws.close(1011, "crash")
            return
        await session.recv()

    async def main() -> list[Any]:
        log: list[Any] = []
        conn = await builder(
            server.url,
            with_auto_reconnect=ReconnectPolicy(initial_delay=0.01, jitter=0, max_attempts=3),
            on_reconnected=lambda c, i, t: log.append("reconnected"),
            on_disconnect=lambda ctx, e: log.append(("disconnected", e)),
        ).build_async()
        conn.db.user.on_update(lambda ctx, o, n: log.append((o["name"], n["name"])))
        await conn.subscription_builder().subscribe("SELECT * FROM user").applied
        for _ in range(500):
            if ("a", "b") in log:
                break
            await asyncio.sleep(0.01)
        conn.disconnect()
        await conn.run_async()
        return log

    with ScriptedServer(script) as server:
        assert asyncio.run(main()) == ["reconnected", ("a", "b"), ("disconnected", None)]
