"""``Address``: the 0.7 name of a connection id (``ConnectionId`` in 2.x)."""

from __future__ import annotations

from spacetimedb_sdk.identity import ConnectionId

__all__ = ["Address"]


class Address(ConnectionId):
    """16 bytes identifying one connection of an identity (2.x calls it ``ConnectionId``).

    It is a :class:`~spacetimedb_sdk.identity.ConnectionId`, so it compares equal to the
    connection ids the modern API hands out. ``Address(data)`` takes the 16 big-endian bytes
    (``.data``), as in 0.7.
    """

    __slots__ = ()

    @staticmethod
    def from_string(string: str) -> Address | None:
        """Parse hex; ``None`` for the all-zero address (which means "no connection")."""
        address = Address(bytes.fromhex(string.removeprefix("0x")))
        return None if address.is_zero() else address

    @staticmethod
    def from_bytes(data: bytes) -> Address:
        """An address from its 16 big-endian bytes (0.7's version raised ``NameError``)."""
        return Address(bytes(data))

    @staticmethod
    def random() -> Address:
        """A random, non-zero address."""
        return Address(ConnectionId.random().value)

    @classmethod
    def of(cls, connection_id: ConnectionId | None) -> Address | None:
        """The address of a connection id (``None`` stays ``None``, zero becomes ``None``)."""
        if connection_id is None or connection_id.is_zero():
            return None
        return cls(connection_id.value)

    def __repr__(self) -> str:
        return f"Address({self.to_hex()!r})"
