"""WebSocket message framing for the v2 and v3 binary subprotocols (docs/protocol.md#v3-framing).

* v2: one client message per WebSocket message; one server message per WebSocket message after
  the compression tag byte.
* v3: the same messages laid back to back with no length prefixes. A client frame holds one or
  more client messages; a server frame is a tag byte plus one or more server messages, compressed
  as a whole. Splitting requires decoding each message completely.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, TypeAlias

from spacetimedb_sdk.compression import (
    COMPRESSION_THRESHOLD,
    DEFAULT_MAX_DECOMPRESSED_SIZE,
    TAG_NONE,
    Compression,
    compress_server_payload,
    decompress_server_frame,
)
from spacetimedb_sdk.errors import BsatnDecodeError, ProtocolError
from spacetimedb_sdk.messages import (
    ClientMessage,
    ServerMessage,
    decode_client_message_from,
    decode_server_message_from,
)

__all__ = [
    "BINARY_PROTOCOLS",
    "MAX_CLIENT_FRAME",
    "MAX_SERVER_PAYLOAD",
    "V1_BSATN_PROTOCOL",
    "V1_JSON_PROTOCOL",
    "V2_BSATN_PROTOCOL",
    "V3_BSATN_PROTOCOL",
    "decode_server_frame",
    "join_client_messages",
    "join_server_messages",
    "split_client_payload",
    "split_server_payload",
]

Buffer: TypeAlias = bytes | bytearray | memoryview

V3_BSATN_PROTOCOL: Final = "v3.bsatn.spacetimedb"
V2_BSATN_PROTOCOL: Final = "v2.bsatn.spacetimedb"
V1_BSATN_PROTOCOL: Final = "v1.bsatn.spacetimedb"
V1_JSON_PROTOCOL: Final = "v1.json.spacetimedb"
#: The binary subprotocols in the order a client should offer them.
BINARY_PROTOCOLS: Final = (V3_BSATN_PROTOCOL, V2_BSATN_PROTOCOL, V1_BSATN_PROTOCOL)

#: Largest v3 client frame the reference SDK builds by coalescing (a single bigger message is
#: sent alone).
MAX_CLIENT_FRAME: Final = 256 * 1024
#: Soft cap on the uncompressed body of a coalesced v3 server frame.
MAX_SERVER_PAYLOAD: Final = 512 * 1024


def split_server_payload(payload: Buffer, offset: int = 0) -> list[ServerMessage]:
    """Decode the back-to-back server messages of a v3 body (after decompression).

    An empty body is a :class:`~spacetimedb_sdk.errors.ProtocolError`; a malformed message is a
    :class:`~spacetimedb_sdk.errors.BsatnDecodeError`.
    """
    end = len(payload)
    if offset >= end:
        raise ProtocolError("empty v3 server payload: it must hold at least one message")
    out: list[ServerMessage] = []
    while offset < end:
        msg, offset = decode_server_message_from(payload, offset)
        out.append(msg)
    return out


def split_client_payload(payload: Buffer) -> list[ClientMessage]:
    """Decode the back-to-back client messages of a v3 client frame (server side)."""
    end = len(payload)
    if not end:
        raise ProtocolError("empty v3 client frame: it must hold at least one message")
    out: list[ClientMessage] = []
    offset = 0
    while offset < end:
        msg, offset = decode_client_message_from(payload, offset)
        out.append(msg)
    return out


def _coalesce(encoded: Iterable[Buffer], cap: int) -> list[bytes]:
    frames: list[bytes] = []
    current = bytearray()
    for msg in encoded:
        if not len(msg):
            raise ValueError("an encoded message cannot be empty")
        if current and len(current) + len(msg) > cap:
            frames.append(bytes(current))
            current = bytearray()
        current += msg
    if current:
        frames.append(bytes(current))
    return frames


def join_client_messages(
    encoded_msgs: Iterable[Buffer], max_frame: int = MAX_CLIENT_FRAME
) -> list[bytes]:
    """Coalesce encoded client messages, in order, into v3 frames of at most ``max_frame`` bytes.

    A message larger than ``max_frame`` travels alone in its own frame.
    """
    return _coalesce(encoded_msgs, max_frame)


def join_server_messages(
    encoded_msgs: Iterable[Buffer],
    compression: Compression = Compression.NONE,
    max_payload: int = MAX_SERVER_PAYLOAD,
    threshold: int = COMPRESSION_THRESHOLD,
) -> list[bytes]:
    """Coalesce encoded server messages into complete v3 server frames (tag byte included).

    Bodies are cut at ``max_payload`` uncompressed bytes (a bigger single message goes alone),
    then each is wrapped by :func:`~spacetimedb_sdk.compression.compress_server_payload`.
    """
    return [
        compress_server_payload(body, compression, threshold)
        for body in _coalesce(encoded_msgs, max_payload)
    ]


def decode_server_frame(
    frame: Buffer,
    protocol: str,
    max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE,
) -> list[ServerMessage]:
    """Decode a whole binary server WebSocket message: envelope, then one (v2) or more (v3).

    v1 frames use different message types and are not handled here.
    """
    if protocol not in (V2_BSATN_PROTOCOL, V3_BSATN_PROTOCOL):
        raise ProtocolError(f"decode_server_frame handles v2/v3 binary frames, not {protocol!r}")
    if len(frame) and frame[0] == TAG_NONE:
        payload, start = frame, 1  # decode in place instead of copying the body
    else:
        payload, start = decompress_server_frame(frame, max_decompressed_size), 0
    if protocol == V3_BSATN_PROTOCOL:
        return split_server_payload(payload, start)
    if start >= len(payload):
        raise ProtocolError("empty v2 server message body")
    msg, end = decode_server_message_from(payload, start)
    if end != len(payload):
        raise BsatnDecodeError(
            f"{len(payload) - end} trailing byte(s) after the server message", end
        )
    return [msg]
