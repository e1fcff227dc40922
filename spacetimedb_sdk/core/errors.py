"""The errors of the client runtime (re-exported by :mod:`spacetimedb_sdk.client.errors`).

Everything derives from :class:`~spacetimedb_sdk.errors.SpacetimeDBError`.
"""

from __future__ import annotations

from spacetimedb_sdk.errors import SpacetimeDBError

__all__ = [
    "AlreadyEndedError",
    "AlreadyUnsubscribedError",
    "CallbackError",
    "ClientError",
    "ConnectError",
    "DisconnectedError",
    "InternalError",
    "OneOffQueryError",
    "ReducerError",
    "SubscriptionFailedError",
]


class ClientError(SpacetimeDBError):
    """Base class of the client runtime's errors."""


class ReducerError(ClientError):
    """The reducer returned an error (a sender error); the transaction was rolled back."""

    def __init__(self, message: str, reducer: str | None = None) -> None:
        self.message = message
        self.reducer = reducer
        super().__init__(message)


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


class SubscriptionFailedError(ClientError):
    """A query set was rejected by the server, or failed after being applied."""

    def __init__(self, message: str, queries: tuple[str, ...] = ()) -> None:
        self.message = message
        self.queries = queries
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


class CallbackError(ClientError):
    """A user callback raised; the original exception is ``__cause__`` (and ``error``)."""

    def __init__(self, callback: str, error: BaseException) -> None:
        self.callback = callback
        self.error = error
        super().__init__(f"{callback} raised {type(error).__name__}: {error}")
        self.__cause__ = error
