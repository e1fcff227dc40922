"""``Identity`` (who someone is) and ``ConnectionId`` (one of their connections)."""

from __future__ import annotations

import os
from functools import total_ordering
from typing import Final

__all__ = ["ConnectionId", "Identity"]

_U256_MAX: Final = (1 << 256) - 1
_U128_MAX: Final = (1 << 128) - 1


def _parse_hex(text: str, digits: int, what: str) -> int:
    body = text[2:] if text[:2] in ("0x", "0X") else text
    if not body or len(body) > digits:
        raise ValueError(f"{what} hex must have 1 to {digits} hex digits, got {text!r}")
    try:
        return int(body, 16)
    except ValueError:
        raise ValueError(f"{what} hex is not hexadecimal: {text!r}") from None


@total_ordering
class Identity:
    """A SpacetimeDB identity: a 256-bit unsigned integer.

    Its text form (``str()``, HTTP paths, JWT ``hex_identity``) is 64 lowercase hex digits,
    big-endian. On the wire (BSATN) the same number is little-endian, i.e. the bytes reversed.
    Identities are immutable, hashable and ordered by their numeric value.
    """

    __slots__ = ("_value",)

    def __init__(self, value: int | bytes | str) -> None:
        if isinstance(value, int):
            if not 0 <= value <= _U256_MAX:
                raise ValueError("Identity must be a u256")
            self._value = value
        elif isinstance(value, (bytes, bytearray, memoryview)):
            raw = bytes(value)
            if len(raw) != 32:
                raise ValueError(f"Identity needs 32 bytes, got {len(raw)}")
            # Bytes given directly are the big-endian form, as the 0.7 SDK's ``Identity.data``.
            self._value = int.from_bytes(raw, "big")
        elif isinstance(value, str):
            self._value = _parse_hex(value, 64, "Identity")
        else:
            raise TypeError(f"cannot make an Identity from {type(value).__name__}")

    @classmethod
    def from_hex(cls, text: str) -> Identity:
        """Parse 64 hex digits (an optional ``0x`` prefix and either case are accepted)."""
        return cls(_parse_hex(text, 64, "Identity"))

    @classmethod
    def from_bsatn_bytes(cls, data: bytes) -> Identity:
        """Build from the 32 little-endian bytes used on the wire."""
        if len(data) != 32:
            raise ValueError(f"Identity needs 32 bytes, got {len(data)}")
        return cls(int.from_bytes(data, "little"))

    @classmethod
    def from_be_bytes(cls, data: bytes) -> Identity:
        """Build from 32 big-endian bytes (the byte form of the hex string)."""
        return cls(bytes(data))

    # 0.7 SDK compatibility: Identity.from_string / Identity.from_bytes / .data.
    @classmethod
    def from_string(cls, text: str) -> Identity:
        """Alias of :meth:`from_hex` kept for code written against the 0.7 SDK."""
        return cls.from_hex(text)

    @classmethod
    def from_bytes(cls, data: bytes) -> Identity:
        """Build from 32 big-endian bytes (0.7 SDK compatible)."""
        return cls(bytes(data))

    @classmethod
    def zero(cls) -> Identity:
        """The all-zero identity."""
        return cls(0)

    @property
    def value(self) -> int:
        """The identity as an integer."""
        return self._value

    @property
    def data(self) -> bytes:
        """The 32 big-endian bytes (what the 0.7 SDK exposed as ``Identity.data``)."""
        return self._value.to_bytes(32, "big")

    def to_bsatn_bytes(self) -> bytes:
        """The 32 little-endian bytes used on the wire."""
        return self._value.to_bytes(32, "little")

    def to_hex(self) -> str:
        """64 lowercase hex digits, big-endian, no prefix."""
        return f"{self._value:064x}"

    def to_abbreviated_hex(self) -> str:
        """The first 16 hex digits, as the CLI and official SDKs abbreviate identities."""
        return self.to_hex()[:16]

    def __str__(self) -> str:
        return self.to_hex()

    def __repr__(self) -> str:
        return f"Identity({self.to_hex()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Identity) and other._value == self._value

    def __lt__(self, other: Identity) -> bool:
        if not isinstance(other, Identity):
            return NotImplemented
        return self._value < other._value

    def __hash__(self) -> int:
        return hash((Identity, self._value))

    def __bytes__(self) -> bytes:
        return self.data


@total_ordering
class ConnectionId:
    """One client connection: a 128-bit unsigned integer; zero means "no connection".

    Text form: 32 lowercase hex digits, big-endian; BSATN: the same number little-endian.
    """

    __slots__ = ("_value",)

    def __init__(self, value: int | bytes | str) -> None:
        if isinstance(value, int):
            if not 0 <= value <= _U128_MAX:
                raise ValueError("ConnectionId must be a u128")
            self._value = value
        elif isinstance(value, (bytes, bytearray, memoryview)):
            raw = bytes(value)
            if len(raw) != 16:
                raise ValueError(f"ConnectionId needs 16 bytes, got {len(raw)}")
            self._value = int.from_bytes(raw, "big")
        elif isinstance(value, str):
            self._value = _parse_hex(value, 32, "ConnectionId")
        else:
            raise TypeError(f"cannot make a ConnectionId from {type(value).__name__}")

    @classmethod
    def from_hex(cls, text: str) -> ConnectionId:
        """Parse up to 32 hex digits (optional ``0x`` prefix)."""
        return cls(_parse_hex(text, 32, "ConnectionId"))

    @classmethod
    def from_bsatn_bytes(cls, data: bytes) -> ConnectionId:
        """Build from the 16 little-endian bytes used on the wire."""
        if len(data) != 16:
            raise ValueError(f"ConnectionId needs 16 bytes, got {len(data)}")
        return cls(int.from_bytes(data, "little"))

    @classmethod
    def random(cls) -> ConnectionId:
        """A fresh random, non-zero connection id."""
        while True:
            value = int.from_bytes(os.urandom(16), "big")
            if value:
                return cls(value)

    @classmethod
    def zero(cls) -> ConnectionId:
        """The all-zero sentinel meaning "none"."""
        return cls(0)

    @property
    def value(self) -> int:
        """The connection id as an integer."""
        return self._value

    @property
    def data(self) -> bytes:
        """The 16 big-endian bytes."""
        return self._value.to_bytes(16, "big")

    def is_zero(self) -> bool:
        """True for the sentinel that means "no connection"."""
        return self._value == 0

    def to_bsatn_bytes(self) -> bytes:
        """The 16 little-endian bytes used on the wire."""
        return self._value.to_bytes(16, "little")

    def to_hex(self) -> str:
        """32 lowercase hex digits, big-endian, no prefix."""
        return f"{self._value:032x}"

    def to_abbreviated_hex(self) -> str:
        """The first 16 hex digits."""
        return self.to_hex()[:16]

    def __str__(self) -> str:
        return self.to_hex()

    def __repr__(self) -> str:
        return f"ConnectionId({self.to_hex()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConnectionId) and other._value == self._value

    def __lt__(self, other: ConnectionId) -> bool:
        if not isinstance(other, ConnectionId):
            return NotImplemented
        return self._value < other._value

    def __hash__(self) -> int:
        return hash((ConnectionId, self._value))

    def __bool__(self) -> bool:
        return self._value != 0
