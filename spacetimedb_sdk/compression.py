"""The compression envelope of server→client binary messages (docs/protocol.md#compression-envelope).

Every binary message from the server is one tag byte followed by the body: ``0`` raw, ``1`` a raw
Brotli stream, ``2`` a gzip member. The server compresses only bodies larger than 1024 bytes, so a
client must handle tag ``0`` whatever it asked for. Client→server messages have no envelope.
"""

from __future__ import annotations

import enum
import zlib
from typing import Final

import brotli

from spacetimedb_sdk.errors import LimitExceededError, ProtocolError

__all__ = [
    "COMPRESSION_THRESHOLD",
    "DEFAULT_MAX_DECOMPRESSED_SIZE",
    "TAG_BROTLI",
    "TAG_GZIP",
    "TAG_NONE",
    "Compression",
    "compress_server_payload",
    "decompress_server_frame",
]

TAG_NONE: Final = 0
TAG_BROTLI: Final = 1
TAG_GZIP: Final = 2

#: The server compresses a body only when it is larger than this many bytes.
COMPRESSION_THRESHOLD: Final = 1024
#: Default cap on a decompressed body, so a tiny hostile frame cannot exhaust memory.
DEFAULT_MAX_DECOMPRESSED_SIZE: Final = 256 * 1024 * 1024

# Output is produced in steps of about this size so the size cap is checked as it grows.
_STEP = 1024 * 1024
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS


class Compression(enum.Enum):
    """The ``compression=`` query parameter; the value is its exact (case-sensitive) spelling."""

    NONE = "None"
    GZIP = "Gzip"
    BROTLI = "Brotli"

    @property
    def tag(self) -> int:
        """The envelope tag byte of a body compressed this way."""
        return _TAGS[self]


_TAGS: Final = {
    Compression.NONE: TAG_NONE,
    Compression.BROTLI: TAG_BROTLI,
    Compression.GZIP: TAG_GZIP,
}


def decompress_server_frame(
    frame: bytes | bytearray | memoryview,
    max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE,
) -> bytes:
    """Strip the tag byte of a server binary message and return the (decompressed) body.

    Raises :class:`~spacetimedb_sdk.errors.ProtocolError` for an empty frame, an unknown tag,
    corrupt or truncated compressed data, or a compressed body that inflates past
    ``max_decompressed_size`` bytes.
    """
    if not len(frame):
        raise ProtocolError("empty server message: the compression tag byte is missing")
    tag = frame[0]
    body = memoryview(frame)[1:]
    if tag == TAG_NONE:
        return bytes(body)
    if tag == TAG_GZIP:
        return _gunzip(body, max_decompressed_size)
    if tag == TAG_BROTLI:
        return _unbrotli(body, max_decompressed_size)
    raise ProtocolError(f"unknown compression tag {tag} (expected 0 none, 1 brotli or 2 gzip)")


def compress_server_payload(
    payload: bytes | bytearray | memoryview,
    compression: Compression,
    threshold: int = COMPRESSION_THRESHOLD,
) -> bytes:
    """Wrap a server body in the envelope the way the server does (server side / test server).

    The body is compressed only when it is longer than ``threshold`` bytes and compression was
    requested: Brotli at quality 1, gzip at level 1 (the server's fastest settings).
    """
    data = bytes(payload)
    if compression is Compression.NONE or len(data) <= threshold:
        return bytes((TAG_NONE,)) + data
    if compression is Compression.BROTLI:
        compressed: bytes = brotli.compress(data, quality=1)
        return bytes((TAG_BROTLI,)) + compressed
    if compression is Compression.GZIP:
        compressor = zlib.compressobj(1, zlib.DEFLATED, _GZIP_WBITS)
        return bytes((TAG_GZIP,)) + compressor.compress(data) + compressor.flush()
    raise ValueError(f"not a Compression: {compression!r}")


def _too_big(limit: int) -> LimitExceededError:
    return LimitExceededError(f"decompressed server message exceeds the {limit}-byte limit")


def _gunzip(body: memoryview, limit: int) -> bytes:
    out = bytearray()
    data: bytes | memoryview = body
    # A gzip stream may hold several members back to back; decode them all, as gzip does.
    while True:
        decomp = zlib.decompressobj(_GZIP_WBITS)
        try:
            out += decomp.decompress(data, limit - len(out) + 1)
            while decomp.unconsumed_tail and len(out) <= limit:
                out += decomp.decompress(decomp.unconsumed_tail, limit - len(out) + 1)
        except zlib.error as exc:
            raise ProtocolError(f"corrupt gzip data in server message: {exc}") from None
        if len(out) > limit:
            raise _too_big(limit)
        if not decomp.eof:
            raise ProtocolError("truncated gzip data in server message")
        data = decomp.unused_data
        if not data:
            return bytes(out)


def _unbrotli(body: memoryview, limit: int) -> bytes:
    if not len(body):
        raise ProtocolError("empty brotli data in server message")
    decomp = brotli.Decompressor()
    out = bytearray()
    try:
        if not hasattr(decomp, "can_accept_more_data"):  # brotli < 1.2: no output cap
            out += decomp.process(bytes(body))
        else:
            # The whole input goes in with the first call; with an output cap the decoder keeps
            # what it could not emit yet, and each further call with empty input yields the next
            # chunk. An empty chunk before the end means the stream needs input it never got.
            chunk = decomp.process(body, output_buffer_limit=_STEP)
            while chunk:
                out += chunk
                if len(out) > limit or decomp.is_finished():
                    break
                chunk = decomp.process(b"", output_buffer_limit=_STEP)
    except brotli.error as exc:
        raise ProtocolError(f"corrupt brotli data in server message: {exc}") from None
    if len(out) > limit:
        raise _too_big(limit)
    if not decomp.is_finished():
        raise ProtocolError("truncated brotli data in server message")
    return bytes(out)
