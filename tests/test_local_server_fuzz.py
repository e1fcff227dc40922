"""Time-bounded fuzzing of the server's entry points over real sockets (fixed seeds, about three
seconds each): mutated client messages and broken WebSocket frames, random HTTP requests.

The server must stay up and answer ``/v1/ping``, close every WebSocket that broke the protocol
with a close frame (never a bare TCP drop), and never answer client garbage with a 500.
"""

from __future__ import annotations

import http.client
import json
import random
import time
from typing import Any

import pytest

from spacetimedb_sdk.local_server.pytest_plugin import ServerFactory, spacetimedb_local_server
from spacetimedb_sdk.local_server.server import LocalServer
from spacetimedb_sdk.local_server.websocket_session import SessionConfig
from spacetimedb_sdk.messages import (
    CallProcedureMsg,
    CallReducerMsg,
    OneOffQueryMsg,
    QuerySetId,
    SubscribeMsg,
    UnsubscribeFlags,
    UnsubscribeMsg,
    encode_client_message,
)
from tests.local_server_support import CHAT_MODULE, GAME_MODULE, V2, V3, http_request
from tests.raw_websocket import OP_BINARY, OP_TEXT, RawSocketClient, frame

__all__ = ["spacetimedb_local_server"]

SECONDS = 3.0
#: Close codes a protocol violation may get: protocol error, policy, too big, error, try later.
VIOLATION_CODES = {1002, 1007, 1008, 1009, 1011, 1013}

SEEDS = [
    encode_client_message(m)
    for m in (
        SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM player WHERE level > 3"]),
        SubscribeMsg(
            2, QuerySetId(2), ["SELECT item.* FROM item JOIN player ON item.owner_id = player.id"]
        ),
        UnsubscribeMsg(3, QuerySetId(1), UnsubscribeFlags.SEND_DROPPED_ROWS),
        OneOffQueryMsg(4, "SELECT * FROM player"),
        CallReducerMsg(5, 0, "add_player", b"\x03\x00\x00\x00bob\x07\x00\x00\x00"),
        CallReducerMsg(6, 0, "crash", b""),
        CallProcedureMsg(7, 0, "double", b"\x15\x00\x00\x00"),
    )
]


@pytest.fixture
def server(spacetimedb_local_server: ServerFactory) -> LocalServer:
    config = SessionConfig(max_message_size=1024 * 1024, close_timeout=0.5)
    return spacetimedb_local_server(
        {"game": GAME_MODULE, "chat": CHAT_MODULE}, session_config=config
    )


def mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        choice = rng.random()
        if choice < 0.4 and out:
            out[rng.randrange(len(out))] = rng.randrange(256)
        elif choice < 0.6:
            out[rng.randrange(len(out) + 1) : 0] = rng.randbytes(rng.randint(1, 8))
        elif choice < 0.8 and out:
            start = rng.randrange(len(out))
            del out[start : start + rng.randint(1, 8)]
        elif out:  # a plausible length field gone wild
            at = rng.randrange(len(out))
            out[at : at + 4] = rng.choice(
                [b"\xff\xff\xff\xff", b"\x00\x00\x00\x80", b"\xff\xff\xff\x0f"]
            )
    return bytes(out)


def broken_frame(rng: random.Random) -> bytes:
    """A WebSocket frame that breaks RFC 6455 itself."""
    payload = rng.randbytes(rng.randint(0, 40))
    kind = rng.randrange(6)
    if kind == 0:  # reserved bits without a negotiated extension
        return frame(payload, OP_BINARY, rsv=rng.randint(1, 7))
    if kind == 1:  # reserved opcode
        return frame(payload, rng.choice([0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF]))
    if kind == 2:  # a continuation with nothing to continue
        return frame(payload, 0x0)
    if kind == 3:  # a fragmented control frame
        return frame(payload[:10], 0x9, fin=False)
    if kind == 4:  # an unmasked client frame
        return bytes([0x82, len(payload)]) + payload
    return frame(b"\x03\xe8" + b"\xff\xfe", 0x8)  # a close frame with invalid UTF-8


def test_mutated_client_messages_and_broken_frames(server: LocalServer) -> None:
    rng = random.Random(20261202)
    deadline = time.monotonic() + SECONDS
    outcomes: dict[str, int] = {}
    while time.monotonic() < deadline:
        protocol = rng.choice([V2, V3])
        client = RawSocketClient.connect(
            server.port, "/v1/database/game/subscribe?compression=None", protocol, timeout=5
        )
        try:
            if rng.random() < 0.7:
                messages = [mutate(rng, rng.choice(SEEDS)) for _ in range(rng.randint(1, 3))]
                if protocol == V3:
                    client.send(b"".join(messages))
                else:
                    for message in messages:
                        client.send(message)
                client.send(b"end", OP_TEXT)  # a violation for sure, if nothing else was
                kind, sent = "message", messages
            else:
                sent = [broken_frame(rng)]
                client.send_raw(sent[0])
                kind = "frame"
            closed = client.read_until_close()
        except (ConnectionResetError, BrokenPipeError):
            closed = None
        finally:
            client.close()
        assert closed is not None, f"{kind} ({protocol}, {sent!r}): dropped without a close frame"
        assert closed.close_code in VIOLATION_CODES, (kind, closed)
        outcomes[kind] = outcomes.get(kind, 0) + 1
    assert outcomes.get("message", 0) > 10 and outcomes.get("frame", 0) > 5, outcomes
    status, _, _ = http_request("GET", f"{server.url}/v1/ping")
    assert status == 200


def test_random_bytes_after_the_upgrade_never_end_without_a_close_frame(
    server: LocalServer,
) -> None:
    rng = random.Random(7)
    deadline = time.monotonic() + SECONDS
    closed_count = 0
    while time.monotonic() < deadline:
        client = RawSocketClient.connect(
            server.port, "/v1/database/chat/subscribe?compression=None", timeout=0.5
        )
        try:
            client.send_raw(rng.randbytes(rng.randint(1, 64)))
            closed = client.read_until_close()
        except TimeoutError:
            continue  # a frame header announced more bytes than were sent: the server waits
        except (ConnectionResetError, BrokenPipeError):
            closed = None
        finally:
            client.close()
        assert closed is not None, "the server dropped the connection without a close frame"
        assert closed.close_code in VIOLATION_CODES | {1000}, closed
        closed_count += 1
    assert closed_count > 10
    status, _, _ = http_request("GET", f"{server.url}/v1/ping")
    assert status == 200


ROUTES = [
    ("POST", "/v1/identity"),
    ("POST", "/v1/identity/websocket-token"),
    ("GET", "/v1/identity/public-key"),
    ("GET", "/v1/identity/{hex}/verify"),
    ("GET", "/v1/identity/{hex}/databases"),
    ("GET", "/v1/ping"),
    ("GET", "/v1/database/{db}"),
    ("GET", "/v1/database/{db}/identity"),
    ("GET", "/v1/database/{db}/names"),
    ("GET", "/v1/database/{db}/schema?version=9"),
    ("GET", "/v1/database/{db}/unstable/timestamp"),
    ("POST", "/v1/database/{db}/sql"),
    ("POST", "/v1/database/{db}/call/{fn}"),
    ("GET", "/v1/database/{db}/subscribe"),
]
PATH_CHARS = "abcxyz019-_.~%/:@!$&'()*+,;=?#[]"


def random_json(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(8 if depth < 6 else 5)
    if choice == 0:
        return rng.randint(-(2**70), 2**70)
    if choice == 1:
        return rng.random() * 10.0 ** rng.randint(-5, 300)
    if choice == 2:
        return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randint(0, 12)))
    if choice == 3:
        return rng.choice([None, True, False])
    if choice == 4:
        return {"__identity__": rng.choice(["0x", "0xzz", "0x" + "f" * 64, 12])}
    if choice == 5:
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {
        rng.choice(["name", "level", "x", "text", "id", "Interval"]): random_json(rng, depth + 1)
    }


def random_request(rng: random.Random) -> tuple[str, str, bytes, dict[str, str]]:
    method, template = rng.choice(ROUTES)
    path = template.format(
        hex=rng.choice(["f" * 64, "0" * 63, "xyz", "F" * 64 + "0"]),
        db=rng.choice(["game", "chat", "nope", "GAME", "a" * 70, "c" * 64, "0x" + "1" * 64, "-x"]),
        fn=rng.choice(
            ["add_player", "double", "crash", "on_connect", "tick", "nope", "add_player_proc"]
        ),
    )
    if rng.random() < 0.3:  # mangle the path
        chars = list(path)
        for _ in range(rng.randint(1, 4)):
            chars.insert(rng.randrange(len(chars) + 1), rng.choice(PATH_CHARS))
        path = "/" + "".join(chars).lstrip("/")
    if rng.random() < 0.2:
        method = rng.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
    headers: dict[str, str] = {}
    if rng.random() < 0.8:
        headers["Content-Type"] = rng.choice(
            ["application/json", "text/plain", "application/json; x", "*/*"]
        )
    if rng.random() < 0.3:
        headers["Authorization"] = rng.choice(
            ["Bearer x.y.z", "Bearer ", "Basic Zm9vOmJhcg==", "Bearer " + "a" * 300]
        )
    body_kind = rng.randrange(4)
    if body_kind == 0:
        body = rng.randbytes(rng.randint(0, 200))
    elif body_kind == 1:
        body = json.dumps(random_json(rng)).encode()
    elif body_kind == 2:
        depth = rng.choice([10, 500, 2000])
        body = (rng.choice("[{") * depth).replace("{", '{"a":').encode()
    else:
        body = rng.choice(
            [b"SELECT * FROM player", b"DELETE FROM player", b"SELECT * FROM", b"[1, 2]"]
        )
    return method, path, body, headers


def test_random_http_requests_never_get_a_500(server: LocalServer) -> None:
    rng = random.Random(1202)
    deadline = time.monotonic() + SECONDS
    seen: dict[int, int] = {}
    while time.monotonic() < deadline:
        method, path, body, headers = random_request(rng)
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            status = response.status
            text = response.read()[:200]
        except (TimeoutError, http.client.RemoteDisconnected, ConnectionResetError) as exc:
            pytest.fail(f"{method} {path} with {body[:60]!r}: {type(exc).__name__}")
        finally:
            connection.close()
        assert status < 500, (method, path, headers, body[:100], status, text)
        seen[status] = seen.get(status, 0) + 1
    assert len(seen) > 3, seen
    status, _, _ = http_request("GET", f"{server.url}/v1/ping")
    assert status == 200
