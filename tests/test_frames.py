"""The compression envelope and v2/v3 framing against the official library's frames."""

from __future__ import annotations

import contextlib
import gzip
import zlib
from typing import Any

import brotli
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spacetimedb_sdk.compression import (
    COMPRESSION_THRESHOLD,
    TAG_BROTLI,
    TAG_GZIP,
    TAG_NONE,
    Compression,
    compress_server_payload,
    decompress_server_frame,
)
from spacetimedb_sdk.errors import BsatnDecodeError, BsatnError, ProtocolError
from spacetimedb_sdk.frames import (
    BINARY_PROTOCOLS,
    MAX_CLIENT_FRAME,
    MAX_SERVER_PAYLOAD,
    V1_BSATN_PROTOCOL,
    V2_BSATN_PROTOCOL,
    V3_BSATN_PROTOCOL,
    decode_server_frame,
    join_client_messages,
    join_server_messages,
    split_client_payload,
    split_server_payload,
)
from spacetimedb_sdk.messages import (
    ClientMessage,
    OneOffQueryMsg,
    ServerMessage,
    decode_client_message,
    decode_server_message,
    encode_client_message,
    encode_server_message,
)
from tests.conftest import load_fixture
from tests.test_messages import client_messages, server_messages

FRAMES_FILE: dict[str, Any] = load_fixture("vectors", "v3_frames.json")
FRAMES: list[dict[str, Any]] = FRAMES_FILE["frames"]
CLIENT_FRAMES = [f for f in FRAMES if f["direction"] == "client->server"]
SERVER_FRAMES = [f for f in FRAMES if f["direction"] == "server->client"]
CLIENT_HEX = {
    v["name"]: v["hex"] for v in load_fixture("vectors", "v2_client_messages.json")["messages"]
}
SERVER_HEX = {
    v["name"]: v["hex"] for v in load_fixture("vectors", "v2_server_messages.json")["messages"]
}

COMPRESSIONS = {
    TAG_NONE: Compression.NONE,
    TAG_BROTLI: Compression.BROTLI,
    TAG_GZIP: Compression.GZIP,
}


def test_protocol_names() -> None:
    assert V3_BSATN_PROTOCOL == "v3.bsatn.spacetimedb"
    assert V2_BSATN_PROTOCOL == "v2.bsatn.spacetimedb"
    assert V1_BSATN_PROTOCOL == "v1.bsatn.spacetimedb"
    offered = FRAMES_FILE["header"]["subprotocols_offered_in_order"]
    assert list(BINARY_PROTOCOLS[: len(offered)]) == offered


def test_compression_enum() -> None:
    assert [c.value for c in Compression] == ["None", "Gzip", "Brotli"]
    assert Compression("Gzip") is Compression.GZIP
    assert (Compression.NONE.tag, Compression.BROTLI.tag, Compression.GZIP.tag) == (0, 1, 2)


# ------------------------------------------------------------------------------- fixture frames


@pytest.mark.parametrize("frame", CLIENT_FRAMES, ids=[f["name"] for f in CLIENT_FRAMES])
def test_client_frame(frame: dict[str, Any]) -> None:
    data = bytes.fromhex(frame["hex"])
    parts = [bytes.fromhex(CLIENT_HEX[name]) for name in frame["parts"]]
    messages = split_client_payload(data)
    assert messages == [decode_client_message(p) for p in parts]
    assert [encode_client_message(m) for m in messages] == parts
    assert join_client_messages(encode_client_message(m) for m in messages) == [data]


@pytest.mark.parametrize("frame", SERVER_FRAMES, ids=[f["name"] for f in SERVER_FRAMES])
def test_server_frame(frame: dict[str, Any]) -> None:
    data = bytes.fromhex(frame["hex"])
    payload = bytes.fromhex(frame["uncompressed_payload_hex"])
    assert data[0] == frame["compression_tag"]
    assert decompress_server_frame(data) == payload

    messages = split_server_payload(payload)
    assert [type(m).__name__.removesuffix("Msg") for m in messages] == frame["decoded_message_tags"]
    assert messages == [decode_server_message(bytes.fromhex(SERVER_HEX[p])) for p in frame["parts"]]
    assert b"".join(encode_server_message(m) for m in messages) == payload

    assert decode_server_frame(data, V3_BSATN_PROTOCOL) == messages
    assert decode_server_frame(memoryview(data), V3_BSATN_PROTOCOL) == messages
    if len(messages) == 1:
        assert decode_server_frame(data, V2_BSATN_PROTOCOL) == messages
    else:
        with pytest.raises(BsatnDecodeError, match="trailing"):
            decode_server_frame(data, V2_BSATN_PROTOCOL)

    # Re-compress (threshold 0: these payloads are below the server's 1024 bytes) and back.
    compression = COMPRESSIONS[frame["compression_tag"]]
    again = compress_server_payload(payload, compression, threshold=0)
    assert again[0] == frame["compression_tag"]
    assert decompress_server_frame(again) == payload
    for other in Compression:
        assert (
            decompress_server_frame(compress_server_payload(payload, other, threshold=0)) == payload
        )
    joined = join_server_messages(
        [encode_server_message(m) for m in messages], compression, threshold=0
    )
    assert len(joined) == 1
    assert decompress_server_frame(joined[0]) == payload


# ------------------------------------------------------------------------------- compression


def test_small_payloads_are_never_compressed() -> None:
    small = b"\x01" * COMPRESSION_THRESHOLD
    for compression in Compression:
        assert compress_server_payload(small, compression) == b"\x00" + small
    big = b"\x01" * (COMPRESSION_THRESHOLD + 1)
    assert compress_server_payload(big, Compression.NONE) == b"\x00" + big
    brotli_frame = compress_server_payload(big, Compression.BROTLI)
    assert brotli_frame[0] == TAG_BROTLI
    assert brotli.decompress(brotli_frame[1:]) == big
    gzip_frame = compress_server_payload(big, Compression.GZIP)
    assert gzip_frame[0] == TAG_GZIP
    assert gzip.decompress(gzip_frame[1:]) == big
    assert len(gzip_frame) < len(big) and len(brotli_frame) < len(big)


def test_decompress_accepts_other_encoders_output() -> None:
    payload = bytes(range(256)) * 10
    assert decompress_server_frame(b"\x02" + gzip.compress(payload, compresslevel=9)) == payload
    two_members = gzip.compress(payload[:100]) + gzip.compress(payload[100:])
    assert decompress_server_frame(b"\x02" + two_members) == payload
    assert decompress_server_frame(b"\x01" + brotli.compress(payload, quality=11)) == payload
    assert decompress_server_frame(bytearray(b"\x00abc")) == b"abc"
    assert decompress_server_frame(b"\x00") == b""


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (b"", "empty server message"),
        (b"\x03abc", "unknown compression tag 3"),
        (b"\xff", "unknown compression tag 255"),
        (b"\x02", "truncated gzip"),
        (b"\x02" + b"not gzip at all", "corrupt gzip"),
        (b"\x02" + gzip.compress(b"hello world" * 50)[:-10], "truncated gzip"),
        (b"\x02" + gzip.compress(b"hello") + b"junk", "corrupt gzip"),
        (b"\x01", "empty brotli"),
        (b"\x01" + b"\xff" * 20, "corrupt brotli"),
        (b"\x01" + brotli.compress(b"hello world" * 50)[:-3], "truncated brotli"),
        (b"\x01" + brotli.compress(b"hello") + b"junk", "corrupt brotli"),
    ],
)
def test_bad_frames(frame: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        decompress_server_frame(frame)


def test_gzip_crc_mismatch_is_corrupt() -> None:
    good = bytearray(gzip.compress(b"hello world"))
    good[-8] ^= 0xFF  # CRC32 in the trailer
    with pytest.raises(ProtocolError, match="corrupt gzip"):
        decompress_server_frame(b"\x02" + bytes(good))


@pytest.mark.parametrize("tag", [TAG_GZIP, TAG_BROTLI])
def test_decompression_bomb_guard(tag: int) -> None:
    bomb_size = 64 * 1024 * 1024
    zeros = b"\x00" * bomb_size
    if tag == TAG_GZIP:
        body = gzip.compress(zeros, compresslevel=9)
    else:
        body = brotli.compress(zeros, quality=5)
    frame = bytes((tag,)) + body
    assert len(frame) < 1024 * 1024
    with pytest.raises(ProtocolError, match="exceeds the 1048576-byte limit"):
        decompress_server_frame(frame, max_decompressed_size=1024 * 1024)
    exact = bytes((tag,)) + (
        gzip.compress(b"\x00" * 1000) if tag == TAG_GZIP else brotli.compress(b"\x00" * 1000)
    )
    assert decompress_server_frame(exact, max_decompressed_size=1000) == b"\x00" * 1000
    with pytest.raises(ProtocolError, match="exceeds"):
        decompress_server_frame(exact, max_decompressed_size=999)


def test_uncompressed_frames_ignore_the_limit() -> None:
    assert decompress_server_frame(b"\x00" + b"a" * 100, max_decompressed_size=10) == b"a" * 100


# ------------------------------------------------------------------------------- framing


def test_empty_payloads_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError, match="empty v3 server payload"):
        split_server_payload(b"")
    with pytest.raises(ProtocolError, match="empty v3 client frame"):
        split_client_payload(b"")
    with pytest.raises(ProtocolError, match="empty v3 server payload"):
        decode_server_frame(b"\x00", V3_BSATN_PROTOCOL)
    with pytest.raises(ProtocolError, match="empty v2"):
        decode_server_frame(b"\x00", V2_BSATN_PROTOCOL)
    with pytest.raises(ProtocolError, match="empty server message"):
        decode_server_frame(b"", V3_BSATN_PROTOCOL)
    gz_empty = b"\x02" + gzip.compress(b"")
    with pytest.raises(ProtocolError, match="empty v3 server payload"):
        decode_server_frame(gz_empty, V3_BSATN_PROTOCOL)


def test_partial_trailing_message_is_a_decode_error() -> None:
    payload = bytes.fromhex(SERVER_HEX["UnsubscribeApplied (rows none)"])
    with pytest.raises(BsatnDecodeError):
        split_server_payload(payload + payload[:-1])
    client = bytes.fromhex(CLIENT_HEX["OneOffQuery"])
    with pytest.raises(BsatnDecodeError):
        split_client_payload(client + client[:5])


def test_unsupported_protocol() -> None:
    with pytest.raises(ProtocolError, match=r"v1\.bsatn"):
        decode_server_frame(b"\x00\x00", V1_BSATN_PROTOCOL)


def test_spec_v3_examples() -> None:
    # docs/protocol.md#v3-framing: UnsubscribeApplied then SubscriptionError in one server payload.
    frame = bytes.fromhex("00 02030000000700000001 03010700000003000000626164")
    first, second = decode_server_frame(frame, V3_BSATN_PROTOCOL)
    assert type(first).__name__ == "UnsubscribeAppliedMsg"
    assert type(second).__name__ == "SubscriptionErrorMsg"


def test_client_frames_are_capped() -> None:
    msg = encode_client_message(OneOffQueryMsg(1, "x" * 1000))  # 1009 bytes
    frames = join_client_messages([msg] * 600)
    assert all(len(f) <= MAX_CLIENT_FRAME for f in frames)
    assert len(frames) == 3
    assert [len(split_client_payload(f)) for f in frames] == [259, 259, 82]
    huge = encode_client_message(OneOffQueryMsg(2, "y" * MAX_CLIENT_FRAME))
    frames = join_client_messages([msg, huge, msg, msg])
    assert frames == [msg, huge, msg + msg]
    assert join_client_messages([]) == []
    assert join_client_messages([msg, msg], max_frame=len(msg)) == [msg, msg]
    with pytest.raises(ValueError, match="empty"):
        join_client_messages([b""])


def test_server_payloads_are_capped() -> None:
    msg = encode_server_message(
        decode_server_message(bytes.fromhex(SERVER_HEX["OneOffQueryResult ok"]))
    )
    count = MAX_SERVER_PAYLOAD // len(msg) + 10  # the second body is > 1024 bytes too
    frames = join_server_messages([msg] * count, Compression.GZIP)
    assert len(frames) == 2
    assert all(f[0] == TAG_GZIP for f in frames)
    bodies = [decompress_server_frame(f) for f in frames]
    assert len(bodies[0]) <= MAX_SERVER_PAYLOAD
    decoded = [m for f in frames for m in decode_server_frame(f, V3_BSATN_PROTOCOL)]
    assert len(decoded) == count
    small = join_server_messages([msg])
    assert small == [b"\x00" + msg]


@given(
    st.lists(server_messages, min_size=1, max_size=5),
    st.sampled_from(Compression),
    st.integers(1, 400),
)
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
def test_random_server_frames_round_trip(
    messages: list[ServerMessage], compression: Compression, cap: int
) -> None:
    encoded = [encode_server_message(m) for m in messages]
    frames = join_server_messages(encoded, compression, max_payload=cap, threshold=64)
    assert [m for f in frames for m in decode_server_frame(f, V3_BSATN_PROTOCOL)] == messages
    if len(frames) == len(messages):
        assert [m for f in frames for m in decode_server_frame(f, V2_BSATN_PROTOCOL)] == messages


@given(st.lists(client_messages, min_size=1, max_size=8), st.integers(1, 200))
@settings(max_examples=60)
def test_random_client_frames_round_trip(messages: list[ClientMessage], cap: int) -> None:
    encoded = [encode_client_message(m) for m in messages]
    frames = join_client_messages(encoded, max_frame=cap)
    assert b"".join(frames) == b"".join(encoded)
    assert all(
        len(f) <= cap or split_client_payload(f) == [decode_client_message(f)] for f in frames
    )
    assert [m for f in frames for m in split_client_payload(f)] == messages


@given(st.binary(max_size=64), st.sampled_from([V2_BSATN_PROTOCOL, V3_BSATN_PROTOCOL]))
def test_random_frames_only_raise_protocol_or_decode_errors(data: bytes, protocol: str) -> None:
    for frame in (data, b"\x00" + data, b"\x01" + data, b"\x02" + data):
        with contextlib.suppress(BsatnError, ProtocolError):
            decode_server_frame(frame, protocol)


@pytest.mark.parametrize("frame", SERVER_FRAMES, ids=[f["name"] for f in SERVER_FRAMES])
def test_mutated_compressed_frames_only_raise_protocol_or_decode_errors(
    frame: dict[str, Any],
) -> None:
    data = bytes.fromhex(frame["hex"])
    for pos in range(len(data)):
        for flip in (0x01, 0x80, 0xFF):
            mutated = bytearray(data)
            mutated[pos] ^= flip
            with contextlib.suppress(BsatnError, ProtocolError):
                decode_server_frame(bytes(mutated), V3_BSATN_PROTOCOL)
    full = decode_server_frame(data, V3_BSATN_PROTOCOL)
    for cut in range(len(data)):
        try:
            prefix = decode_server_frame(data[:cut], V3_BSATN_PROTOCOL)
        except (BsatnError, ProtocolError):
            continue
        # Only an uncompressed frame cut exactly between two messages decodes.
        assert data[0] == TAG_NONE
        assert 0 < len(prefix) < len(full)
        assert prefix == full[: len(prefix)]


def test_zlib_is_what_gzip_frames_use() -> None:
    # Our gzip frames are plain RFC 1952 members any gzip reader accepts.
    frame = compress_server_payload(b"z" * 5000, Compression.GZIP)
    assert zlib.decompress(frame[1:], 16 + zlib.MAX_WBITS) == b"z" * 5000
