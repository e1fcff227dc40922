"""The exception hierarchy of spacetimedb-sdk.

Every error the SDK raises on purpose derives from :class:`SpacetimeDBError`, so a caller can catch
the whole family with one ``except`` clause and still tell the kinds apart.
"""

from __future__ import annotations

__all__ = [
    "BsatnDecodeError",
    "BsatnEncodeError",
    "BsatnError",
    "LimitExceededError",
    "ModuleDefError",
    "ProtocolError",
    "SatsJsonError",
    "SpacetimeDBError",
]


class SpacetimeDBError(Exception):
    """Base class of every error raised by spacetimedb-sdk."""


class BsatnError(SpacetimeDBError):
    """A value could not be encoded to, or decoded from, BSATN."""


class BsatnDecodeError(BsatnError, ValueError):
    """Malformed BSATN input: truncated, trailing bytes, bad tag, bad bool, invalid UTF-8.

    ``offset`` is the byte position in the input where decoding failed (``None`` when unknown).
    """

    def __init__(self, message: str, offset: int | None = None) -> None:
        self.reason = message
        self.offset = offset
        super().__init__(message if offset is None else f"{message} (at byte offset {offset})")


class BsatnEncodeError(BsatnError, ValueError):
    """A Python value does not fit the AlgebraicType it is being encoded as."""


class SatsJsonError(SpacetimeDBError, ValueError):
    """A SATS-JSON document does not match the AlgebraicType it is read as."""


class ProtocolError(SpacetimeDBError):
    """A WebSocket frame or message violates the SpacetimeDB protocol."""


class LimitExceededError(ProtocolError):
    """A server message needs more than a configured limit allows (decompressed size, rows)."""


class ModuleDefError(SpacetimeDBError, ValueError):
    """A module definition is malformed or uses something this SDK cannot represent."""
