"""The errors the client API raises and reports (all derive from ``SpacetimeDBError``).

* :class:`ReducerError` -- a reducer returned an error (``await`` on the call raises it);
* :class:`InternalError` -- a reducer or procedure panicked, or the host refused the call;
* :class:`OneOffQueryError`, :class:`SubscriptionFailedError` -- the server rejected a query;
* :class:`ConnectError` -- connecting failed; :class:`DisconnectedError` -- the connection is
  (or went) down while a request was waiting;
* :class:`CallbackError` -- a user callback raised (reported to ``on_error``, never fatal);
* :class:`MessageProcessingError` -- the client itself failed to apply a server message (a bug):
  reported to ``on_error``, then the connection closes with it;
* :class:`~spacetimedb_sdk.errors.ProtocolError` -- the server sent something undecodable.
"""

from __future__ import annotations

from spacetimedb_sdk.core.errors import (
    AlreadyEndedError,
    AlreadyUnsubscribedError,
    ClientError,
    ConnectError,
    DisconnectedError,
    InternalError,
    OneOffQueryError,
)
from spacetimedb_sdk.errors import ProtocolError, SpacetimeDBError

__all__ = [
    "AlreadyEndedError",
    "AlreadyUnsubscribedError",
    "CallbackError",
    "ClientError",
    "ConnectError",
    "DisconnectedError",
    "InternalError",
    "MessageProcessingError",
    "OneOffQueryError",
    "ProtocolError",
    "ReducerError",
    "SpacetimeDBError",
    "SubscriptionFailedError",
]


class ReducerError(ClientError):
    """The reducer returned an error (a sender error); the transaction was rolled back."""

    def __init__(self, message: str, reducer: str | None = None) -> None:
        self.message = message
        self.reducer = reducer
        super().__init__(message)


class SubscriptionFailedError(ClientError):
    """A query set was rejected by the server, or failed after being applied."""

    def __init__(self, message: str, queries: tuple[str, ...] = ()) -> None:
        self.message = message
        self.queries = queries
        super().__init__(message)


class CallbackError(ClientError):
    """A user callback raised; the original exception is ``__cause__`` (and ``error``)."""

    def __init__(self, callback: str, error: BaseException) -> None:
        self.callback = callback
        self.error = error
        super().__init__(f"{callback} raised {type(error).__name__}: {error}")
        self.__cause__ = error


class MessageProcessingError(ClientError):
    """The client failed to apply a server message (a bug, not the server's fault); the
    original exception is ``__cause__`` (and ``error``). The connection closes with it, as its
    cache may no longer match the server."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        super().__init__(f"applying a server message failed: {type(error).__name__}: {error}")
        self.__cause__ = error
