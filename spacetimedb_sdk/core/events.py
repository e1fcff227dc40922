"""Why rows changed: the ``Event`` variants row callbacks receive, and ``ReducerEvent``.

Every row callback gets a context whose ``event`` says what caused the change
(docs/protocol.md#per-message-effects):

* :class:`Reducer` -- this client's own reducer call committed (``ReducerResult``); carries a
  :class:`ReducerEvent` with the reducer's name and the arguments the call was made with. Other
  clients' reducers are never named by the server (protocol v2).
* :class:`Transaction` -- any other transaction (other clients, scheduled reducers, HTTP calls,
  SQL, procedures).
* :class:`SubscribeApplied` / :class:`UnsubscribeApplied` -- rows arriving with a query set or
  leaving with it; :class:`SubscribeApplied` is also the cause of the corrections made when a
  connection is re-established and its subscriptions are replayed.
* :class:`SubscribeError` -- rows dropped because an applied query set failed on the server.
* :class:`Disconnected` -- the connection closed. It exists for symmetry with the other SDKs:
  the cache is kept on disconnect (and reconciled on reconnect), so no row callback carries it
  today; ``on_disconnect`` receives an ``ErrorContext`` whose ``event`` is the error.

These are plain data, shared by the sans-I/O core and the API layer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, ClassVar

from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.timestamp import Timestamp

__all__ = [
    "Disconnected",
    "Event",
    "Reducer",
    "ReducerEvent",
    "ReducerStatus",
    "SubscribeApplied",
    "SubscribeError",
    "Transaction",
    "UnsubscribeApplied",
]


class ReducerStatus(enum.Enum):
    """How a reducer call ended."""

    #: The transaction committed.
    COMMITTED = "committed"
    #: The reducer returned an error (a "sender error"); nothing was committed.
    FAILED = "failed"
    #: The reducer panicked, ran out of energy, did not exist or got bad arguments.
    INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True, slots=True)
class ReducerEvent:
    """The outcome of one of this client's own reducer calls."""

    #: When the reducer started (the server's clock).
    timestamp: Timestamp
    status: ReducerStatus
    #: The reducer's canonical name.
    reducer: str
    #: The arguments the call was made with, as passed.
    args: tuple[Any, ...]
    #: The error text for ``FAILED`` and ``INTERNAL_ERROR``.
    error: str | None
    request_id: int
    #: This client's identity and connection id (the caller).
    caller_identity: Identity | None
    caller_connection_id: ConnectionId | None
    #: The decoded return value, when the reducer declares one and sent it.
    return_value: Any = None

    @property
    def committed(self) -> bool:
        """True when the call committed."""
        return self.status is ReducerStatus.COMMITTED


class Event:
    """Base class of the event variants; ``kind`` names the variant."""

    __slots__ = ()
    kind: ClassVar[str] = "event"


@dataclass(frozen=True, slots=True)
class Reducer(Event):
    """Rows changed because this client's reducer call committed."""

    reducer_event: ReducerEvent
    kind: ClassVar[str] = "reducer"


@dataclass(frozen=True, slots=True)
class Transaction(Event):
    """Rows changed in a transaction this client did not initiate."""

    kind: ClassVar[str] = "transaction"


@dataclass(frozen=True, slots=True)
class SubscribeApplied(Event):
    """Rows arrived because a query set was applied (or replayed after a reconnect)."""

    kind: ClassVar[str] = "subscribe_applied"


@dataclass(frozen=True, slots=True)
class UnsubscribeApplied(Event):
    """Rows left because a query set was unsubscribed."""

    kind: ClassVar[str] = "unsubscribe_applied"


@dataclass(frozen=True, slots=True)
class SubscribeError(Event):
    """Rows left (or nothing happened) because a query set failed."""

    error: str
    kind: ClassVar[str] = "subscribe_error"


@dataclass(frozen=True, slots=True)
class Disconnected(Event):
    """The connection closed; ``error`` is why, when it was not requested."""

    error: BaseException | None = None
    kind: ClassVar[str] = "disconnected"


#: Shared instances of the payload-free variants.
TRANSACTION = Transaction()
SUBSCRIBE_APPLIED = SubscribeApplied()
UNSUBSCRIBE_APPLIED = UnsubscribeApplied()
