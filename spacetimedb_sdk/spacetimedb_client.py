"""The 0.7 ``spacetimedb_client`` module: ``SpacetimeDBClient`` and its event classes.

Code written for spacetimedb-sdk 0.7 (and the bindings ``spacetime generate --lang python``
produced) keeps working against SpacetimeDB 2.x. ``SpacetimeDBClient`` is a thin layer over the
modern client (:mod:`spacetimedb_sdk.client`): it owns one modern connection, built from the
bindings package read with the 0.7 rules, and turns what that connection receives into 0.7
messages which :meth:`SpacetimeDBClient.update` applies to the legacy cache and dispatches::

    SpacetimeDBClient.init(token, "localhost:3000", "chat", False, module_bindings,
                           on_identity=on_identity)
    while running:
        SpacetimeDBClient.instance.update()     # callbacks run here, on this thread

What 2.x changes (see docs/guide-legacy.md): reducer callbacks (``register_on_<reducer>``) fire
for this client's own calls only -- the server no longer tells other clients who called what;
row callbacks still fire for every change, with a ``ReducerEvent`` whose caller and reducer are
``None`` for transactions this client did not cause.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from spacetimedb_sdk.client.db_connection import DbConnection
from spacetimedb_sdk.client.errors import ConnectError, DisconnectedError
from spacetimedb_sdk.client_cache import ClientCache
from spacetimedb_sdk.core.effects import Effect, QuerySetApplied, RequestFailed
from spacetimedb_sdk.errors import BsatnEncodeError
from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.legacy.address import Address
from spacetimedb_sdk.legacy.bindings import fetch_schema
from spacetimedb_sdk.legacy.conventions import wants_address
from spacetimedb_sdk.legacy.host import legacy_uri
from spacetimedb_sdk.legacy.messages import (
    DbEvent,
    ReducerEvent,
    TableNameDict,
    TransactionUpdateMessage,
    _ClientApiMessage,
    _IdentityReceivedMessage,
    _SubscriptionUpdateMessage,
)
from spacetimedb_sdk.legacy.notices import connect_failure_notice
from spacetimedb_sdk.legacy.sql import rewrite_table_names
from spacetimedb_sdk.legacy.translate import (
    LegacyDbConnection,
    guarded,
    translate_effects,
)
from spacetimedb_sdk.redaction import sdk_logger
from spacetimedb_sdk.sats_json import value_from_json
from spacetimedb_sdk.server_url import SchemaFetchError

if TYPE_CHECKING:
    from spacetimedb_sdk.client.db_connection import DbConnectionBuilder
    from spacetimedb_sdk.client.events import ErrorContext
    from spacetimedb_sdk.client.reducers import ReducerCall
    from spacetimedb_sdk.client.subscription import SubscriptionHandle

__all__ = [
    "Address",
    "DbEvent",
    "Identity",
    "ReducerEvent",
    "SpacetimeDBClient",
    "TransactionUpdateMessage",
]

_log = sdk_logger("spacetimedb_sdk.legacy")

RowUpdateCallback = Callable[[str, Any, Any, "ReducerEvent | None"], None]


class SpacetimeDBClient:
    """The 0.7 client: one connection per process, reached through ``SpacetimeDBClient.instance``
    (generated bindings call its underscore methods)."""

    #: The most recently created client (generated bindings go through it).
    instance: ClassVar[SpacetimeDBClient | None] = None
    client_cache: ClientCache

    @classmethod
    def init(
        cls,
        auth_token: str | None,
        host: str,
        address_or_name: str,
        ssl_enabled: bool,
        autogen_package: ModuleType,
        on_connect: Callable[[], None] | None = None,
        on_disconnect: Callable[[str], None] | None = None,
        on_identity: Callable[..., None] | None = None,
        on_error: Callable[[Any], None] | None = None,
    ) -> SpacetimeDBClient:
        """Create the client and connect (returns it; 0.7 returned ``None``).

        ``on_connect()`` runs once the socket is open; ``on_identity(token, identity, address)``
        (or the 0.6 form ``(token, identity)``) from ``update()`` once the server accepted us;
        ``on_disconnect(close_message)`` and ``on_error(error)`` on the connection's thread.
        """
        client = cls(autogen_package)
        client.connect(
            auth_token,
            host,
            address_or_name,
            ssl_enabled,
            on_connect,
            on_disconnect,
            on_identity,
            on_error,
        )
        return client

    def __init__(self, autogen_package: ModuleType) -> None:
        SpacetimeDBClient.instance = self
        self.client_cache = ClientCache(autogen_package)
        bindings = self.client_cache.bindings
        self._row_update_callbacks: dict[str, list[RowUpdateCallback]] = TableNameDict(
            bindings.resolve_table
        )
        self._reducer_callbacks: dict[str, list[Callable[..., None]]] = {}
        self._on_subscription_applied: list[Callable[[], None]] = []
        self._on_event: list[Callable[[TransactionUpdateMessage], None]] = []
        self.identity: Identity | None = None
        self.address: Address | None = Address.random()
        self.message_queue: queue.Queue[_ClientApiMessage] = queue.Queue()
        self.processed_message_queue: queue.Queue[_ClientApiMessage] = queue.Queue()

        self._on_connect: Callable[[], None] | None = None
        self._on_disconnect: Callable[[str], None] | None = None
        self._on_identity: Callable[..., None] | None = None
        self._on_error: Callable[[Any], None] | None = None
        self._connection: LegacyDbConnection | None = None
        # Why the connection last closed (None: asked for), for the 0.7 layer's messages.
        self._disconnect_error: BaseException | None = None
        self._identified = False
        self._closing = False
        self._update_lock = threading.RLock()
        self._state_lock = threading.Lock()
        # Set by SpacetimeDBAsyncClient: run update() as soon as messages arrive (on its loop).
        self._auto_update = False
        self._pending_queries: list[str] | None = None
        self._pending_calls: list[tuple[str, tuple[Any, ...]]] = []
        self._subscriptions: list[SubscriptionHandle] = []
        self._awaited_calls: dict[
            int, Callable[[TransactionUpdateMessage | BaseException], None]
        ] = {}
        self._arity_cache: dict[tuple[Any, int], bool] = {}

    # =============================================================================== connect
    def connect(
        self,
        auth_token: str | None,
        host: str,
        address_or_name: str,
        ssl_enabled: bool,
        on_connect: Callable[[], None] | None,
        on_disconnect: Callable[[str], None] | None,
        on_identity: Callable[..., None] | None,
        on_error: Callable[[Any], None] | None,
    ) -> None:
        """Open the connection (messages are then processed on a background thread and
        dispatched by :meth:`update`). A failure is reported to ``on_error`` (the exception)
        and ``on_disconnect`` (a one-line explanation of what to do)."""
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._on_identity = on_identity
        self._on_error = on_error
        try:
            builder = self._builder(auth_token, host, address_or_name, ssl_enabled)
            connection = builder.build()
        except (ConnectError, OSError, ValueError) as exc:
            self._report_error(exc)
            self._report_disconnect(connect_failure_notice(exc, host, address_or_name, auth_token))
            return
        self._connection = connection
        if on_connect is not None:
            self._call_safely("on_connect", on_connect)
        connection.run_threaded()

    async def _connect_async(
        self, auth_token: str | None, host: str, address_or_name: str, ssl_enabled: bool
    ) -> LegacyDbConnection:
        """Connect with the asyncio driver (for ``SpacetimeDBAsyncClient``); raises ConnectError."""
        import asyncio

        uri = legacy_uri(host, ssl_enabled)
        if not self.client_cache.bindings.has_schema:
            await asyncio.to_thread(self._load_schema, uri, address_or_name, auth_token)
        connection = await self._builder(
            auth_token, host, address_or_name, ssl_enabled
        ).build_async()
        self._connection = connection
        return connection

    def _load_schema(self, uri: str, database: str, token: str | None) -> None:
        try:
            schema = fetch_schema(uri, database, token)
        except (OSError, SchemaFetchError) as exc:
            raise ConnectError(f"could not read the schema of {database!r}: {exc}") from exc
        bindings = self.client_cache.bindings
        bindings.attach_schema(schema)
        self.client_cache.rebuild()
        # Callbacks registered before the schema was known are filed under 0.7 names.
        rows: dict[str, list[RowUpdateCallback]] = TableNameDict(bindings.resolve_table)
        for name, callbacks in self._row_update_callbacks.items():
            rows.setdefault(bindings.resolve_table(name) or name, []).extend(callbacks)
        self._row_update_callbacks = rows
        reducers: dict[str, list[Callable[..., None]]] = {}
        for name, reducer_callbacks in self._reducer_callbacks.items():
            reducers.setdefault(bindings.resolve_reducer(name), []).extend(reducer_callbacks)
        self._reducer_callbacks = reducers

    def _builder(
        self, auth_token: str | None, host: str, address_or_name: str, ssl_enabled: bool
    ) -> DbConnectionBuilder[LegacyDbConnection]:
        uri = legacy_uri(host, ssl_enabled)
        bindings = self.client_cache.bindings
        if not bindings.has_schema:
            self._load_schema(uri, address_or_name, auth_token)
        module = bindings.remote_module()
        # A new connection starts from an empty cache: its subscription delivers every row.
        self.client_cache.rebuild(bindings.row_codecs(module))
        with self._state_lock:  # a fresh connection: nothing identified or subscribed yet
            self._closing = False
            self._identified = False
            self._connection = None
            self._subscriptions = []
        return (
            DbConnection.builder()
            .with_module(module)
            .with_uri(uri)
            .with_database_name(address_or_name)
            .with_token(auth_token)
            .on_disconnect(self._modern_disconnected)
            .on_connect_error(self._modern_connect_failed)
            .on_effects(guarded(self._receive_effects))
        )

    # ================================================================= modern -> legacy
    def _receive_effects(self, connection: LegacyDbConnection, effects: list[Effect]) -> None:
        """Turn a batch of effects into 0.7 messages (the connection's callback thread)."""
        if self._connection is None:
            self._connection = connection
        bindings = self.client_cache.bindings
        messages = translate_effects(effects, bindings)
        for effect in effects:
            if isinstance(effect, QuerySetApplied):
                self._subscription_applied(effect.query_set.owner)
            elif isinstance(effect, RequestFailed):
                owner = effect.request.owner
                waiter = self._awaited_calls.pop(id(owner), None)
                if waiter is not None:
                    waiter(effect.error)
        for message in messages:
            if isinstance(message, _IdentityReceivedMessage):
                self._identified_now(connection)
            self.message_queue.put(message)
            if isinstance(message, TransactionUpdateMessage) and message.call is not None:
                waiter = self._awaited_calls.pop(id(message.call), None)
                if waiter is not None:
                    waiter(message)
        if self._auto_update:
            self.update()

    def _identified_now(self, connection: LegacyDbConnection) -> None:
        with self._state_lock:
            self._identified = True
            queries, self._pending_queries = self._pending_queries, None
            calls, self._pending_calls = self._pending_calls, []
        if queries is not None:
            self._send_subscription(connection, queries)
        for name, args in calls:
            self._send_reducer_call(connection, name, args)

    def _modern_disconnected(self, ctx: ErrorContext, error: Exception | None) -> None:
        del ctx
        self._disconnect_error = error
        self._report_disconnect("" if error is None else str(error))

    def _modern_connect_failed(self, ctx: ErrorContext, error: Exception) -> None:
        del ctx
        del error  # build() raises it; connect() reports it

    def _report_disconnect(self, close_msg: str) -> None:
        if self._on_disconnect is not None:
            self._call_safely("on_disconnect", self._on_disconnect, close_msg)

    def _report_error(self, error: BaseException) -> None:
        if self._on_error is not None:
            self._call_safely("on_error", self._on_error, error)
        else:
            _log.error("connection error: %s", error)

    # ================================================================================ update
    def update(self) -> None:
        """Apply every message received so far and run its callbacks, on this thread."""
        self._do_update()

    def _do_update(self) -> None:
        with self._update_lock:
            while True:
                try:
                    message = self.message_queue.get_nowait()
                except queue.Empty:
                    return
                self._process(message)

    def _process(self, message: _ClientApiMessage) -> None:
        if isinstance(message, _IdentityReceivedMessage):
            self.identity = message.identity
            self.address = message.address
            if self._on_identity is not None:
                extra = (message.address,) if self._wants_address(self._on_identity, 2) else ()
                self._call_safely(
                    "on_identity", self._on_identity, message.auth_token, message.identity, *extra
                )
            return
        cache = self.client_cache
        # Apply the whole message first, then run callbacks (0.7's order).
        for table_name, table_events in message.events.items():
            table = cache.tables.get(table_name)
            if table is None:
                continue
            for event in table_events:
                key = event.old_pk if event.row_op == "update" else event.row_pk
                if event.row_op != "insert":
                    cached = table.get_entry(key)
                    if cached is not None:
                        event.old_value = cached
                if event.event_row:
                    continue
                if event.row_op == "delete":
                    table.entries.pop(event.row_pk, None)
                    continue
                if event.row_op == "update":
                    table.entries.pop(event.old_pk, None)
                table.set_entry_decoded(event.row_pk, event.decoded_value)
        reducer_event = (
            message.reducer_event if isinstance(message, TransactionUpdateMessage) else None
        )
        for table_name, table_events in message.events.items():
            callbacks = self._row_update_callbacks.get(table_name)
            if not callbacks:
                continue
            for event in table_events:
                for callback in list(callbacks):
                    self._call_safely(
                        f"{table_name} row update",
                        callback,
                        event.row_op,
                        event.old_value,
                        event.decoded_value,
                        reducer_event,
                    )
        if isinstance(message, _SubscriptionUpdateMessage) and message.applied:
            for applied in list(self._on_subscription_applied):
                self._call_safely("on_subscription_applied", applied)
        if isinstance(message, TransactionUpdateMessage):
            for on_event in list(self._on_event):
                self._call_safely("on_event", on_event, message)
            self._run_reducer_callbacks(message.reducer_event)
        self.processed_message_queue.put(message)
        while self.processed_message_queue.qsize() > 100:
            self.processed_message_queue.get_nowait()

    def _run_reducer_callbacks(self, event: ReducerEvent) -> None:
        name = event.reducer_name
        if name is None:
            return
        callbacks = self._reducer_callbacks.get(name)
        if not callbacks:
            return
        args = list(event.args or ())
        for callback in list(callbacks):
            if self._wants_address(callback, 3 + len(args)):
                self._call_safely(
                    f"{name} reducer callback",
                    callback,
                    event.caller_identity,
                    event.caller_address,
                    event.status,
                    event.message,
                    *args,
                )
            else:  # 0.6 convention: no address
                self._call_safely(
                    f"{name} reducer callback",
                    callback,
                    event.caller_identity,
                    event.status,
                    event.message,
                    *args,
                )

    def _wants_address(self, callback: Callable[..., Any], count_without_address: int) -> bool:
        key = (callback, count_without_address)
        try:
            found = self._arity_cache.get(key)
        except TypeError:  # an unhashable callable: not cached
            return wants_address(callback, count_without_address)
        if found is None:
            found = self._arity_cache[key] = wants_address(callback, count_without_address)
        return found

    def _call_safely(self, what: str, callback: Callable[..., Any], *args: Any) -> None:
        try:
            callback(*args)
        except Exception:
            _log.exception("%s callback raised", what)

    # ================================================================================ actions
    def close(self) -> None:
        """Close the connection (``on_disconnect`` runs once it is closed)."""
        self._closing = True
        connection = self._connection
        if connection is not None:
            connection.disconnect()

    def subscribe(self, queries: Sequence[str]) -> None:
        """Subscribe to ``queries`` (SQL), replacing the previous subscription.

        Table names are matched to the module's canonical names (``SELECT * FROM User`` works
        for a table ``user``). The rows of the new set arrive before the old set is dropped,
        so rows in both stay cached (and fire no callbacks).
        """
        query_list = [str(q) for q in ([queries] if isinstance(queries, str) else queries)]
        with self._state_lock:
            connection = self._connection
            if connection is None or not self._identified:
                self._pending_queries = query_list
                return
        self._send_subscription(connection, query_list)

    def _send_subscription(self, connection: LegacyDbConnection, queries: list[str]) -> None:
        resolve = self.client_cache.bindings.canonical_table_names()
        rewritten = [rewrite_table_names(q, resolve) for q in queries]
        if not rewritten:
            # Nothing to subscribe to: drop the old sets; 0.7 still reported an applied update.
            self._subscription_applied(None)
            self.message_queue.put(_SubscriptionUpdateMessage(applied=True))
            if self._auto_update:
                self.update()
            return
        try:
            handle = connection.subscription_builder().subscribe(rewritten)
        except DisconnectedError:
            _log.error("[subscribe] Not connected")
            return
        handle.applied.then(_report_subscription_failure)
        with self._state_lock:
            self._subscriptions.append(handle)

    def _subscription_applied(self, handle: Any) -> None:
        """A subscription is in (``None``: the empty one): drop the ones it replaces."""
        with self._state_lock:
            if handle is None:
                older, self._subscriptions = self._subscriptions, []
            elif handle in self._subscriptions:
                index = self._subscriptions.index(handle)
                older = self._subscriptions[:index]
                self._subscriptions = self._subscriptions[index:]
            else:
                return
        for existing in older:
            if existing.is_ended:
                continue
            try:
                existing.unsubscribe()
            except Exception as exc:  # already being dropped
                _log.debug("unsubscribing a replaced subscription: %s", exc)

    def register_on_subscription_applied(self, callback: Callable[[], None]) -> None:
        """Run ``callback()`` each time a subscription is applied (after its row callbacks)."""
        self._on_subscription_applied.append(callback)

    def unregister_on_subscription_applied(self, callback: Callable[[], None]) -> None:
        """Stop calling ``callback`` (unknown callbacks are ignored)."""
        if callback in self._on_subscription_applied:
            self._on_subscription_applied.remove(callback)

    def register_on_event(self, callback: Callable[[TransactionUpdateMessage], None]) -> None:
        """Run ``callback(message)`` for every transaction (ours and, without caller details,
        everyone else's) and for each of our reducer calls that failed."""
        self._on_event.append(callback)

    def unregister_on_event(self, callback: Callable[[TransactionUpdateMessage], None]) -> None:
        """Stop calling ``callback`` (unknown callbacks are ignored)."""
        if callback in self._on_event:
            self._on_event.remove(callback)

    # ================================================================ used by generated code
    def _get_table_cache(self, table_name: str) -> Any:
        return self.client_cache.get_table_cache(table_name)

    def _register_row_update(self, table_name: str, callback: RowUpdateCallback) -> None:
        key = self.client_cache.bindings.resolve_table(table_name) or table_name
        self._row_update_callbacks.setdefault(key, []).append(callback)

    def _unregister_row_update(self, table_name: str, callback: RowUpdateCallback) -> None:
        callbacks = self._row_update_callbacks.get(table_name)
        if callbacks is not None and callback in callbacks:
            callbacks.remove(callback)

    def _register_reducer(self, reducer_name: str, callback: Callable[..., None]) -> None:
        key = self.client_cache.bindings.resolve_reducer(reducer_name)
        self._reducer_callbacks.setdefault(key, []).append(callback)

    def _unregister_reducer(self, reducer_name: str, callback: Callable[..., None]) -> None:
        key = self.client_cache.bindings.resolve_reducer(reducer_name)
        callbacks = self._reducer_callbacks.get(key)
        if callbacks is not None and callback in callbacks:
            callbacks.remove(callback)

    def _reducer_call(self, reducer: str, *args: Any) -> None:
        """Call a reducer (from any thread). Calls made while still connecting are sent once
        connected; after the connection closed they are dropped with a message."""
        name = self.client_cache.bindings.resolve_reducer(reducer)
        with self._state_lock:
            connection = self._connection
            if connection is None or not self._identified:
                if self._closing:
                    print("[reducer_call] Not connected")
                    return
                self._pending_calls.append((name, args))
                return
        self._send_reducer_call(connection, name, args)

    def _send_reducer_call(
        self, connection: LegacyDbConnection, name: str, args: tuple[Any, ...]
    ) -> ReducerCall | None:
        try:
            call: ReducerCall = connection.reducers._call(name, self._call_args(name, args))
        except DisconnectedError:
            print("[reducer_call] Not connected")
            return None
        except (KeyError, BsatnEncodeError, TypeError, ValueError) as exc:
            _log.error("cannot call reducer %s%r: %s", name, args, exc)
            return None
        # The outcome reaches the legacy callbacks through the effects; marking the call as
        # observed keeps the modern layer from also logging failures nobody awaited.
        call.then(_ignore)
        return call

    def _call_args(self, name: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
        """Arguments as the codec takes them; 0.7 bindings passed 0.7 JSON forms."""
        schema = self.client_cache.bindings.schema
        if schema is None or self.client_cache.bindings.base_bindings:
            return args
        reducer = schema.find_reducer(name)
        if reducer is None or len(reducer.params) != len(args):
            return args
        converted: list[Any] = []
        for param, value in zip(reducer.params, args, strict=True):
            try:
                converted.append(value_from_json(param.algebraic_type, value, schema.typespace))
            except Exception:
                converted.append(value)
        return tuple(converted)

    def _on_message(self, data: bytes) -> None:
        """Process one raw server frame (as if it came from the socket)."""
        connection = self._connection
        if connection is None:
            raise RuntimeError("not connected")
        connection.process_frame(data)


def _ignore(ctx: Any, value: Any) -> None:
    del ctx, value


def _report_subscription_failure(ctx: Any, outcome: Any) -> None:
    del ctx
    if isinstance(outcome, BaseException):
        _log.error("subscription failed: %s", outcome)
