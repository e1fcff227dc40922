"""The sans-I/O connection: server frames in, effects out; requests in, frames to send out.

:class:`ConnectionCore` owns everything about a session except the socket: the client cache,
the query sets, the requests waiting for answers, the identity and token. It never blocks, never
starts a thread and never touches the network, so tests and benchmarks can drive it with bytes::

    core = ConnectionCore(schema)                   # or ConnectionCore(schema, bindings)
    core.connection_opened("v2.bsatn.spacetimedb")  # the negotiated subprotocol
    qs = core.subscribe(["SELECT * FROM user"])
    frames = core.data_to_send()                    # what a driver would write to the socket
    effects = core.receive_frame(frame)             # one binary WebSocket message from the server

``receive_frame`` strips the compression envelope, decodes the one (v2) or several (v3) server
messages, updates the cache and returns :mod:`~spacetimedb_sdk.core.effects` in callback order.
A frame that cannot be decoded yields a
:class:`~spacetimedb_sdk.core.effects.ProtocolViolation` and is otherwise skipped; the core
stays usable. ``receive_message`` takes an already decoded message.

Requests (``subscribe``, ``call_reducer``, ...) may be made from any thread: one lock guards the
state they share with ``receive_*``. Effects are returned, not dispatched: the driver runs the
callbacks, outside the lock, on its one callback thread.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from spacetimedb_sdk.bsatn import Bindings, BsatnCodec
from spacetimedb_sdk.compression import TAG_NONE, decompress_server_frame
from spacetimedb_sdk.core import events as ev
from spacetimedb_sdk.core import row_owners
from spacetimedb_sdk.core.client_cache import RowBatch, RowCache
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
from spacetimedb_sdk.core.errors import (
    AlreadyEndedError,
    AlreadyUnsubscribedError,
    DisconnectedError,
    InternalError,
    OneOffQueryError,
)
from spacetimedb_sdk.core.limits import MessageLimits
from spacetimedb_sdk.core.requests import PendingRequest, PendingRequests, RequestKind
from spacetimedb_sdk.core.stats import ConnectionStats
from spacetimedb_sdk.core.subscription import ClientQuerySet, QuerySetRegistry, QuerySetState
from spacetimedb_sdk.core.table_layout import CompiledModule, compile_module
from spacetimedb_sdk.errors import (
    BsatnDecodeError,
    LimitExceededError,
    ProtocolError,
    SpacetimeDBError,
)
from spacetimedb_sdk.frames import V2_BSATN_PROTOCOL, V3_BSATN_PROTOCOL, join_client_messages
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.messages import (
    CallProcedureMsg,
    CallReducerMsg,
    ClientMessage,
    EventTableRows,
    InitialConnectionMsg,
    InternalErrorOutcome,
    OkEmpty,
    OneOffQueryMsg,
    OneOffQueryResultMsg,
    PersistentTableRows,
    ProcedureResultMsg,
    QuerySetId,
    ReducerErr,
    ReducerOk,
    ReducerResultMsg,
    Returned,
    ServerMessage,
    SubscribeAppliedMsg,
    SubscribeMsg,
    SubscriptionErrorMsg,
    TransactionUpdateMsg,
    UnsubscribeAppliedMsg,
    UnsubscribeFlags,
    UnsubscribeMsg,
    decode_server_message_from,
    encode_client_message,
    message_name,
)
from spacetimedb_sdk.redaction import sdk_logger
from spacetimedb_sdk.row_list import BsatnRowList
from spacetimedb_sdk.schema import ModuleSchema
from spacetimedb_sdk.values import Ok

__all__ = ["ConnectionCore", "ConnectionState"]

_log = sdk_logger("spacetimedb_sdk.core")

_SUPPORTED_PROTOCOLS = (V3_BSATN_PROTOCOL, V2_BSATN_PROTOCOL)


class ConnectionState(enum.Enum):
    """Where the session is."""

    #: Not yet set up: the socket is opening, or open and waiting for ``InitialConnection``.
    CONNECTING = "connecting"
    #: ``InitialConnection`` received.
    CONNECTED = "connected"
    #: The socket closed (a reconnect may follow).
    DISCONNECTED = "disconnected"


class ConnectionCore:
    """The protocol state machine and client cache of one connection (sans-I/O)."""

    def __init__(
        self,
        schema: ModuleSchema | CompiledModule,
        bindings: Bindings | None = None,
        *,
        token: str | None = None,
        limits: MessageLimits | None = None,
    ) -> None:
        #: What one server frame may cost (checked before anything is built from it).
        self.limits = limits or MessageLimits()
        self.module = (
            schema if isinstance(schema, CompiledModule) else compile_module(schema, bindings)
        )
        self.cache = RowCache(self.module)
        self.subscriptions = QuerySetRegistry()
        self.requests = PendingRequests()
        self.stats = ConnectionStats()
        #: Guards everything below (shared with the cache, whose lock it is).
        self.lock = self.cache.lock
        self.state = ConnectionState.CONNECTING
        #: The negotiated subprotocol once the socket is open.
        self.protocol: str | None = None
        self.identity: Identity | None = None
        self.connection_id: ConnectionId | None = None
        #: The long-lived token: the one given, else the one the server minted for us.
        self.token = token
        #: Called (outside the lock) whenever there is something new to send.
        self.on_outgoing: Callable[[], None] | None = None
        self._outbox: list[bytes] = []
        self._closed_for_good = False
        self._reconnects = 0
        #: Between a lost connection and the next open socket of a reconnect.
        self._awaiting_socket = False
        #: Query-set ids still to be answered before the replayed cache is reconciled.
        self._reconciling: set[int] | None = None
        self._deferred: list[Effect] = []

    # ================================================================================ sending
    def _send(self, message: ClientMessage) -> None:
        self._outbox.append(encode_client_message(message))
        self.stats.messages_sent += 1

    def _wake(self) -> None:
        hook = self.on_outgoing
        if hook is not None:
            hook()

    def _check_open(self, what: str) -> None:
        if self._closed_for_good or self.state is ConnectionState.DISCONNECTED:
            raise DisconnectedError(f"cannot {what}: the connection is closed")
        if self._awaiting_socket:
            # A reconnect attempt may still fail before its socket opens, and its queue would be
            # dropped with it: refuse rather than leave a request waiting for nothing.
            raise DisconnectedError(f"cannot {what}: the connection is reconnecting")

    def subscribe(
        self, queries: Sequence[str], owner: Any = None, *, query_set_id: int | None = None
    ) -> ClientQuerySet:
        """Start a new query set; its ``Subscribe`` is queued for sending.

        ``query_set_id`` picks the id instead of the next free one (for replaying recorded
        traffic in tests and benchmarks); it must not be in use.
        """
        if isinstance(queries, str):
            queries = [queries]
        with self.lock:
            if self._closed_for_good:
                raise DisconnectedError("cannot subscribe: the connection is closed")
            qs = self.subscriptions.create(tuple(queries), owner, query_set_id)
            self.stats.subscriptions.sent += 1
            if self.state is not ConnectionState.DISCONNECTED:
                qs.request_id = self.requests.next_id()
                self._send(SubscribeMsg(qs.request_id, QuerySetId(qs.id), list(qs.queries)))
            # While disconnected (about to reconnect) the set is sent with the replay.
        self._wake()
        return qs

    def unsubscribe(self, qs: ClientQuerySet) -> None:
        """Ask the server to drop ``qs``; its rows leave when ``UnsubscribeApplied`` arrives."""
        with self.lock:
            if qs.is_ended:
                raise AlreadyEndedError(f"query set {qs.id} has already ended")
            if qs.state is QuerySetState.UNSUBSCRIBING:
                raise AlreadyUnsubscribedError(f"query set {qs.id} is already being unsubscribed")
            qs.state = QuerySetState.UNSUBSCRIBING
            self.stats.unsubscriptions.sent += 1
            qs.sent_at = time.monotonic()
            if self.state is ConnectionState.DISCONNECTED:
                return  # ended when the connection is re-established
            qs.unsubscribe_request_id = self.requests.next_id()
            self._send(
                UnsubscribeMsg(
                    qs.unsubscribe_request_id, QuerySetId(qs.id), UnsubscribeFlags.DEFAULT
                )
            )
        self._wake()

    def _request(
        self,
        kind: RequestKind,
        name: str,
        args: tuple[Any, ...],
        owner: Any,
        codec: BsatnCodec[Any] | None,
        build: Callable[[int], ClientMessage],
    ) -> PendingRequest:
        with self.lock:
            self._check_open(f"send a {kind.replace('_', '-')} request")
            request = PendingRequest(self.requests.next_id(), kind, name, args, owner, codec)
            self.requests.add(request)
            self._send(build(request.request_id))
            self.stats.tracker(_tracker_of(kind)).sent += 1
            if kind != "one_off_query":
                self.stats.named(name).sent += 1
        self._wake()
        return request

    def call_reducer(
        self, name: str, args: Sequence[Any] = (), owner: Any = None
    ) -> PendingRequest:
        """Call a reducer of the module with positional ``args`` (encoded with its schema)."""
        codec = self.module.calls.reducer(name)
        if codec is None:
            raise KeyError(f"the module has no reducer {name!r}")
        encoded = codec.encode_args(args)
        return self.call_reducer_raw(codec.name, encoded, tuple(args), owner)

    def call_reducer_raw(
        self, name: str, encoded_args: bytes, args: tuple[Any, ...] = (), owner: Any = None
    ) -> PendingRequest:
        """Call reducer ``name`` with already BSATN-encoded arguments."""
        return self._request(
            "reducer",
            name,
            args,
            owner,
            None,
            lambda rid: CallReducerMsg(rid, 0, name, encoded_args),
        )

    def call_procedure(
        self,
        name: str,
        args: Sequence[Any] = (),
        owner: Any = None,
        return_codec: BsatnCodec[Any] | None = None,
    ) -> PendingRequest:
        """Call a procedure; its return value is decoded with the schema's return type."""
        codec = self.module.calls.procedure(name)
        if codec is None:
            raise KeyError(f"the module has no procedure {name!r}")
        encoded = codec.encode_args(args)
        return self._request(
            "procedure",
            codec.name,
            tuple(args),
            owner,
            return_codec or codec.ok,
            lambda rid: CallProcedureMsg(rid, 0, codec.name, encoded),
        )

    def one_off_query(self, sql: str, owner: Any = None) -> PendingRequest:
        """Run one query once; the answer's rows are decoded with their table's row type."""
        return self._request(
            "one_off_query", sql, (), owner, None, lambda rid: OneOffQueryMsg(rid, sql)
        )

    def data_to_send(self) -> list[bytes]:
        """The WebSocket messages to write now, in order (empty until the socket is open).

        v2 sends one client message per WebSocket message; v3 coalesces queued messages into
        frames of at most 256 KiB.
        """
        with self.lock:
            if self.protocol is None or not self._outbox:
                return []
            outbox, self._outbox = self._outbox, []
            if self.protocol == V3_BSATN_PROTOCOL:
                return join_client_messages(outbox)
            return outbox

    def has_data_to_send(self) -> bool:
        """True when :meth:`data_to_send` would return something."""
        return self.protocol is not None and bool(self._outbox)

    # ========================================================================== socket events
    def connection_opened(self, protocol: str) -> None:
        """The WebSocket is open with subprotocol ``protocol`` (v2 or v3)."""
        if protocol not in _SUPPORTED_PROTOCOLS:
            raise ProtocolError(
                f"the server chose subprotocol {protocol!r}; this client speaks "
                f"{' or '.join(_SUPPORTED_PROTOCOLS)}"
            )
        with self.lock:
            self.protocol = protocol
            self._awaiting_socket = False
        self._wake()

    def connection_lost(
        self, error: BaseException | None = None, *, will_reconnect: bool = False
    ) -> list[Effect]:
        """The socket closed. Pending requests fail; without a reconnect, query sets end.

        Query sets that were still pending fail and sets being unsubscribed end; applied sets
        end silently, their rows stay readable in the cache. With ``will_reconnect`` every set
        is kept for :meth:`begin_reconnect` to replay.
        """
        with self.lock:
            self.state = ConnectionState.DISCONNECTED
            self.protocol = None
            self._outbox.clear()
            self._reconciling = None
            self._deferred.clear()
            reason = "the connection closed" + (f": {error}" if error else "")
            effects: list[Effect] = []
            for request in self.requests.drain():
                self.stats.tracker(_tracker_of(request.kind)).record(
                    time.monotonic() - request.sent_at, ok=False
                )
                effects.append(RequestFailed(request, DisconnectedError(reason)))
            self._awaiting_socket = will_reconnect
            if not will_reconnect:
                self._closed_for_good = True
                for qs in self.subscriptions.live():
                    if qs.state is QuerySetState.UNSUBSCRIBING:
                        self.subscriptions.finish(qs, QuerySetState.ENDED)
                        effects.append(QuerySetEnded(qs))
                    elif qs.state is QuerySetState.PENDING:
                        self.subscriptions.finish(qs, QuerySetState.FAILED)
                        qs.error = reason
                        effects.append(QuerySetFailed(qs, reason, DisconnectedError(reason)))
                    else:
                        self.subscriptions.finish(qs, QuerySetState.ENDED)
            return effects

    def begin_reconnect(self) -> None:
        """Prepare to replay every live query set on a new socket (then reconcile the cache).

        Call after :meth:`connection_lost` (with ``will_reconnect``) and before opening the new
        socket. Sets applied before are re-subscribed with their rows collected aside; once the
        last of them is answered the cache is replaced by the union of the new rows, so rows that
        did not change fire no callbacks.
        """
        with self.lock:
            if self._closed_for_good:
                raise DisconnectedError("the connection was closed for good")
            self.state = ConnectionState.CONNECTING
            self.protocol = None
            self._outbox.clear()
            self._reconnects += 1
            self._reconciling = set()
            row_owners.disown_all(self.cache)
            for qs in self.subscriptions.live():
                if qs.state is QuerySetState.UNSUBSCRIBING:
                    qs.rows = {}
                    self.subscriptions.finish(qs, QuerySetState.ENDED)
                    self._deferred.append(QuerySetEnded(qs))
                    continue
                qs.rows = {}
                qs.replaying = qs.was_applied
                if qs.replaying:
                    self._reconciling.add(qs.id)
                qs.request_id = self.requests.next_id()
                qs.sent_at = time.monotonic()
                self._send(SubscribeMsg(qs.request_id, QuerySetId(qs.id), list(qs.queries)))

    def close(self) -> None:
        """Refuse new requests from now on (the driver is closing the socket)."""
        with self.lock:
            self._closed_for_good = True

    @property
    def is_closed(self) -> bool:
        """True once the connection was closed for good."""
        return self._closed_for_good

    # ========================================================================= receiving
    def receive_frame(self, frame: bytes | bytearray | memoryview) -> list[Effect]:
        """Process one binary WebSocket message from the server; return its effects."""
        effects: list[Effect] = []
        for message_effects in self.receive_frame_by_message(frame):
            effects.extend(message_effects)
        return effects

    def receive_frame_by_message(
        self, frame: bytes | bytearray | memoryview
    ) -> Iterator[list[Effect]]:
        """Like :meth:`receive_frame`, one server message at a time.

        A v3 frame may carry several messages: each is applied only when the caller asks for
        the next list, so a driver can run one message's callbacks before the next message
        changes the cache.
        """
        stats = self.stats
        stats.frames_received += 1
        stats.bytes_received += len(frame)
        start = time.perf_counter()
        try:
            if len(frame) and frame[0] == TAG_NONE:
                payload: bytes | bytearray | memoryview = frame
                pos = 1
            else:
                payload = decompress_server_frame(frame, self.limits.max_decompressed_size)
                pos = 0
        except ProtocolError as exc:
            yield [ProtocolViolation(exc)]
            return
        end = len(payload)
        if pos >= end:
            yield [ProtocolViolation(ProtocolError("empty server message"))]
            return
        v2 = self.protocol != V3_BSATN_PROTOCOL
        while pos < end:
            try:
                msg, pos = decode_server_message_from(payload, pos)
            except BsatnDecodeError as exc:
                yield [ProtocolViolation(ProtocolError(f"undecodable server message: {exc}"))]
                return
            if v2 and pos != end:
                yield [
                    ProtocolViolation(
                        ProtocolError(f"{end - pos} trailing byte(s) after a v2 server message")
                    )
                ]
                return
            effects = self.receive_message(msg)
            elapsed = time.perf_counter() - start
            stats.apply_time += elapsed
            stats.max_apply_time = max(stats.max_apply_time, elapsed)
            yield effects
            start = time.perf_counter()

    def receive_message(self, msg: ServerMessage) -> list[Effect]:
        """Process one decoded server message; return its effects."""
        self.stats.messages_received += 1
        handler = _HANDLERS.get(type(msg))
        if handler is None:  # pragma: no cover - every variant has a handler
            return [ProtocolViolation(ProtocolError(f"unexpected message {message_name(msg)}"))]
        with self.lock:
            try:
                # All or nothing: every row is checked (and split) before anything is applied.
                self._check_rows(msg)
            except ProtocolError as exc:
                _log.warning("refused %s: %s", message_name(msg), exc)
                return [ProtocolViolation(exc)]
            try:
                effects: list[Effect] = handler(self, msg)
            except SpacetimeDBError as exc:
                _log.exception("failed to apply %s", message_name(msg))
                return [ProtocolViolation(exc)]
            if self._deferred and self._reconciling is None:
                effects = [*self._deferred, *effects]
                self._deferred = []
            return effects

    def _check_rows(self, msg: ServerMessage) -> None:
        """Refuse a message past the row limit or with a malformed row of a known table.

        Checking splits the rows too (remembered by each row list), so applying costs no second
        pass. Raises :class:`LimitExceededError` or :class:`ProtocolError`.
        """
        lists = _row_lists(msg)
        if not lists:
            return
        total = sum(len(rows) for _, rows in lists)
        limit = self.limits.max_rows_per_message
        if total > limit:
            raise LimitExceededError(
                f"{message_name(msg)} carries {total} rows, more than the limit of {limit} "
                "(MessageLimits.max_rows_per_message)"
            )
        if isinstance(msg, OneOffQueryResultMsg):
            return  # decoded right away, its errors reported with the query's answer
        find = self.module.find
        for table, rows in lists:
            layout = find(table)
            if layout is None:
                continue  # rows of unknown tables are ignored (and logged) when applied
            try:
                rows.validated_rows(layout.codec)
            except BsatnDecodeError as exc:
                raise ProtocolError(
                    f"malformed {table!r} row in {message_name(msg)}: {exc}; "
                    "the message was not applied"
                ) from exc

    def _rows(self, table: str, rows: BsatnRowList) -> list[bytes]:
        """The split (and already checked) rows of ``table``."""
        layout = self.module.find(table)
        return rows.rows() if layout is None else rows.validated_rows(layout.codec)

    # ------------------------------------------------------------------------------ handlers
    def _on_initial_connection(self, msg: InitialConnectionMsg) -> list[Effect]:
        if self.state is ConnectionState.CONNECTED:
            return [ProtocolViolation(ProtocolError("a second InitialConnection arrived"))]
        self.state = ConnectionState.CONNECTED
        self.identity = msg.identity
        self.connection_id = msg.connection_id
        if not self.token:
            # Only adopt the server's token when we had none: with a short-lived websocket token
            # the echo is that short token, which must never replace the long-lived one.
            self.token = msg.token
        effects: list[Effect] = [
            Connected(msg.identity, msg.connection_id, self.token, self._reconnects > 0)
        ]
        if self._reconciling is not None and not self._reconciling:
            effects.extend(self._finish_reconcile())
        return effects

    def _on_subscribe_applied(self, msg: SubscribeAppliedMsg) -> list[Effect]:
        qs = self.subscriptions.get(msg.query_set_id.id)
        if qs is None or qs.state is QuerySetState.ENDED:
            _log.warning("SubscribeApplied for unknown query set %d ignored", msg.query_set_id.id)
            return []
        self.stats.subscriptions.record(time.monotonic() - qs.sent_at, ok=True)
        if qs.is_cancelled:
            return []  # its UnsubscribeApplied, already on the way, ends it
        first = not qs.was_applied
        qs.was_applied = True
        if qs.state is QuerySetState.PENDING:
            qs.state = QuerySetState.APPLIED
        if qs.replaying:
            for entry in msg.rows.tables:
                qs.track_inserts(entry.table, self._rows(entry.table, entry.rows))
            return self._replayed(qs)
        batch = RowBatch()
        received = [(entry.table, self._rows(entry.table, entry.rows)) for entry in msg.rows.tables]
        cache = self.cache
        row_owners.settle(
            cache, [(table, qs) for table, rows in received if rows], self._reconciling is None
        )
        for table, rows in received:
            if row_owners.tracks(cache, table, qs):
                qs.track_inserts(table, rows)
            batch.insert(table, rows)
        deltas = cache.apply(batch)
        effects: list[Effect] = [QuerySetApplied(qs)] if first else []
        if deltas:
            effects.append(RowsChanged(ev.SUBSCRIBE_APPLIED, deltas))
        return effects

    def _on_unsubscribe_applied(self, msg: UnsubscribeAppliedMsg) -> list[Effect]:
        qs = self.subscriptions.get(msg.query_set_id.id)
        if qs is None:
            _log.warning("UnsubscribeApplied for unknown query set %d ignored", msg.query_set_id.id)
            return []
        self.stats.unsubscriptions.record(time.monotonic() - qs.sent_at, ok=True)
        if qs.replaying:
            # Unsubscribed right after its replay: the reconciliation simply leaves it out.
            qs.take_rows()
            self.subscriptions.finish(qs, QuerySetState.ENDED)
            return [QuerySetEnded(qs), *self._replayed(qs)]
        # The set's own tracked rows are removed (they equal what SendDroppedRows would send).
        batch = RowBatch()
        for table, rows in row_owners.take_rows(self.cache, qs).items():
            batch.delete(table, rows)
        self.subscriptions.finish(qs, QuerySetState.ENDED)
        deltas = self.cache.apply(batch)
        effects: list[Effect] = [QuerySetEnded(qs)]
        if deltas:
            effects.append(RowsChanged(ev.UNSUBSCRIBE_APPLIED, deltas))
        return effects

    def _on_subscription_error(self, msg: SubscriptionErrorMsg) -> list[Effect]:
        qs = self.subscriptions.get(msg.query_set_id.id)
        if qs is None:
            _log.warning(
                "SubscriptionError for unknown query set %d: %s", msg.query_set_id.id, msg.error
            )
            return []
        if qs.state is QuerySetState.PENDING:
            self.stats.subscriptions.record(time.monotonic() - qs.sent_at, ok=False)
        qs.error = msg.error
        # Whatever the request, the server no longer has this set: drop what it contributed.
        rows = qs.take_rows() if qs.replaying else row_owners.take_rows(self.cache, qs)
        self.subscriptions.finish(qs, QuerySetState.FAILED)
        if qs.replaying:
            return [QuerySetFailed(qs, msg.error), *self._replayed(qs)]
        batch = RowBatch()
        for table, table_rows in rows.items():
            batch.delete(table, table_rows)
        deltas = self.cache.apply(batch)
        effects: list[Effect] = [QuerySetFailed(qs, msg.error)]
        if deltas:
            effects.append(RowsChanged(ev.SubscribeError(msg.error), deltas))
        return effects

    def _batch_of(self, update: TransactionUpdateMsg) -> RowBatch:
        batch = RowBatch()
        received: list[tuple[ClientQuerySet, str, list[bytes], list[bytes]]] = []
        for qsu in update.query_sets:
            qs = self.subscriptions.get(qsu.query_set_id.id)
            if qs is None:
                _log.warning("rows for unknown query set %d ignored", qsu.query_set_id.id)
                continue
            if qs.is_cancelled:
                continue
            for table_update in qsu.tables:
                table = table_update.table_name
                for rows in table_update.rows:
                    if isinstance(rows, EventTableRows):
                        if not qs.replaying:
                            batch.events(table, self._rows(table, rows.events))
                        continue
                    inserts = self._rows(table, rows.inserts)
                    deletes = self._rows(table, rows.deletes)
                    if inserts or deletes:
                        received.append((qs, table, inserts, deletes))
        cache = self.cache
        row_owners.settle(
            cache, [(table, qs) for qs, table, _, _ in received], self._reconciling is None
        )
        for qs, table, inserts, deletes in received:
            if row_owners.tracks(cache, table, qs):
                if inserts:
                    qs.track_inserts(table, inserts)
                if deletes:
                    qs.track_deletes(table, deletes)
            if not qs.replaying:
                batch.insert(table, inserts)
                batch.delete(table, deletes)
        return batch

    def _on_transaction_update(self, msg: TransactionUpdateMsg) -> list[Effect]:
        deltas = self.cache.apply(self._batch_of(msg))
        return [RowsChanged(ev.TRANSACTION, deltas)] if deltas else []

    def _on_reducer_result(self, msg: ReducerResultMsg) -> list[Effect]:
        request = self.requests.pop(msg.request_id)
        if request is not None and request.kind != "reducer":
            self.requests.add(request)
            request = None
        outcome = msg.result
        effects: list[Effect] = []
        latency = None if request is None else time.monotonic() - request.sent_at
        if request is None:
            if isinstance(outcome, ReducerOk):
                deltas = self.cache.apply(self._batch_of(outcome.transaction_update))
                if deltas:
                    effects.append(RowsChanged(ev.TRANSACTION, deltas))
            _log.warning("ReducerResult for unknown request %d", msg.request_id)
            return effects
        codec = self.module.calls.reducer(request.name)
        error: str | None = None
        return_value: Any = None
        if isinstance(outcome, (ReducerOk, OkEmpty)):
            status = ev.ReducerStatus.COMMITTED
            if isinstance(outcome, ReducerOk) and outcome.ret_value and codec and codec.ok:
                try:
                    return_value = codec.ok.decode(outcome.ret_value)
                except BsatnDecodeError as exc:
                    _log.warning("undecodable return value of %s: %s", request.name, exc)
        elif isinstance(outcome, ReducerErr):
            status = ev.ReducerStatus.FAILED
            error = _error_text(outcome, codec.err if codec else None)
        else:
            status = ev.ReducerStatus.INTERNAL_ERROR
            error = outcome.message if isinstance(outcome, InternalErrorOutcome) else str(outcome)
        reducer_event = ev.ReducerEvent(
            timestamp=msg.timestamp,
            status=status,
            reducer=request.name,
            args=request.args,
            error=error,
            request_id=msg.request_id,
            caller_identity=self.identity,
            caller_connection_id=self.connection_id,
            return_value=return_value,
        )
        if isinstance(outcome, ReducerOk):
            deltas = self.cache.apply(self._batch_of(outcome.transaction_update))
            if deltas:
                effects.append(RowsChanged(ev.Reducer(reducer_event), deltas))
        ok = status is ev.ReducerStatus.COMMITTED
        assert latency is not None
        self.stats.reducers.record(latency, ok)
        self.stats.named(request.name).record(latency, ok)
        effects.append(ReducerDone(request, reducer_event))
        return effects

    def _on_procedure_result(self, msg: ProcedureResultMsg) -> list[Effect]:
        request = self.requests.pop(msg.request_id)
        if request is None or request.kind != "procedure":
            if request is not None:
                self.requests.add(request)
            _log.warning("ProcedureResult for unknown request %d ignored", msg.request_id)
            return []
        value: Any = None
        error: SpacetimeDBError | None = None
        status = msg.status
        if isinstance(status, Returned):
            try:
                value = request.codec.decode(status.value) if request.codec else status.value
            except BsatnDecodeError as exc:
                error = ProtocolError(f"undecodable return value of {request.name}: {exc}")
        else:
            error = InternalError(status.message, request.name)
        latency = time.monotonic() - request.sent_at
        self.stats.procedures.record(latency, error is None)
        self.stats.named(request.name).record(latency, error is None)
        return [
            ProcedureDone(request, value, error, msg.timestamp, msg.total_host_execution_duration)
        ]

    def _on_one_off_query_result(self, msg: OneOffQueryResultMsg) -> list[Effect]:
        request = self.requests.pop(msg.request_id)
        if request is None or request.kind != "one_off_query":
            if request is not None:
                self.requests.add(request)
            _log.warning("OneOffQueryResult for unknown request %d ignored", msg.request_id)
            return []
        rows: list[Any] | None = None
        error: SpacetimeDBError | None = None
        result = msg.result
        if isinstance(result, Ok):
            rows = []
            for entry in result.value.tables:
                layout = self.module.find(entry.table)
                if layout is None:
                    error = ProtocolError(
                        f"one-off query returned rows of unknown table {entry.table!r}"
                    )
                    rows = None
                    break
                try:
                    rows.extend(entry.rows.decode_rows(layout.codec))
                except BsatnDecodeError as exc:
                    error = ProtocolError(f"undecodable {entry.table!r} row: {exc}")
                    rows = None
                    break
        else:
            error = OneOffQueryError(result.error, request.name)
        self.stats.one_off_queries.record(time.monotonic() - request.sent_at, error is None)
        return [QueryDone(request, rows, error)]

    # ---------------------------------------------------------------------------- reconnects
    def _replayed(self, qs: ClientQuerySet) -> list[Effect]:
        # The set keeps `replaying` (its updates are only tracked) until every replayed set
        # has answered and the cache is reconciled.
        if self._reconciling is None:
            qs.replaying = False
            return []
        self._reconciling.discard(qs.id)
        if self._reconciling or self.state is not ConnectionState.CONNECTED:
            return []
        return self._finish_reconcile()

    def _finish_reconcile(self) -> list[Effect]:
        contents: dict[str, dict[bytes, int]] = {}
        for qs in self.subscriptions.live():
            qs.replaying = False
            for table, rows in qs.rows.items():
                merged = contents.get(table)
                if merged is None:
                    contents[table] = dict(rows)
                else:
                    for r, c in rows.items():
                        merged[r] = merged.get(r, 0) + c
        self._reconciling = None
        effects: list[Effect] = [*self._deferred]
        self._deferred = []
        deltas = self.cache.replace(contents)
        row_owners.settle_after_replace(self.cache, self.subscriptions.live())
        if deltas:
            effects.append(RowsChanged(ev.SUBSCRIBE_APPLIED, deltas))
        return effects


def _row_lists(msg: ServerMessage) -> list[tuple[str, BsatnRowList]]:
    """Every ``(table, row list)`` a message carries."""
    if isinstance(msg, (SubscribeAppliedMsg, UnsubscribeAppliedMsg)):
        query_rows = msg.rows
    elif isinstance(msg, OneOffQueryResultMsg):
        query_rows = msg.result.value if isinstance(msg.result, Ok) else None
    else:
        update = msg if isinstance(msg, TransactionUpdateMsg) else None
        if isinstance(msg, ReducerResultMsg) and isinstance(msg.result, ReducerOk):
            update = msg.result.transaction_update
        if update is None:
            return []
        out: list[tuple[str, BsatnRowList]] = []
        for qsu in update.query_sets:
            for table_update in qsu.tables:
                table = table_update.table_name
                for rows in table_update.rows:
                    if isinstance(rows, PersistentTableRows):
                        out.append((table, rows.inserts))
                        out.append((table, rows.deletes))
                    else:
                        out.append((table, rows.events))
        return out
    if query_rows is None:
        return []
    return [(entry.table, entry.rows) for entry in query_rows.tables]


def _tracker_of(kind: RequestKind) -> str:
    return {"reducer": "reducers", "procedure": "procedures"}.get(kind, "one_off_queries")


def _error_text(outcome: ReducerErr, codec: BsatnCodec[Any] | None) -> str:
    try:
        if codec is None:
            return outcome.error_message()
        value = codec.decode(outcome.error)
        return value if isinstance(value, str) else repr(value)
    except BsatnDecodeError:
        return f"<undecodable error value: {outcome.error.hex()}>"


_HANDLERS: dict[type, Callable[[ConnectionCore, Any], list[Effect]]] = {
    InitialConnectionMsg: ConnectionCore._on_initial_connection,
    SubscribeAppliedMsg: ConnectionCore._on_subscribe_applied,
    UnsubscribeAppliedMsg: ConnectionCore._on_unsubscribe_applied,
    SubscriptionErrorMsg: ConnectionCore._on_subscription_error,
    TransactionUpdateMsg: ConnectionCore._on_transaction_update,
    ReducerResultMsg: ConnectionCore._on_reducer_result,
    ProcedureResultMsg: ConnectionCore._on_procedure_result,
    OneOffQueryResultMsg: ConnectionCore._on_one_off_query_result,
}
