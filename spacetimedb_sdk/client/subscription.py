"""Subscriptions: ``conn.subscription_builder().on_applied(...).subscribe(queries)``.

Each ``subscribe`` call is one query set on the server (docs/protocol.md#client-messages); sets may overlap and
their rows are reference-counted in the cache. The returned :class:`SubscriptionHandle`
unsubscribes, reports its state, and can be awaited (``await handle.applied``).

Queries are SQL strings, typed queries (:mod:`spacetimedb_sdk.client.query`), a function of the
query builder returning either, or a list mixing them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from spacetimedb_sdk.client.call_future import CallFuture
from spacetimedb_sdk.client.errors import AlreadyUnsubscribedError, SubscriptionFailedError
from spacetimedb_sdk.client.query import QueryBuilder, SemijoinQuery, TableQuery
from spacetimedb_sdk.core.subscription import ClientQuerySet, QuerySetState
from spacetimedb_sdk.raw_module_def import TableAccess, TableType

if TYPE_CHECKING:
    from spacetimedb_sdk.client.db_connection import DbConnection
    from spacetimedb_sdk.client.events import ErrorContext, SubscriptionEventContext

__all__ = ["QueryLike", "SubscriptionBuilder", "SubscriptionHandle", "all_tables_queries"]

_Single = str | TableQuery | SemijoinQuery
QueryLike = _Single | Sequence[_Single] | Callable[[QueryBuilder], Any]


def _query_strings(queries: QueryLike, builder: QueryBuilder) -> list[str]:
    given: Any = queries
    if callable(given) and not isinstance(given, (str, TableQuery, SemijoinQuery)):
        given = given(builder)
    if isinstance(given, (str, TableQuery, SemijoinQuery)):
        given = [given]
    out: list[str] = []
    for q in given:
        if isinstance(q, str):
            out.append(q)
        elif isinstance(q, (TableQuery, SemijoinQuery)):
            out.append(q.to_sql())
        else:
            raise TypeError(f"not a query: {q!r}")
    if not out:
        raise ValueError("subscribe() needs at least one query")
    return out


def all_tables_queries(conn: DbConnection[Any, Any, Any]) -> list[str]:
    """``SELECT * FROM t`` for every public user table (not event tables) and public view."""
    schema = conn._core.module.schema
    queries = [
        f'SELECT * FROM "{t.name}"'
        for t in schema.tables
        if not t.is_event
        and t.table_access is TableAccess.PUBLIC
        and t.table_type is TableType.USER
    ]
    queries += [f'SELECT * FROM "{v.name}"' for v in schema.views if v.is_public and not v.params]
    return queries


class SubscriptionHandle:
    """One subscribed query set."""

    def __init__(
        self,
        conn: DbConnection[Any, Any, Any],
        queries: tuple[str, ...],
        on_applied: list[Callable[[SubscriptionEventContext], None]],
        on_error: list[Callable[[ErrorContext, Exception], None]],
    ) -> None:
        self._conn = conn
        #: The SQL of each query in the set.
        self.queries = queries
        self._on_applied = on_applied
        self._on_error = on_error
        self._on_end: list[Callable[[SubscriptionEventContext], None]] = []
        self._applied: CallFuture[SubscriptionHandle] = CallFuture(
            conn, f"subscription {list(queries)!r}"
        )
        self._ended: CallFuture[SubscriptionHandle] = CallFuture(
            conn, f"end of subscription {list(queries)!r}"
        )
        self._ended._observed = True  # nobody has to wait for the end
        self._query_set: ClientQuerySet | None = None

    # ------------------------------------------------------------------------------ state
    @property
    def query_set_id(self) -> int:
        """The query set's id on the wire."""
        assert self._query_set is not None
        return self._query_set.id

    @property
    def is_active(self) -> bool:
        """Applied and not (being) unsubscribed."""
        return self._query_set is not None and self._query_set.is_active

    @property
    def is_ended(self) -> bool:
        """Unsubscribed, or failed."""
        return self._query_set is not None and self._query_set.is_ended

    @property
    def error(self) -> str | None:
        """The server's error text, once the set failed."""
        return None if self._query_set is None else self._query_set.error

    @property
    def applied(self) -> CallFuture[SubscriptionHandle]:
        """Completes with this handle when applied; fails with SubscriptionFailedError.

        ``await handle.applied`` in asyncio, ``handle.applied.result(timeout)`` in threads.
        """
        return self._applied

    @property
    def ended(self) -> CallFuture[SubscriptionHandle]:
        """Completes when the set ended (unsubscribed, failed or disconnected)."""
        return self._ended

    # ------------------------------------------------------------------------------ actions
    def unsubscribe(self) -> None:
        """Drop the query set; its rows leave the cache once the server confirms.

        Raises AlreadyUnsubscribedError / AlreadyEndedError when called twice or after the end.
        """
        assert self._query_set is not None
        self._conn._core.unsubscribe(self._query_set)

    def unsubscribe_then(self, on_end: Callable[[SubscriptionEventContext], None]) -> None:
        """:meth:`unsubscribe`, then call ``on_end(ctx)`` when it has ended."""
        self._on_end.append(on_end)
        try:
            self.unsubscribe()
        except Exception:
            self._on_end.remove(on_end)
            raise

    # ------------------------------------------------------------------------------ completion
    def _applied_now(self, ctx: SubscriptionEventContext) -> None:
        for cb in self._on_applied:
            self._conn._invoke("subscription on_applied", cb, ctx)
        self._applied._set_result(ctx, self)

    def _failed_now(self, ctx: ErrorContext, message: str, exc: BaseException | None) -> None:
        error = (
            exc if isinstance(exc, Exception) else SubscriptionFailedError(message, self.queries)
        )
        for cb in self._on_error:
            self._conn._invoke("subscription on_error", cb, ctx, error)
        if self._on_error:
            self._applied._mark_handled()
        elif not self._applied._observed:
            self._applied._mark_handled()  # reported here once, not again by the future
            self._conn._log.warning("subscription %s failed: %s", list(self.queries), message)
        self._applied._set_exception(ctx, error)
        self._ended._set_result(ctx, self)

    def _ended_now(self, ctx: SubscriptionEventContext) -> None:
        for cb in self._on_end:
            self._conn._invoke("subscription on_end", cb, ctx)
        if not self._applied.done():  # cancelled before it was applied: it never will be
            self._applied._mark_handled()
            self._applied._set_exception(
                ctx, AlreadyUnsubscribedError("unsubscribed before the subscription was applied")
            )
        if self._query_set is not None and self._query_set.state is QuerySetState.ENDED:
            self._ended._set_result(ctx, self)

    def __repr__(self) -> str:
        state = "new" if self._query_set is None else self._query_set.state.value
        return f"<SubscriptionHandle {state} {list(self.queries)!r}>"


class SubscriptionBuilder:
    """Configures callbacks, then subscribes."""

    def __init__(self, conn: DbConnection[Any, Any, Any]) -> None:
        self._conn = conn
        self._on_applied: list[Callable[[SubscriptionEventContext], None]] = []
        self._on_error: list[Callable[[ErrorContext, Exception], None]] = []

    def on_applied(
        self, callback: Callable[[SubscriptionEventContext], None]
    ) -> SubscriptionBuilder:
        """Call ``callback(ctx)`` once the set's rows are in the cache (before row callbacks)."""
        self._on_applied.append(callback)
        return self

    def on_error(self, callback: Callable[[ErrorContext, Exception], None]) -> SubscriptionBuilder:
        """Call ``callback(ctx, error)`` if the set is rejected or fails later."""
        self._on_error.append(callback)
        return self

    def subscribe(self, queries: QueryLike) -> SubscriptionHandle:
        """Subscribe to ``queries`` as one query set."""
        strings = _query_strings(queries, self._conn.from_)
        handle = SubscriptionHandle(
            self._conn, tuple(strings), list(self._on_applied), list(self._on_error)
        )
        handle._query_set = self._conn._core.subscribe(strings, handle)
        return handle

    def subscribe_to_all_tables(self) -> SubscriptionHandle:
        """Subscribe to every public table and view of the module, as one query set."""
        return self.subscribe(all_tables_queries(self._conn))
