"""The errors the sans-I/O core raises or reports (re-exported by
:mod:`spacetimedb_sdk.client.errors`, which adds the API's own).

Everything derives from :class:`~spacetimedb_sdk.errors.SpacetimeDBError`.
"""

from __future__ import annotations

from spacetimedb_sdk.errors import SpacetimeDBError

__all__ = [
    "AlreadyEndedError",
    "AlreadyUnsubscribedError",
    "ClientError",
    "ConnectError",
    "DisconnectedError",
    "InternalError",
    "OneOffQueryError",
]


class ClientError(SpacetimeDBError):
    """Base class of the client runtime's errors."""


class InternalError(ClientError):
    """The host failed: a reducer or procedure panicked, ran out of energy, did not exist, ..."""

    def __init__(self, message: str, name: str | None = None) -> None:
        self.message = message
        self.name = name
        super().__init__(message)


class OneOffQueryError(ClientError):
    """The server rejected a one-off query."""

    def __init__(self, message: str, query: str | None = None) -> None:
        self.message = message
        self.query = query
        super().__init__(message)


class ConnectError(ClientError):
    """Connecting failed: refused, bad credentials (``status``), or closed before it was set up."""

    def __init__(self, message: str, status: int | None = None, body: str | None = None) -> None:
        self.message = message
        self.status = status
        self.body = body
        super().__init__(message)


class DisconnectedError(ClientError):
    """The connection is closed (or closed while a request was waiting for its answer)."""


class AlreadyEndedError(ClientError):
    """The subscription has already ended (unsubscribed or failed)."""


class AlreadyUnsubscribedError(ClientError):
    """``unsubscribe`` was already called on this subscription."""
