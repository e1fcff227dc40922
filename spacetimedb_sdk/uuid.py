"""``Uuid``: an RFC 4122 UUID stored as a u128 (the canonical bytes read big-endian)."""

from __future__ import annotations

import uuid as _uuid
from functools import total_ordering

__all__ = ["Uuid"]


@total_ordering
class Uuid:
    """A UUID column value; interoperates with :class:`uuid.UUID`.

    On the wire it is the u128 of the canonical 16 bytes read big-endian, encoded little-endian,
    so the BSATN bytes are the canonical bytes reversed.
    """

    __slots__ = ("_value",)

    def __init__(self, value: int | str | _uuid.UUID) -> None:
        if isinstance(value, _uuid.UUID):
            self._value = value.int
        elif isinstance(value, str):
            self._value = _uuid.UUID(value).int
        elif isinstance(value, int) and not isinstance(value, bool):
            if not 0 <= value < (1 << 128):
                raise ValueError("Uuid must be a u128")
            self._value = value
        else:
            raise TypeError(f"cannot make a Uuid from {type(value).__name__}")

    @classmethod
    def nil(cls) -> Uuid:
        """The all-zero UUID."""
        return cls(0)

    @classmethod
    def random_v4(cls) -> Uuid:
        """A random (version 4) UUID."""
        return cls(_uuid.uuid4())

    @property
    def value(self) -> int:
        """The u128 value."""
        return self._value

    def to_uuid(self) -> _uuid.UUID:
        """Convert to the standard library's :class:`uuid.UUID`."""
        return _uuid.UUID(int=self._value)

    def __str__(self) -> str:
        return str(self.to_uuid())

    def __repr__(self) -> str:
        return f"Uuid({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _uuid.UUID):
            return other.int == self._value
        return isinstance(other, Uuid) and other._value == self._value

    def __lt__(self, other: Uuid) -> bool:
        if not isinstance(other, Uuid):
            return NotImplemented
        return self._value < other._value

    def __hash__(self) -> int:
        return hash(self.to_uuid())
