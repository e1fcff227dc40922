"""What the sans-I/O core asks its driver to do after a message: the ``Effect`` types.

:meth:`ConnectionCore.receive_frame <spacetimedb_sdk.core.connection.ConnectionCore.receive_frame>`
updates the cache and returns a list of effects, in the order their callbacks must run. The
driver's dispatcher turns each into user callbacks. Effects carry no references to sockets or
threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from spacetimedb_sdk.core.events import Event, ReducerEvent
from spacetimedb_sdk.core.requests import PendingRequest
from spacetimedb_sdk.core.subscription import ClientQuerySet
from spacetimedb_sdk.core.table_cache import TableDelta
from spacetimedb_sdk.errors import SpacetimeDBError
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.timestamp import TimeDuration, Timestamp

__all__ = [
    "Connected",
    "Effect",
    "ProcedureDone",
    "ProtocolViolation",
    "QueryDone",
    "QuerySetApplied",
    "QuerySetEnded",
    "QuerySetFailed",
    "ReducerDone",
    "RequestFailed",
    "RowsChanged",
]


@dataclass(frozen=True, slots=True)
class Connected:
    """``InitialConnection`` arrived: the session is set up (``reconnected`` after a reconnect)."""

    identity: Identity
    connection_id: ConnectionId
    #: The token to keep: ours if we presented one, else the one the server minted.
    token: str
    reconnected: bool = False


@dataclass(frozen=True, slots=True)
class RowsChanged:
    """Run row callbacks for ``deltas`` with ``event`` as the cause."""

    event: Event
    deltas: list[TableDelta]


@dataclass(frozen=True, slots=True)
class QuerySetApplied:
    """A query set was applied (its rows are already in the cache)."""

    query_set: ClientQuerySet


@dataclass(frozen=True, slots=True)
class QuerySetEnded:
    """A query set was unsubscribed."""

    query_set: ClientQuerySet


@dataclass(frozen=True, slots=True)
class QuerySetFailed:
    """A query set failed (``error`` is the server's text, or why the client gave up on it)."""

    query_set: ClientQuerySet
    error: str
    exception: BaseException | None = None


@dataclass(frozen=True, slots=True)
class ReducerDone:
    """One of our reducer calls finished (its rows, if any, were already dispatched)."""

    request: PendingRequest
    reducer_event: ReducerEvent


@dataclass(frozen=True, slots=True)
class ProcedureDone:
    """A procedure call finished: ``value`` when it returned, else ``error``."""

    request: PendingRequest
    value: Any
    error: SpacetimeDBError | None
    timestamp: Timestamp
    duration: TimeDuration


@dataclass(frozen=True, slots=True)
class QueryDone:
    """A one-off query finished: decoded ``rows`` or ``error``."""

    request: PendingRequest
    rows: list[Any] | None
    error: SpacetimeDBError | None


@dataclass(frozen=True, slots=True)
class RequestFailed:
    """A request will never be answered (the connection closed)."""

    request: PendingRequest
    error: SpacetimeDBError


@dataclass(frozen=True, slots=True)
class ProtocolViolation:
    """A frame or message could not be decoded or made no sense; it was skipped."""

    error: SpacetimeDBError


Effect: TypeAlias = (
    Connected
    | RowsChanged
    | QuerySetApplied
    | QuerySetEnded
    | QuerySetFailed
    | ReducerDone
    | ProcedureDone
    | QueryDone
    | RequestFailed
    | ProtocolViolation
)
