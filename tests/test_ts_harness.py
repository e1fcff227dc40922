"""The TypeScript-client harness itself: install/build, the offline smoke test, and the driver
against a scripted in-process WebSocket server replaying the reference vectors.

Everything here needs Node.js (>= 20); the tests are skipped only when `node` is absent.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from tests.conftest import FIXTURES, load_fixture
from tests.ts_harness import (
    EXIT_CONNECT_FAILED,
    EXIT_FATAL,
    EXIT_OK,
    TsChatClient,
    TsClientError,
    ensure_ts_client,
    run_offline_smoke,
    typecheck_ts_client,
)

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")

V2 = "v2.bsatn.spacetimedb"
V3 = "v3.bsatn.spacetimedb"


def _vectors(file: str, key: str = "messages") -> dict[str, dict[str, Any]]:
    doc = load_fixture("vectors", file)
    return {entry["name"]: entry for entry in doc[key]}


CLIENT = _vectors("v2_client_messages.json")
SERVER = _vectors("v2_server_messages.json")


def _server_bytes(name: str) -> bytes:
    return bytes.fromhex(SERVER[name]["hex"])


def _client_bytes(name: str) -> bytes:
    return bytes.fromhex(CLIENT[name]["hex"])


def _transaction_update_without_event_table() -> bytes:
    # The fixture TransactionUpdate has query set 0 (user + message rows) and query set 2 (an
    # event table the chat client does not know); keep set 0 only.
    full = _server_bytes("TransactionUpdate (persistent + event rows)")
    second_set = full.index(b"\x0a\x00\x00\x00test_event") - 8
    return b"\x04" + (1).to_bytes(4, "little") + full[5:second_set]


def _plain(message: bytes) -> bytes:
    return b"\x00" + message


def _gzipped(message: bytes) -> bytes:
    return b"\x02" + gzip.compress(message)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# ------------------------------------------------------------------ a scripted server


Responder = Callable[[bytes], list[bytes]]


class ScriptedServer:
    """A WebSocket server on a loopback port that replays canned frames.

    It answers `POST /v1/identity/websocket-token` with a short-lived token, accepts
    `/v1/database/{db}/subscribe` with one subprotocol, sends `initial` frames, then hands every
    client frame to `respond` and sends back what it returns. Everything is recorded.
    """

    def __init__(
        self, protocol: str, initial: list[bytes], respond: Responder, *, deflate: bool = False
    ) -> None:
        self.protocol = protocol
        self.deflate = deflate
        self.initial = initial
        self.respond = respond
        self.requests: list[dict[str, Any]] = []
        self.token_requests: list[dict[str, Any]] = []
        self.received: list[bytes] = []
        self.closed = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]

    @property
    def uri(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def _subscribe(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            {
                "path": request.path,
                "query": dict(request.query),
                "headers": {k.lower(): v for k, v in request.headers.items()},
            }
        )
        # undici offers permessage-deflate; accept it only when asked to.
        ws = web.WebSocketResponse(protocols=(self.protocol,), compress=self.deflate)
        await ws.prepare(request)
        for frame in self.initial:
            await ws.send_bytes(frame)
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                data = bytes(msg.data)
                self.received.append(data)
                for reply in self.respond(data):
                    await ws.send_bytes(reply)
        self.closed.set()
        return ws

    async def _token(self, request: web.Request) -> web.StreamResponse:
        self.token_requests.append(
            {"method": request.method, "path": request.path, "headers": dict(request.headers)}
        )
        return web.json_response({"token": "short-lived-token"})

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/database/{db}/subscribe", self._subscribe)
        app.router.add_post("/v1/identity/websocket-token", self._token)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()

    def start(self) -> ScriptedServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def _responder(table: list[tuple[bytes, list[bytes]]], unknown: list[bytes]) -> Responder:
    """Replies per expected client message; a v3 frame may carry several back to back."""

    def respond(frame: bytes) -> list[bytes]:
        replies: list[bytes] = []
        rest = frame
        while rest:
            for expected, answer in table:
                if rest.startswith(expected):
                    replies += answer
                    rest = rest[len(expected) :]
                    break
            else:
                unknown.append(rest)
                break
        return replies

    return respond


@pytest.fixture(scope="module")
def driver_ready() -> None:
    ensure_ts_client()


@pytest.fixture
def chat_server(request: pytest.FixtureRequest) -> Iterator[tuple[ScriptedServer, list[bytes]]]:
    protocol, deflate = getattr(request, "param", (V2, False))
    unknown: list[bytes] = []
    table = [
        (
            _client_bytes("Subscribe"),
            [_gzipped(_server_bytes("SubscribeApplied (chat user rows)"))],
        ),
        (_client_bytes("CallReducer set_name"), [_plain(_server_bytes("ReducerResult Ok"))]),
        (
            _client_bytes("CallReducer send_message"),
            [
                _plain(_transaction_update_without_event_table()),
                _plain(_server_bytes("ReducerResult OkEmpty")),
            ],
        ),
    ]
    server = ScriptedServer(
        protocol,
        [_plain(_server_bytes("InitialConnection"))],
        _responder(table, unknown),
        deflate=deflate,
    ).start()
    try:
        yield server, unknown
    finally:
        server.stop()


# ------------------------------------------------------------------ tests


def test_ensure_ts_client_builds_once(driver_ready: None) -> None:
    driver = ensure_ts_client()
    assert driver.is_file()
    built = driver.stat().st_mtime_ns
    started = time.monotonic()
    assert ensure_ts_client() == driver
    assert driver.stat().st_mtime_ns == built, "an unchanged tree must not be rebuilt"
    assert time.monotonic() - started < 10


def test_bindings_driver_and_smoke_typecheck(driver_ready: None) -> None:
    typecheck_ts_client()


def test_offline_smoke(driver_ready: None) -> None:
    code, lines = run_offline_smoke(FIXTURES)
    failed = [line for line in lines if line.get("ok") is False]
    summary = [line for line in lines if line.get("event") == "smoke_summary"]
    assert not failed, json.dumps(failed, indent=1)[:4000]
    assert summary, f"no summary; output: {lines[-5:]}"
    assert summary[0]["failed"] == 0
    assert summary[0]["passed"] >= 20
    assert code == 0


def test_refused_port_is_reported_not_hung(driver_ready: None) -> None:
    started = time.monotonic()
    client = TsChatClient(f"ws://127.0.0.1:{_closed_port()}", deadline_s=20)
    event = client.wait_for("connect_error", timeout=10)
    assert event["stage"] == "tcp_precheck"
    assert "ECONNREFUSED" in event["error"]
    assert client.close() == EXIT_CONNECT_FAILED
    assert time.monotonic() - started < 10
    with pytest.raises(TsClientError):
        client.wait_connected(timeout=1)


@pytest.mark.parametrize(
    "chat_server",
    [(V2, False), (V3, False), (V2, True)],
    ids=["v2", "v3", "v2-permessage-deflate"],
    indirect=True,
)
def test_chat_session_against_scripted_server(
    driver_ready: None, chat_server: tuple[ScriptedServer, list[bytes]]
) -> None:
    server, unknown = chat_server
    initial = SERVER["InitialConnection"]["annotations"]
    with TsChatClient(server.uri, "chat") as client:
        connected = client.wait_connected()
        # The server's identity and connection id replace the client's own.
        assert connected["identity"] == initial["identity_hex"]
        assert connected["connection_id"] == initial["connection_id_hex"]

        applied = client.subscribe(["SELECT * FROM user", "SELECT * FROM message"])
        assert applied["subscription"] == 0
        names = {client.wait_for("user_insert")["row"]["name"] for _ in range(3)}
        assert names == {"Alice", None, "Carol 🚀"}

        result = client.call_reducer("set_name", name="Alice")
        assert result["status"] == "ok"
        update = client.wait_for("user_update")
        assert (update["old"]["name"], update["new"]["name"]) == (None, "Bob")
        assert (update["cause"], update["cause_reducer"]) == ("Reducer", "set_name")

        result = client.call_reducer("send_message", text="Hello, 世界 👋")
        assert result["status"] == "ok"
        message = client.wait_for("message_insert", text="Hello, 世界 👋")
        assert message["sender"] == initial["identity_hex"]
        assert isinstance(message["sent"], int)

        dump = client.dump()
        assert dump["counts"] == {"user": 3, "message": 1}
        assert {u["name"] for u in dump["user"]} == {"Alice", "Bob", "Carol 🚀"}
        code = client.close()
    assert code == EXIT_OK, client.stderr
    assert server.closed.wait(5), "the driver should close the websocket on exit"
    assert not unknown, f"unexpected client bytes: {[u.hex() for u in unknown]}"

    # What the official client sent during the handshake.
    (req,) = server.requests
    assert req["path"] == "/v1/database/chat/subscribe"
    # 2.10.1 sets connection_id on the base URL, but `new URL("v1/database/...", base)` drops
    # the base's query: no connection_id reaches the server, which must make one up.
    assert req["query"] == {"compression": "Gzip"}
    offered = [p.strip() for p in req["headers"]["sec-websocket-protocol"].split(",")]
    assert offered == [V3, V2]
    assert "permessage-deflate" in req["headers"].get("sec-websocket-extensions", "")
    assert "authorization" not in req["headers"]
    assert not server.token_requests


def test_token_is_exchanged_for_a_short_lived_one(driver_ready: None) -> None:
    server = ScriptedServer(V2, [_plain(_server_bytes("InitialConnection"))], lambda _: []).start()
    try:
        with TsChatClient(server.uri, "chat", token="long-lived-token") as client:
            connected = client.wait_connected()
            # A client that brought a token keeps it (the server's token is not adopted).
            assert connected["token"] == "long-lived-token"
            assert client.close() == EXIT_OK
        (token_request,) = server.token_requests
        assert token_request["method"] == "POST"
        assert token_request["headers"]["Authorization"] == "Bearer long-lived-token"
        (req,) = server.requests
        assert req["query"] == {"token": "short-lived-token", "compression": "Gzip"}
        assert "authorization" not in req["headers"]
    finally:
        server.stop()


def test_undecodable_server_message_is_a_fatal_line(driver_ready: None) -> None:
    # ServerMessage tag 0xff does not exist: the SDK throws inside its socket callback.
    server = ScriptedServer(V2, [_plain(b"\xff\x00\x00")], lambda _: []).start()
    try:
        client = TsChatClient(server.uri, "chat")
        with pytest.raises(TsClientError, match="fatal"):
            client.wait_connected()
        fatal = client.wait_for("fatal", timeout=5)
        assert fatal["error"]
        assert client.close() == EXIT_FATAL
    finally:
        server.stop()


def test_unknown_compression_tag_closes_before_connect(driver_ready: None) -> None:
    server = ScriptedServer(
        V2, [b"\x07" + _server_bytes("InitialConnection")], lambda _: []
    ).start()
    try:
        client = TsChatClient(server.uri, "chat")
        event = client.wait_for("connect_error", timeout=10)
        assert event["stage"] == "closed_before_connect"
        assert client.close() == EXIT_CONNECT_FAILED
    finally:
        server.stop()
