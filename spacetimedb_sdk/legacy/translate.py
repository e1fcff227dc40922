"""From the modern core's effects to 0.7 messages, one message per server message.

The legacy client owns one modern connection that hands every batch of effects to the legacy
client right after the modern callbacks ran (``DbConnectionBuilder.on_effects``). Effects come
in server-message order and each server message maps to one 0.7 message:

==============================================  ==============================================
effects of one server message                   0.7 message
==============================================  ==============================================
``Connected``                                   ``_IdentityReceivedMessage``
``QuerySetApplied`` [+ its ``RowsChanged``]     ``_SubscriptionUpdateMessage(applied=True)``
``RowsChanged(Reducer)`` + ``ReducerDone``       ``TransactionUpdateMessage`` for our own call
``ReducerDone`` alone (failed, or no rows)      ``TransactionUpdateMessage`` for our own call
``RowsChanged(Transaction)``                    ``TransactionUpdateMessage``, caller unknown
``RowsChanged`` for other causes                ``_SubscriptionUpdateMessage(applied=False)``
==============================================  ==============================================

Rows are decoded here (into the legacy classes) and carried by :class:`DbEvent`s keyed by their
BSATN bytes; ``SpacetimeDBClient.update()`` applies them to the legacy cache and runs the
callbacks. Keeping the legacy cache separate is what lets callbacks see exactly the state after
their own message, even when the modern cache has already applied later ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spacetimedb_sdk.client.db_connection import DbConnection
from spacetimedb_sdk.core import events as ev
from spacetimedb_sdk.core.effects import (
    Connected,
    Effect,
    QuerySetApplied,
    ReducerDone,
    RowsChanged,
)
from spacetimedb_sdk.core.table_cache import TableDelta
from spacetimedb_sdk.errors import BsatnDecodeError
from spacetimedb_sdk.legacy.address import Address
from spacetimedb_sdk.legacy.bindings import LegacyBindings
from spacetimedb_sdk.legacy.messages import (
    DbEvent,
    TableNameDict,
    TransactionUpdateMessage,
    _ClientApiMessage,
    _IdentityReceivedMessage,
    _SubscriptionUpdateMessage,
)
from spacetimedb_sdk.redaction import sdk_logger

__all__ = [
    "EffectSink",
    "LegacyDbConnection",
    "guarded",
    "legacy_status",
    "translate_effects",
]

_log = sdk_logger("spacetimedb_sdk.legacy")

#: The modern connection a legacy client owns (built with ``with_module``: no generated class).
LegacyDbConnection = DbConnection[Any, Any, Any]

#: ``sink(connection, effects)``: called on the connection's callback thread.
EffectSink = Callable[[LegacyDbConnection, list[Effect]], None]


def guarded(sink: EffectSink) -> EffectSink:
    """``sink`` as an effect listener that logs its failures as the legacy client's."""

    def listener(connection: LegacyDbConnection, effects: list[Effect]) -> None:
        try:
            sink(connection, effects)
        except Exception:  # never let the legacy layer break the connection
            _log.exception("the legacy client failed to process a message")

    return listener


def legacy_status(status: ev.ReducerStatus) -> str:
    """0.7's status string: ``"committed"``, or ``"failed"`` for errors and panics alike."""
    return "committed" if status is ev.ReducerStatus.COMMITTED else "failed"


def translate_effects(effects: list[Effect], bindings: LegacyBindings) -> list[_ClientApiMessage]:
    """The 0.7 messages for one batch of effects, in order."""
    messages: list[_ClientApiMessage] = []
    count = len(effects)
    index = 0
    while index < count:
        effect = effects[index]
        following = effects[index + 1] if index + 1 < count else None
        message: _ClientApiMessage | None = None
        deltas: list[TableDelta] = []
        if isinstance(effect, Connected):
            if not effect.reconnected:
                message = _IdentityReceivedMessage(
                    effect.token, effect.identity, Address.of(effect.connection_id)
                )
        elif isinstance(effect, QuerySetApplied):
            message = _SubscriptionUpdateMessage(applied=True)
            if isinstance(following, RowsChanged) and isinstance(
                following.event, ev.SubscribeApplied
            ):
                deltas = following.deltas
                index += 1
        elif isinstance(effect, RowsChanged):
            deltas = effect.deltas
            cause = effect.event
            if isinstance(cause, ev.Reducer):
                done = following if isinstance(following, ReducerDone) else None
                if done is not None and done.reducer_event is not cause.reducer_event:
                    done = None
                message = own_call_message(cause.reducer_event, done)
                if done is not None:
                    index += 1
            elif isinstance(cause, ev.Transaction):
                message = TransactionUpdateMessage(None, None, "committed", None, None, None)
            else:
                message = _SubscriptionUpdateMessage(applied=False)
        elif isinstance(effect, ReducerDone):
            message = own_call_message(effect.reducer_event, effect)
        if message is not None:
            message.events = TableNameDict(bindings.resolve_table)
            _add_rows(message, deltas, bindings)
            messages.append(message)
        index += 1
    return messages


def own_call_message(
    reducer_event: ev.ReducerEvent, done: ReducerDone | None
) -> TransactionUpdateMessage:
    """The message for one of this client's reducer calls."""
    message = TransactionUpdateMessage(
        reducer_event.caller_identity,
        Address.of(reducer_event.caller_connection_id),
        legacy_status(reducer_event.status),
        reducer_event.error,
        reducer_event.reducer,
        list(reducer_event.args),
    )
    message.request_id = reducer_event.request_id
    message.call = done.request.owner if done is not None else None
    return message


def _add_rows(
    message: _ClientApiMessage, deltas: list[TableDelta], bindings: LegacyBindings
) -> None:
    events = message.events
    for delta in deltas:
        name = delta.name
        if bindings.table_for(name) is None:
            continue  # not a table of the legacy bindings: nobody can look at it
        convert = bindings.row_factory(name)
        is_event_table = delta.table.layout.is_event
        try:
            for row in delta.deletes:
                event = DbEvent(name, row, "delete")
                event.old_value = _legacy_row(delta.deleted_row(row), convert)
                events.setdefault(name, []).append(event)
            for old, new in delta.updates:
                event = DbEvent(name, new, "update", _legacy_row(_inserted(delta, new), convert))
                event.old_pk = old
                event.old_value = _legacy_row(delta.deleted_row(old), convert)
                events.setdefault(name, []).append(event)
            for row in delta.inserts:
                event = DbEvent(name, row, "insert", _legacy_row(_inserted(delta, row), convert))
                event.event_row = is_event_table
                events.setdefault(name, []).append(event)
        except BsatnDecodeError as exc:
            _log.error("undecodable %r row skipped: %s", name, exc)


def _inserted(delta: TableDelta, row: bytes) -> Any:
    table = delta.table
    # A row already gone again (a later message of the same frame deleted it) is decoded
    # without being memoised in the modern cache.
    if table.layout.is_event or row not in table:
        return table.decode(row)
    return table.row(row)


def _legacy_row(value: Any, convert: Callable[[Any], Any] | None) -> Any:
    return value if convert is None else convert(value)
