"""``Identity`` (who someone is) and ``ConnectionId`` (one of their connections)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["ConnectionId", "Identity"]


def _parse_hex(text: str, digits: int, what: str) -> int:
    body = text[2:] if text[:2] in ("0x", "0X") else text
    if not body or len(body) > digits:
        raise ValueError(f"{what} hex must have 1 to {digits} hex digits, got {text!r}")
    try:
        return int(body, 16)
    except ValueError:
        raise ValueError(f"{what} hex is not hexadecimal: {text!r}") from None


class _UnsignedId:
    """What Identity and ConnectionId share: an unsigned integer of ``_BYTES`` bytes, written
    as big-endian hex (and ``.data`` bytes) and carried little-endian in BSATN. Instances of
    the two kinds never compare equal."""

    __slots__ = ("_value",)
    #: Set by each kind: its width, its name in messages, and the class equality is checked by.
    _BYTES: ClassVar[int]
    _NAME: ClassVar[str]
    _KIND: ClassVar[type[_UnsignedId]]

    def __init__(self, value: int | bytes | str) -> None:
        size, name = self._BYTES, self._NAME
        if isinstance(value, int):
            if not 0 <= value < 1 << (8 * size):
                raise ValueError(f"{name} must be a u{8 * size}")
            self._value = value
        elif isinstance(value, (bytes, bytearray, memoryview)):
            raw = bytes(value)
            if len(raw) != size:
                raise ValueError(f"{name} needs {size} bytes, got {len(raw)}")
            # Bytes given directly are the big-endian form (the 0.7 SDK's ``.data``).
            self._value = int.from_bytes(raw, "big")
        elif isinstance(value, str):
            self._value = _parse_hex(value, 2 * size, name)
        else:
            raise TypeError(f"cannot make {_article(name)} {name} from {type(value).__name__}")

    @classmethod
    def from_hex(cls, text: str) -> Self:
        """Parse the hex form (an optional ``0x`` prefix and either case are accepted)."""
        return cls(_parse_hex(text, 2 * cls._BYTES, cls._NAME))

    @classmethod
    def from_bsatn_bytes(cls, data: bytes) -> Self:
        """Build from the little-endian bytes used on the wire."""
        if len(data) != cls._BYTES:
            raise ValueError(f"{cls._NAME} needs {cls._BYTES} bytes, got {len(data)}")
        return cls(int.from_bytes(data, "little"))

    @classmethod
    def zero(cls) -> Self:
        """The all-zero value."""
        return cls(0)

    @property
    def value(self) -> int:
        """The value as an integer."""
        return self._value

    @property
    def data(self) -> bytes:
        """The big-endian bytes (the byte form of the hex string)."""
        return self._value.to_bytes(self._BYTES, "big")

    def to_bsatn_bytes(self) -> bytes:
        """The little-endian bytes used on the wire."""
        return self._value.to_bytes(self._BYTES, "little")

    def to_hex(self) -> str:
        """Lowercase hex digits, big-endian, no prefix (64 for an Identity, 32 otherwise)."""
        return f"{self._value:0{2 * self._BYTES}x}"

    def to_abbreviated_hex(self) -> str:
        """The first 16 hex digits, as the CLI and official SDKs abbreviate them."""
        return self.to_hex()[:16]

    def __str__(self) -> str:
        return self.to_hex()

    def __repr__(self) -> str:
        return f"{self._NAME}({self.to_hex()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, self._KIND) and other._value == self._value

    def __lt__(self, other: Self) -> bool:
        if not isinstance(other, self._KIND):
            return NotImplemented
        return self._value < other._value

    def __le__(self, other: Self) -> bool:
        if not isinstance(other, self._KIND):
            return NotImplemented
        return self._value <= other._value

    def __gt__(self, other: Self) -> bool:
        if not isinstance(other, self._KIND):
            return NotImplemented
        return self._value > other._value

    def __ge__(self, other: Self) -> bool:
        if not isinstance(other, self._KIND):
            return NotImplemented
        return self._value >= other._value

    def __hash__(self) -> int:
        return hash((self._KIND, self._value))


def _article(name: str) -> str:
    return "an" if name[0] in "AEIOU" else "a"


class Identity(_UnsignedId):
    """A SpacetimeDB identity: a 256-bit unsigned integer.

    Its text form (``str()``, HTTP paths, JWT ``hex_identity``) is 64 lowercase hex digits,
    big-endian. On the wire (BSATN) the same number is little-endian, i.e. the bytes reversed.
    Identities are immutable, hashable and ordered by their numeric value.
    """

    __slots__ = ()
    _BYTES = 32
    _NAME = "Identity"

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

    def __bytes__(self) -> bytes:
        return self.data


class ConnectionId(_UnsignedId):
    """One client connection: a 128-bit unsigned integer; zero means "no connection".

    Text form: 32 lowercase hex digits, big-endian; BSATN: the same number little-endian.
    """

    __slots__ = ()
    _BYTES = 16
    _NAME = "ConnectionId"

    @classmethod
    def random(cls) -> ConnectionId:
        """A fresh random, non-zero connection id."""
        while True:
            value = int.from_bytes(os.urandom(16), "big")
            if value:
                return cls(value)

    def is_zero(self) -> bool:
        """True for the sentinel that means "no connection"."""
        return self._value == 0

    def __bool__(self) -> bool:
        return self._value != 0


Identity._KIND = Identity
ConnectionId._KIND = ConnectionId
