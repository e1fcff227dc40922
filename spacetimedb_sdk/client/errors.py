"""The errors the client API raises and reports (all derive from ``SpacetimeDBError``).

* :class:`ReducerError` -- a reducer returned an error (``await`` on the call raises it);
* :class:`InternalError` -- a reducer or procedure panicked, or the host refused the call;
* :class:`OneOffQueryError`, :class:`SubscriptionFailedError` -- the server rejected a query;
* :class:`ConnectError` -- connecting failed; :class:`DisconnectedError` -- the connection is
  (or went) down while a request was waiting;
* :class:`CallbackError` -- a user callback raised (reported to ``on_error``, never fatal);
* :class:`~spacetimedb_sdk.errors.ProtocolError` -- the server sent something undecodable.
"""

from spacetimedb_sdk.core.errors import (
    AlreadyEndedError,
    AlreadyUnsubscribedError,
    CallbackError,
    ClientError,
    ConnectError,
    DisconnectedError,
    InternalError,
    OneOffQueryError,
    ReducerError,
    SubscriptionFailedError,
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
    "OneOffQueryError",
    "ProtocolError",
    "ReducerError",
    "SpacetimeDBError",
    "SubscriptionFailedError",
]
