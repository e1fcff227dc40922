"""Helpers for the local-server tests: module paths, argument encoding and a raw WebSocket client.

``RawClient`` speaks the v2/v3 protocol with the ``websockets`` library and our own codecs, so the
tests see exactly the bytes the server sends.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import websockets
from websockets.asyncio.client import ClientConnection

from spacetimedb_sdk.algebraic_type import STRING, AlgebraicType, Typespace
from spacetimedb_sdk.bsatn import compile_codec
from spacetimedb_sdk.frames import V2_BSATN_PROTOCOL, V3_BSATN_PROTOCOL, decode_server_frame
from spacetimedb_sdk.messages import (
    ClientMessage,
    InitialConnectionMsg,
    ServerMessage,
    encode_client_message,
)
from spacetimedb_sdk.row_list import BsatnRowList
from spacetimedb_sdk.schema import ModuleSchema

REPO = Path(__file__).resolve().parent.parent
CHAT_MODULE = REPO / "server"
GAME_MODULE = Path(__file__).resolve().parent / "local_server_modules" / "game.py"

V2 = V2_BSATN_PROTOCOL
V3 = V3_BSATN_PROTOCOL
M = TypeVar("M")


def encode_args(schema: ModuleSchema, function: str, *values: Any) -> bytes:
    """BSATN of a reducer's or procedure's arguments, given positionally."""
    reducer = schema.find_reducer(function)
    params = reducer.params_type if reducer is not None else schema.procedure(function).params_type
    names = [e.name for e in params.elements]
    return compile_codec(params, schema.typespace).encode(dict(zip(names, values, strict=True)))


def decode_rows(rows: BsatnRowList, row_type: AlgebraicType, typespace: Typespace) -> list[Any]:
    """Decode a row list into generic values."""
    return rows.decode_rows(compile_codec(row_type, typespace))


def string_bsatn(text: str) -> bytes:
    """BSATN of a String."""
    return compile_codec(STRING).encode(text)


class RawClient:
    """A v2/v3 WebSocket client built from ``websockets`` and our message codecs."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.protocol = ws.subprotocol or V2
        self._pending: list[ServerMessage] = []
        self.initial: InitialConnectionMsg | None = None
        self.frames = 0

    @classmethod
    async def connect(
        cls,
        base_ws_url: str,
        database: str,
        *,
        protocols: Sequence[str] = (V2,),
        compression: str | None = "None",
        token: str | None = None,
        query: Mapping[str, str] | None = None,
        read_initial: bool = True,
        ping_interval: float | None = None,
    ) -> RawClient:
        """Connect and (by default) read the ``InitialConnection``."""
        params = dict(query or {})
        if compression is not None:
            params["compression"] = compression
        qs = "&".join(f"{k}={v}" for k, v in params.items())
        url = f"{base_ws_url}/v1/database/{database}/subscribe" + (f"?{qs}" if qs else "")
        headers = {"Authorization": f"Bearer {token}"} if token is not None else None
        ws = await websockets.connect(
            url,
            subprotocols=[websockets.Subprotocol(p) for p in protocols],
            additional_headers=headers,
            max_size=None,
            ping_interval=ping_interval,
            compression=None,
        )
        client = cls(ws)
        if read_initial:
            first = await client.recv()
            assert isinstance(first, InitialConnectionMsg), first
            client.initial = first
        return client

    async def send(self, *messages: ClientMessage) -> None:
        """Send messages: one frame each (v2), or all in one frame (v3)."""
        if self.protocol == V3:
            await self.ws.send(b"".join(encode_client_message(m) for m in messages))
        else:
            for message in messages:
                await self.ws.send(encode_client_message(message))

    async def recv(self, timeout: float = 10.0) -> ServerMessage:
        """The next server message (v3 frames may carry several)."""
        if not self._pending:
            frame = await asyncio.wait_for(self.ws.recv(), timeout)
            assert isinstance(frame, bytes), f"server sent a text frame: {frame!r}"
            self.frames += 1
            self._pending.extend(decode_server_frame(frame, self.protocol))
        return self._pending.pop(0)

    async def expect(self, kind: type[M], timeout: float = 10.0) -> M:
        """The next message, which must be a ``kind``."""
        message = await self.recv(timeout)
        assert isinstance(message, kind), f"expected {kind.__name__}, got {message!r}"
        return message

    async def assert_silent(self, seconds: float = 0.3) -> None:
        """Fail if any message arrives within ``seconds``."""
        if self._pending:
            raise AssertionError(f"unexpected message {self._pending[0]!r}")
        try:
            frame = await asyncio.wait_for(self.ws.recv(), seconds)
        except asyncio.TimeoutError:
            return
        raise AssertionError(f"unexpected frame {frame!r}")

    async def close(self) -> None:
        """Close the connection."""
        await self.ws.close()


def http_request(
    method: str,
    url: str,
    body: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request with urllib: (status, headers with lowercase names, body)."""
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def http_json(method: str, url: str, body: Any = None, token: str | None = None) -> Any:
    """A JSON request that must succeed; the parsed answer."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    status, _, data = http_request(method, url, None if body is None else json.dumps(body), headers)
    assert status == 200, (status, data)
    return json.loads(data) if data else None
