"""Event contexts: the first argument of every callback, and the ``Event`` variants.

A context gives access to the connection (``db``, ``reducers``, ``procedures``, ``identity``,
``disconnect()``, ``subscription_builder()``, ...) plus what happened:

* :class:`EventContext` (row callbacks): ``event`` is one of the variants :class:`Reducer`,
  :class:`Transaction`, :class:`SubscribeApplied`, :class:`UnsubscribeApplied`,
  :class:`SubscribeError`, :class:`Disconnected`;
* :class:`ReducerEventContext` (a reducer call's completion): ``event`` is a
  :class:`ReducerEvent`;
* :class:`SubscriptionEventContext` (subscription applied / ended): no event;
* :class:`ErrorContext` (errors, disconnects): ``event`` is the error, or None;
* :class:`ProcedureEventContext` (a procedure call's completion): ``event`` is a
  :class:`ProcedureEvent`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from spacetimedb_sdk.core.events import (
    Disconnected,
    Event,
    Reducer,
    ReducerEvent,
    ReducerStatus,
    SubscribeApplied,
    SubscribeError,
    Transaction,
    UnsubscribeApplied,
)
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.timestamp import TimeDuration, Timestamp

if TYPE_CHECKING:
    from spacetimedb_sdk.client.db_connection import DbConnection
    from spacetimedb_sdk.client.query import QueryBuilder
    from spacetimedb_sdk.client.subscription import SubscriptionBuilder

__all__ = [
    "DbContext",
    "Disconnected",
    "ErrorContext",
    "Event",
    "EventContext",
    "ProcedureEvent",
    "ProcedureEventContext",
    "Reducer",
    "ReducerEvent",
    "ReducerEventContext",
    "ReducerStatus",
    "SubscribeApplied",
    "SubscribeError",
    "SubscriptionEventContext",
    "Transaction",
    "UnsubscribeApplied",
]

E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class ProcedureEvent:
    """When a procedure call was answered and how long the host spent on it."""

    procedure: str
    args: tuple[Any, ...]
    timestamp: Timestamp
    total_host_execution_duration: TimeDuration
    request_id: int


class DbContext:
    """What every context offers: the connection's tables, reducers and procedures."""

    __slots__ = ("_conn",)

    def __init__(self, conn: DbConnection[Any, Any, Any]) -> None:
        self._conn = conn

    @property
    def connection(self) -> DbConnection[Any, Any, Any]:
        """The connection this context belongs to."""
        return self._conn

    @property
    def db(self) -> Any:
        """The connection's table handles (``ctx.db.user``)."""
        return self._conn.db

    @property
    def reducers(self) -> Any:
        """The connection's reducers (``ctx.reducers.set_name(...)``)."""
        return self._conn.reducers

    @property
    def procedures(self) -> Any:
        """The connection's procedures."""
        return self._conn.procedures

    @property
    def identity(self) -> Identity | None:
        """This client's identity (None until connected)."""
        return self._conn.identity

    @property
    def connection_id(self) -> ConnectionId | None:
        """This connection's id (None until connected)."""
        return self._conn.connection_id

    @property
    def is_active(self) -> bool:
        """True while the connection is up."""
        return self._conn.is_active

    def disconnect(self) -> None:
        """Close the connection."""
        self._conn.disconnect()

    def subscription_builder(self) -> SubscriptionBuilder:
        """Start building a subscription on this connection."""
        return self._conn.subscription_builder()

    @property
    def from_(self) -> QueryBuilder:
        """Typed query builder (``ctx.from_.user.where(...)``)."""
        return self._conn.from_


class _EventfulContext(DbContext, Generic[E]):
    __slots__ = ("event",)

    def __init__(self, conn: DbConnection[Any, Any, Any], event: E) -> None:
        super().__init__(conn)
        #: What happened.
        self.event = event

    def __repr__(self) -> str:
        return f"{type(self).__name__}(event={self.event!r})"


class EventContext(_EventfulContext[Event]):
    """The context of row callbacks; ``event`` says why the rows changed."""

    __slots__ = ()


class ReducerEventContext(_EventfulContext[ReducerEvent]):
    """The context of a reducer call's completion; ``event`` is its :class:`ReducerEvent`."""

    __slots__ = ()


class ProcedureEventContext(_EventfulContext[ProcedureEvent]):
    """The context of a procedure call's completion."""

    __slots__ = ()


class ErrorContext(_EventfulContext["BaseException | None"]):
    """The context of error and disconnect callbacks; ``event`` is the error (or None)."""

    __slots__ = ()


class SubscriptionEventContext(DbContext):
    """The context of subscription applied/ended callbacks."""

    __slots__ = ()
