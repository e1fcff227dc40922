"""Turning the core's effects into user callbacks, in order, on the callback thread.

Per message: subscription callbacks (``on_applied`` / ``on_end`` / ``on_error``), then row
callbacks table by table (inserts, then deletes, then updates, each in delivery order), then the
completion of the reducer call the message answers. Rows are decoded only for tables that have
row callbacks. A callback that raises is logged and reported to the connection's ``on_error``
handlers as a :class:`~spacetimedb_sdk.client.errors.CallbackError`; the next callback runs.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from spacetimedb_sdk.client.events import (
    ErrorContext,
    EventContext,
    ProcedureEvent,
    ProcedureEventContext,
    ReducerEventContext,
    SubscriptionEventContext,
)
from spacetimedb_sdk.core.effects import (
    Connected,
    Effect,
    ProcedureDone,
    ProtocolViolation,
    QueryDone,
    ReducerDone,
    RequestFailed,
    RowsChanged,
    SubscriptionApplied,
    SubscriptionEnded,
    SubscriptionFailed,
)
from spacetimedb_sdk.core.table_cache import TableDelta
from spacetimedb_sdk.errors import BsatnDecodeError, ProtocolError

if TYPE_CHECKING:
    from spacetimedb_sdk.client.db_connection import DbConnection

__all__ = ["dispatch_effects"]


def dispatch_effects(conn: DbConnection[Any, Any, Any], effects: list[Effect]) -> None:
    """Run the callbacks of ``effects`` (on the calling thread, which must be the callback one)."""
    for effect in effects:
        kind = type(effect)
        if kind is RowsChanged:
            assert isinstance(effect, RowsChanged)
            _rows_changed(conn, effect)
        elif kind is ReducerDone:
            assert isinstance(effect, ReducerDone)
            _reducer_done(conn, effect)
        elif kind is SubscriptionApplied:
            assert isinstance(effect, SubscriptionApplied)
            handle = effect.query_set.owner
            if handle is not None:
                handle._applied_now(SubscriptionEventContext(conn))
        elif kind is SubscriptionEnded:
            assert isinstance(effect, SubscriptionEnded)
            handle = effect.query_set.owner
            if handle is not None:
                handle._ended_now(SubscriptionEventContext(conn))
        elif kind is SubscriptionFailed:
            assert isinstance(effect, SubscriptionFailed)
            handle = effect.query_set.owner
            if handle is not None:
                error_ctx = ErrorContext(conn, effect.exception)
                handle._failed_now(error_ctx, effect.error, effect.exception)
        elif kind is ProcedureDone:
            assert isinstance(effect, ProcedureDone)
            request = effect.request
            pctx = ProcedureEventContext(
                conn,
                ProcedureEvent(
                    request.name,
                    request.args,
                    effect.timestamp,
                    effect.duration,
                    request.request_id,
                ),
            )
            if effect.error is None:
                request.owner._set_result(pctx, effect.value)
            else:
                request.owner._set_exception(pctx, effect.error)
        elif kind is QueryDone:
            assert isinstance(effect, QueryDone)
            qctx = ErrorContext(conn, effect.error)
            if effect.error is None:
                effect.request.owner._set_result(qctx, effect.rows)
            else:
                effect.request.owner._set_exception(qctx, effect.error)
        elif kind is RequestFailed:
            assert isinstance(effect, RequestFailed)
            if effect.request.owner is not None:
                effect.request.owner._set_exception(ErrorContext(conn, effect.error), effect.error)
        elif kind is Connected:
            assert isinstance(effect, Connected)
            conn._connected(effect)
        elif kind is ProtocolViolation:
            assert isinstance(effect, ProtocolViolation)
            conn._report_error(effect.error, "protocol error")


def _rows_changed(conn: DbConnection[Any, Any, Any], effect: RowsChanged) -> None:
    ctx: EventContext | None = None
    callbacks = conn._table_callback_map
    for delta in effect.deltas:
        registered = callbacks.get(delta.name)
        if not registered:
            continue  # nobody listens: the rows are never decoded here
        if ctx is None:
            ctx = EventContext(conn, effect.event)
        _table_callbacks(conn, ctx, delta, registered)


def _table_callbacks(
    conn: DbConnection[Any, Any, Any], ctx: EventContext, delta: TableDelta, registered: Any
) -> None:
    invoke = conn._invoke
    name = delta.name
    inserts = registered.insert.snapshot()
    if inserts and delta.inserts:
        if not delta.is_event:
            with contextlib.suppress(BsatnDecodeError):  # reported row by row below
                delta.table.prefetch(delta.inserts)
        for row_bytes in delta.inserts:
            row = _decoded(conn, delta.inserted_row, row_bytes, name)
            if row is _UNDECODABLE:
                continue
            for cb in inserts:
                invoke(f"{name}.on_insert", cb, ctx, row)
    deletes = registered.delete.snapshot()
    if deletes and delta.deletes:
        for row_bytes in delta.deletes:
            row = _decoded(conn, delta.deleted_row, row_bytes, name)
            if row is _UNDECODABLE:
                continue
            for cb in deletes:
                invoke(f"{name}.on_delete", cb, ctx, row)
    updates = registered.update.snapshot()
    if updates and delta.updates:
        for old_bytes, new_bytes in delta.updates:
            old = _decoded(conn, delta.deleted_row, old_bytes, name)
            new = _decoded(conn, delta.inserted_row, new_bytes, name)
            if old is _UNDECODABLE or new is _UNDECODABLE:
                continue
            for cb in updates:
                invoke(f"{name}.on_update", cb, ctx, old, new)


_UNDECODABLE: Any = object()


def _decoded(conn: DbConnection[Any, Any, Any], decode: Any, row: bytes, table: str) -> Any:
    try:
        return decode(row)
    except BsatnDecodeError as exc:
        conn._report_error(ProtocolError(f"undecodable {table!r} row: {exc}"), "protocol error")
        return _UNDECODABLE


def _reducer_done(conn: DbConnection[Any, Any, Any], effect: ReducerDone) -> None:
    ctx = ReducerEventContext(conn, effect.reducer_event)
    handled = False
    for registry in conn._reducer_result_lists(effect.reducer_event.reducer):
        for cb in registry.snapshot():
            handled = True
            conn._invoke(f"reducer {effect.reducer_event.reducer} on_result", cb, ctx)
    owner = effect.request.owner
    if owner is not None:
        if handled:
            owner._mark_handled()  # on_result saw the outcome: a failure is not unobserved
        owner._complete(ctx, effect.reducer_event)
