"""The sans-I/O core of the client: connection state machine and client cache.

Bytes in, effects out; no sockets, no threads. See :class:`ConnectionCore`.
"""

from spacetimedb_sdk.core.connection import ConnectionCore, ConnectionState

__all__ = ["ConnectionCore", "ConnectionState"]
