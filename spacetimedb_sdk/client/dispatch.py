"""Turning the core's effects into user callbacks, in order, on the callback thread.

:class:`Dispatcher` owns a connection's callback registries (row callbacks per table, reducer
``on_result`` callbacks) and runs every user callback. Per message: subscription callbacks
(``on_applied`` / ``on_end`` / ``on_error``), then row callbacks table by table (inserts, then
deletes, then updates, each in delivery order), then the completion of the reducer call the
message answers. Rows are decoded only for tables that have row callbacks. A callback that
raises is logged and reported to the connection's ``on_error`` handlers as a
:class:`~spacetimedb_sdk.client.errors.CallbackError`; the next callback runs. Effect listeners
(``DbConnectionBuilder.on_effects``, used by the 0.7 API) see each message's effects after its
callbacks ran.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from spacetimedb_sdk.client.callbacks import CallbackList, TableCallbacks
from spacetimedb_sdk.client.errors import CallbackError
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
    QuerySetApplied,
    QuerySetEnded,
    QuerySetFailed,
    ReducerDone,
    RequestFailed,
    RowsChanged,
)
from spacetimedb_sdk.core.table_cache import TableDelta
from spacetimedb_sdk.errors import BsatnDecodeError, ProtocolError
from spacetimedb_sdk.redaction import sdk_logger

if TYPE_CHECKING:
    from spacetimedb_sdk.client.db_connection import DbConnection
    from spacetimedb_sdk.core.table_layout import CompiledModule

__all__ = ["Dispatcher", "EffectListener"]

#: ``listener(conn, effects)``: one server message's effects, after its callbacks ran.
EffectListener = Callable[["DbConnection[Any, Any, Any]", list[Effect]], None]

_UNDECODABLE: Any = object()


class Dispatcher:
    """The callback registries of one connection, and the code that runs them."""

    def __init__(
        self,
        conn: DbConnection[Any, Any, Any],
        module: CompiledModule,
        on_error: list[Callable[..., None]],
        listeners: list[Callable[..., None]],
    ) -> None:
        self._conn = conn
        self._module = module
        self._on_error = on_error
        self._listeners = listeners
        self._tables: dict[str, TableCallbacks] = {}
        self._reducer_results: dict[str | None, CallbackList] = {}
        self.log = sdk_logger("spacetimedb_sdk.client")
        #: Set by the session: ``Connected`` is a lifecycle event.
        self.on_connected: Callable[[Connected], None] = lambda effect: None

    # ------------------------------------------------------------------------ registries
    def table_callbacks(self, table: str) -> TableCallbacks:
        """The row callbacks of ``table`` (canonical name)."""
        found = self._tables.get(table)
        if found is None:
            found = self._tables.setdefault(table, TableCallbacks())
        return found

    def reducer_result_callbacks(self, name: str | None) -> CallbackList:
        """The ``on_result`` callbacks of reducer ``name`` (None: of every reducer)."""
        if name is not None:
            codec = self._module.calls.reducer(name)
            name = codec.name if codec else name
        found = self._reducer_results.get(name)
        if found is None:
            found = self._reducer_results.setdefault(name, CallbackList())
        return found

    # ------------------------------------------------------------------------ invocation
    def invoke(self, what: str, callback: Callable[..., Any], *args: Any) -> None:
        """Run a user callback; an exception is logged and reported, never propagated."""
        try:
            callback(*args)
        except Exception as exc:
            self._callback_failed(what, exc)

    def _callback_failed(self, what: str, exc: Exception) -> None:
        self.log.exception("%s raised", what, exc_info=exc)
        self.report_error(CallbackError(what, exc), what, logged=True)

    def report_error(self, error: BaseException, what: str, logged: bool = False) -> None:
        """Hand a non-fatal error to the ``on_error`` handlers (or log it without any)."""
        handlers = self._on_error
        if not handlers:
            if not logged:
                self.log.error("%s: %s", what, error)
            return
        ctx = ErrorContext(self._conn, error)
        for handler in list(handlers):
            try:
                handler(ctx, error)
            except Exception:
                self.log.exception("the on_error handler raised")

    # ------------------------------------------------------------------------ dispatch
    def dispatch(self, effects: list[Effect]) -> None:
        """Run the callbacks of one message's ``effects`` (on the callback thread)."""
        if not effects:
            return
        conn = self._conn
        for effect in effects:
            match effect:
                case RowsChanged():
                    self._rows_changed(effect)
                case ReducerDone():
                    self._reducer_done(effect)
                case QuerySetApplied(query_set=qs):
                    if qs.owner is not None:
                        qs.owner._applied_now(SubscriptionEventContext(conn))
                case QuerySetEnded(query_set=qs):
                    if qs.owner is not None:
                        qs.owner._ended_now(SubscriptionEventContext(conn))
                case QuerySetFailed(query_set=qs):
                    if qs.owner is not None:
                        error_ctx = ErrorContext(conn, effect.exception)
                        qs.owner._failed_now(error_ctx, effect.error, effect.exception)
                case ProcedureDone(request=request):
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
                case QueryDone(request=request):
                    qctx = ErrorContext(conn, effect.error)
                    if effect.error is None:
                        request.owner._set_result(qctx, effect.rows)
                    else:
                        request.owner._set_exception(qctx, effect.error)
                case RequestFailed(request=request):
                    if request.owner is not None:
                        request.owner._set_exception(ErrorContext(conn, effect.error), effect.error)
                case Connected():
                    self.on_connected(effect)
                case ProtocolViolation():
                    self.report_error(effect.error, "protocol error")
        for listener in list(self._listeners):
            try:
                listener(conn, effects)
            except Exception:  # never let an adapter break the connection
                self.log.exception("an effect listener failed to process a message")

    def _rows_changed(self, effect: RowsChanged) -> None:
        ctx: EventContext | None = None
        callbacks = self._tables
        for delta in effect.deltas:
            registered = callbacks.get(delta.name)
            if not registered:
                continue  # nobody listens: the rows are never decoded here
            if ctx is None:
                ctx = EventContext(self._conn, effect.event)
            self._table_callbacks(ctx, delta, registered)

    def _table_callbacks(
        self, ctx: EventContext, delta: TableDelta, registered: TableCallbacks
    ) -> None:
        name = delta.name
        inserts = registered.insert.snapshot()
        if inserts and delta.inserts:
            try:
                rows = delta.inserted_values()
            except BsatnDecodeError:  # reported row by row, the others still delivered
                rows = self._each_decoded(delta.inserted_row, delta.inserts, name)
            self._each_row(f"{name}.on_insert", inserts, ctx, rows)
        deletes = registered.delete.snapshot()
        if deletes and delta.deletes:
            try:
                rows = delta.deleted_values()
            except BsatnDecodeError:
                rows = self._each_decoded(delta.deleted_row, delta.deletes, name)
            self._each_row(f"{name}.on_delete", deletes, ctx, rows)
        updates = registered.update.snapshot()
        if updates and delta.updates:
            try:
                pairs = delta.updated_values()
            except BsatnDecodeError:
                pairs = []
                for old_bytes, new_bytes in delta.updates:
                    old = self._decoded(delta.deleted_row, old_bytes, name)
                    new = self._decoded(delta.inserted_row, new_bytes, name)
                    if old is not _UNDECODABLE and new is not _UNDECODABLE:
                        pairs.append((old, new))
            what = f"{name}.on_update"
            if len(updates) == 1:
                (cb,) = updates
                for old, new in pairs:
                    try:
                        cb(ctx, old, new)
                    except Exception as exc:
                        self._callback_failed(what, exc)
                return
            for old, new in pairs:
                for cb in updates:
                    try:
                        cb(ctx, old, new)
                    except Exception as exc:
                        self._callback_failed(what, exc)

    def _each_row(
        self,
        what: str,
        callbacks: tuple[Callable[..., Any], ...],
        ctx: EventContext,
        rows: list[Any],
    ) -> None:
        # One tight loop per table: this runs once per delivered row.
        if len(callbacks) == 1:
            (cb,) = callbacks
            for row in rows:
                try:
                    cb(ctx, row)
                except Exception as exc:
                    self._callback_failed(what, exc)
            return
        for row in rows:
            for cb in callbacks:
                try:
                    cb(ctx, row)
                except Exception as exc:
                    self._callback_failed(what, exc)

    def _each_decoded(
        self, decode: Callable[[bytes], Any], rows: list[bytes], table: str
    ) -> list[Any]:
        values = (self._decoded(decode, row, table) for row in rows)
        return [value for value in values if value is not _UNDECODABLE]

    def _decoded(self, decode: Callable[[bytes], Any], row: bytes, table: str) -> Any:
        try:
            return decode(row)
        except BsatnDecodeError as exc:
            self.report_error(ProtocolError(f"undecodable {table!r} row: {exc}"), "protocol error")
            return _UNDECODABLE

    def _reducer_done(self, effect: ReducerDone) -> None:
        reducer_event = effect.reducer_event
        ctx = ReducerEventContext(self._conn, reducer_event)
        handled = False
        results = self._reducer_results
        for registry in (results.get(reducer_event.reducer), results.get(None)):
            if not registry:
                continue
            for cb in registry.snapshot():
                handled = True
                self.invoke(f"reducer {reducer_event.reducer} on_result", cb, ctx)
        owner = effect.request.owner
        if owner is not None:
            if handled:
                owner._mark_handled()  # on_result saw the outcome: a failure is not unobserved
            owner._complete(ctx, reducer_event)
