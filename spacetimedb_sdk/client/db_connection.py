"""``DbConnection`` and its builder: the entry point of the client API.

::

    conn = (
        DbConnection.builder()                      # generated bindings' DbConnection
        .with_uri("http://localhost:3000")
        .with_database_name("quickstart-chat")
        .with_token(credentials.File("chat").load())
        .on_connect(lambda conn, identity, token: credentials.File("chat").save(token))
        .on_disconnect(lambda ctx, error: print("disconnected", error))
        .build()                                    # threads: then conn.run_threaded()
    )
    conn = await DbConnection.builder()....build_async()   # asyncio

The connection is driven by a driver: the threaded one (``build``; ``run_threaded()``, or
``frame_tick()`` / ``advance_one_message()`` from a game loop) or the asyncio one
(``build_async``; callbacks run on the event loop), or one passed in (``build(driver)``, e.g.
:mod:`spacetimedb_sdk.client.testing`'s in-memory socket). A driver sees only the connection's
:class:`~spacetimedb_sdk.client.session.Session`; callbacks are run by its
:class:`~spacetimedb_sdk.client.dispatch.Dispatcher`. Either way every callback runs on one
thread, in message order, and requests may be sent from any thread.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from spacetimedb_sdk.client.call_future import CallFuture
from spacetimedb_sdk.client.dispatch import Dispatcher
from spacetimedb_sdk.client.events import ErrorContext
from spacetimedb_sdk.client.query import QueryBuilder
from spacetimedb_sdk.client.reconnect import ReconnectPolicy
from spacetimedb_sdk.client.reducers import (
    DynamicRemoteProcedures,
    DynamicRemoteReducers,
    ProcedureCall,
    QueryCall,
    ReducerCall,
)
from spacetimedb_sdk.client.remote_module import RemoteModule
from spacetimedb_sdk.client.session import Session
from spacetimedb_sdk.client.subscription import SubscriptionBuilder
from spacetimedb_sdk.client.table import DynamicRemoteTables
from spacetimedb_sdk.compression import Compression
from spacetimedb_sdk.core.connection import ConnectionCore, ConnectionState
from spacetimedb_sdk.core.limits import (
    DEFAULT_MAX_DECOMPRESSED_SIZE,
    DEFAULT_MAX_ROWS_PER_MESSAGE,
    MessageLimits,
)
from spacetimedb_sdk.core.stats import ConnectionStats
from spacetimedb_sdk.core.table_layout import compile_module
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.redaction import protect
from spacetimedb_sdk.schema import ModuleSchema
from spacetimedb_sdk.server_url import parse_server_url

if TYPE_CHECKING:
    from typing_extensions import Self

    from spacetimedb_sdk.client.driver import Driver
    from spacetimedb_sdk.core.effects import Effect

__all__ = ["ConnectionConfig", "DbConnection", "DbConnectionBuilder"]

if TYPE_CHECKING:
    # Defaults let `DbConnection.builder()` without generated bindings type as
    # DbConnection[Any, Any, Any] (PEP 696); at run time plain TypeVars do.
    from typing_extensions import TypeVar as _DefaultTypeVar

    Tables = _DefaultTypeVar("Tables", default=Any)
    Reducers = _DefaultTypeVar("Reducers", default=Any)
    Procedures = _DefaultTypeVar("Procedures", default=Any)
else:
    Tables = TypeVar("Tables")
    Reducers = TypeVar("Reducers")
    Procedures = TypeVar("Procedures")
C = TypeVar("C", bound="DbConnection[Any, Any, Any]")


@dataclass
class ConnectionConfig:
    """Everything the builder collected."""

    uri: str = ""
    database_name: str = ""
    token: str | None = None
    compression: Compression = Compression.GZIP
    confirmed_reads: bool | None = None
    reconnect: ReconnectPolicy | None = None
    open_timeout: float | None = 10.0
    ping_interval: float | None = 20.0
    ping_timeout: float | None = 20.0
    max_message_size: int | None = None
    limits: MessageLimits = field(default_factory=MessageLimits)
    on_connect: list[Callable[..., None]] = field(default_factory=list)
    on_connect_error: list[Callable[..., None]] = field(default_factory=list)
    on_disconnect: list[Callable[..., None]] = field(default_factory=list)
    on_reconnecting: list[Callable[..., None]] = field(default_factory=list)
    on_reconnected: list[Callable[..., None]] = field(default_factory=list)
    on_error: list[Callable[..., None]] = field(default_factory=list)
    on_effects: list[Callable[..., None]] = field(default_factory=list)

    def url(self) -> str:
        """The WebSocket URL: ``{ws|wss}://host[/base]/v1/database/<db>/subscribe?...``."""
        if not self.uri:
            raise ValueError("with_uri() is required")
        if not self.database_name:
            raise ValueError("with_database_name() is required")
        parts = urlsplit(parse_server_url(self.uri, default_scheme="ws").ws)
        if parts.query or parts.fragment:
            raise ValueError("the URI must not have a query string or fragment")
        path = (
            parts.path.rstrip("/") + f"/v1/database/{quote(self.database_name, safe='')}/subscribe"
        )
        query: dict[str, str] = {"compression": self.compression.value}
        if self.confirmed_reads is not None:
            query["confirmed"] = "true" if self.confirmed_reads else "false"
        return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))

    def headers(self, token: str | None) -> dict[str, str]:
        """Request headers: ``Authorization: Bearer <token>`` when there is a token."""
        protect(token)  # whatever its form, the token is masked in the logs from now on
        return {"Authorization": f"Bearer {token}"} if token else {}


class DbConnection(Generic[Tables, Reducers, Procedures]):
    """A connection to one database: tables (``db``), ``reducers``, ``procedures``."""

    #: The module this class is bound to (set by generated bindings).
    MODULE: ClassVar[RemoteModule | None] = None
    TABLES: ClassVar[type[Any]] = DynamicRemoteTables
    REDUCERS: ClassVar[type[Any]] = DynamicRemoteReducers
    PROCEDURES: ClassVar[type[Any]] = DynamicRemoteProcedures

    db: Tables
    reducers: Reducers
    procedures: Procedures

    def __init__(self, config: ConnectionConfig, module: RemoteModule) -> None:
        self._config = config
        self._module = module
        self._core = ConnectionCore(
            compile_module(module.schema, module.bindings), token=config.token, limits=config.limits
        )
        self._core.on_outgoing = self._wake
        self._driver: Driver | None = None
        #: The callback registries and the code that runs callbacks.
        self._dispatcher = Dispatcher(self, self._core.module, config.on_error, config.on_effects)
        #: What the driver sees: lifecycle decisions and their reporting.
        self._session = Session(self, config, self._core, self._dispatcher)
        self._log = self._dispatcher.log
        self._from: QueryBuilder | None = None
        self.db = self.TABLES(self)
        self.reducers = self.REDUCERS(self)
        self.procedures = self.PROCEDURES(self)

    @classmethod
    def builder(cls) -> DbConnectionBuilder[Self]:
        """Start configuring a connection of this class."""
        return DbConnectionBuilder(cls)

    # ============================================================================ properties
    @property
    def identity(self) -> Identity | None:
        """This client's identity (None until ``InitialConnection`` has been processed)."""
        return self._core.identity if self._session.lifecycle.ever_connected else None

    @property
    def connection_id(self) -> ConnectionId | None:
        """This connection's id (None until connected)."""
        return self._core.connection_id if self._session.lifecycle.ever_connected else None

    @property
    def token(self) -> str | None:
        """The long-lived token: the one given, or the one minted for an anonymous client."""
        return self._core.token

    @property
    def is_active(self) -> bool:
        """True while connected and not closing."""
        return self._core.state is ConnectionState.CONNECTED and not self._session.closing

    @property
    def is_closed(self) -> bool:
        """True once the connection has closed for good (``on_disconnect`` has run)."""
        return self._session.is_closed

    @property
    def stats(self) -> ConnectionStats:
        """Request counts and latencies, traffic and apply times."""
        return self._core.stats

    @property
    def module(self) -> RemoteModule:
        """The module this connection was built for."""
        return self._module

    @property
    def from_(self) -> QueryBuilder:
        """The typed query builder: ``conn.from_.user.where(lambda u: u.online == True)``."""
        if self._from is None:
            self._from = QueryBuilder(self._core.module, self.db)
        return self._from

    @property
    def core(self) -> ConnectionCore:
        """The sans-I/O core (cache, query sets, pending requests) behind this connection."""
        return self._core

    # ============================================================================ requests
    def subscription_builder(self) -> SubscriptionBuilder:
        """Start building a subscription."""
        return SubscriptionBuilder(self)

    def one_off_query(self, sql: str) -> QueryCall[list[Any]]:
        """Run one query once on the server; the answer is a list of decoded rows."""
        call: QueryCall[list[Any]] = QueryCall(self, sql)
        call.request_id = self._core.one_off_query(sql, call).request_id
        return call

    def _call_reducer(self, name: str, args: tuple[Any, ...]) -> ReducerCall:
        call = ReducerCall(self, name, args)
        call.request_id = self._core.call_reducer(name, args, call).request_id
        return call

    def _call_procedure(self, name: str, args: tuple[Any, ...], codec: Any) -> ProcedureCall[Any]:
        call: ProcedureCall[Any] = ProcedureCall(self, name, args)
        call.request_id = self._core.call_procedure(name, args, call, codec).request_id
        return call

    def disconnect(self) -> None:
        """Close the connection; ``on_disconnect`` runs (on the callback thread) once closed.

        Pending calls fail with DisconnectedError. Calling it again does nothing.
        """
        if not self._session.request_close():
            return
        driver = self._driver
        if driver is not None:
            driver.request_close()

    # ============================================================================ run loops
    def _need_driver(self) -> Driver:
        if self._driver is None:
            raise RuntimeError("the connection has no driver: build() or build_async() it")
        return self._driver

    def run_threaded(self) -> threading.Thread:
        """Process messages on a background thread (callbacks run there) until closed."""
        return self._need_driver().run_threaded()

    def frame_tick(self) -> int:
        """Process every message received so far on this thread; return how many (game loops)."""
        return self._need_driver().frame_tick()

    def advance_one_message(self) -> bool:
        """Process one received message if one is waiting; True if one was processed."""
        return self._need_driver().advance_one_message()

    def advance_one_message_blocking(self, timeout: float | None = None) -> bool:
        """Wait for one message and process it; False on timeout or once closed."""
        return self._need_driver().advance_one_message_blocking(timeout)

    def process_frame(self, frame: bytes) -> None:
        """Apply one server frame (compression tag included) as if the socket had delivered it,
        running its callbacks on this thread: call it only where callbacks may run."""
        self._session.frame_received(frame)

    async def run_async(self) -> None:
        """Wait until the connection closes (asyncio connections; callbacks run meanwhile)."""
        await self._need_driver().run_async()

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Block until closed for good (``on_disconnect`` has run); False on timeout."""
        return self._need_driver().wait_closed(timeout)

    @property
    def connected(self) -> CallFuture[DbConnection[Any, Any, Any]]:
        """Completes (with the connection) once ``on_connect`` has run; fails on connect errors."""
        return self._session.connected_future

    # ========================================================================= context managers
    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disconnect()
        driver = self._driver
        if driver is not None and not driver.in_callback_thread():
            driver.wait_closed(timeout=5.0)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.disconnect()
        if self._driver is not None:
            await self._driver.run_async()

    # ========================================================== internals of the client API
    def _attach(self, driver: Driver) -> Session:
        """Hand the connection to ``driver``; return the session it drives."""
        if self._driver is not None:
            raise RuntimeError("the connection already has a driver")
        self._driver = driver
        return self._session

    def _wake(self) -> None:
        driver = self._driver
        if driver is not None:
            driver.wake()

    def _wait_for(self, future: concurrent.futures.Future[Any], timeout: float | None) -> None:
        driver = self._driver
        if driver is None:
            concurrent.futures.wait([future], timeout=timeout)
        else:
            driver.wait_for(future, timeout)

    def _invoke(self, what: str, callback: Callable[..., Any], *args: Any) -> None:
        """Run a user callback; an exception is logged and reported, never propagated."""
        self._dispatcher.invoke(what, callback, *args)

    def __repr__(self) -> str:
        state = "closed" if self.is_closed else self._core.state.value
        return f"<{type(self).__name__} {self._config.database_name!r} {state}>"


class DbConnectionBuilder(Generic[C]):
    """Collects options and callbacks, then opens a connection (``build`` / ``build_async``)."""

    def __init__(self, cls: type[C]) -> None:
        self._cls = cls
        self._config = ConnectionConfig()
        self._module: RemoteModule | None = cls.MODULE

    # ------------------------------------------------------------------------------ options
    def with_uri(self, uri: str) -> DbConnectionBuilder[C]:
        """The server: ``http(s)://`` or ``ws(s)://host[:port][/base]``."""
        self._config.uri = str(uri)
        return self

    def with_database_name(self, name_or_identity: str) -> DbConnectionBuilder[C]:
        """The database, by name or identity."""
        self._config.database_name = str(name_or_identity)
        return self

    with_module_name = with_database_name

    def with_token(self, token: str | None) -> DbConnectionBuilder[C]:
        """Connect as the identity of ``token`` (None: anonymous, the server mints one)."""
        self._config.token = token or None
        return self

    def with_compression(self, compression: Compression | str | None) -> DbConnectionBuilder[C]:
        """Server-to-client compression: ``Compression.GZIP`` (default), ``BROTLI`` or ``NONE``."""
        if compression is None:
            compression = Compression.NONE
        elif isinstance(compression, str):
            lookup = {c.value.lower(): c for c in Compression}
            found = lookup.get(compression.lower())
            if found is None:
                raise ValueError(f"unknown compression {compression!r} (None, Gzip or Brotli)")
            compression = found
        self._config.compression = compression
        return self

    def with_confirmed_reads(self, confirmed: bool) -> DbConnectionBuilder[C]:
        """Only receive updates once they are durable (the server default is on for v2)."""
        self._config.confirmed_reads = bool(confirmed)
        return self

    def with_auto_reconnect(
        self, policy: ReconnectPolicy | bool | None = True
    ) -> DbConnectionBuilder[C]:
        """Reconnect after an unexpected drop (see :mod:`~spacetimedb_sdk.client.reconnect`)."""
        if policy is True:
            policy = ReconnectPolicy()
        self._config.reconnect = policy or None
        return self

    def with_module(self, module: RemoteModule | ModuleSchema) -> DbConnectionBuilder[C]:
        """The module, for connections without generated bindings (rows become dicts)."""
        self._module = module if isinstance(module, RemoteModule) else RemoteModule(module)
        return self

    def with_timeouts(
        self,
        *,
        open_timeout: float | None = 10.0,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
    ) -> DbConnectionBuilder[C]:
        """Handshake timeout and keep-alive pings (seconds; None disables)."""
        self._config.open_timeout = open_timeout
        self._config.ping_interval = ping_interval
        self._config.ping_timeout = ping_timeout
        return self

    def with_limits(
        self,
        *,
        max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE,
        max_rows_per_message: int = DEFAULT_MAX_ROWS_PER_MESSAGE,
    ) -> DbConnectionBuilder[C]:
        """What one server frame may cost: its decompressed size (256 MiB) and rows per message
        (2,000,000). A frame past a limit is refused whole and reported to ``on_error`` as a
        ``LimitExceededError``; the connection stays up."""
        self._config.limits = MessageLimits(max_decompressed_size, max_rows_per_message)
        return self

    # ------------------------------------------------------------------------------ callbacks
    def on_connect(self, callback: Callable[[C, Identity, str], None]) -> DbConnectionBuilder[C]:
        """``callback(conn, identity, token)`` once connected (save ``token`` to keep the
        identity)."""
        self._config.on_connect.append(callback)
        return self

    def on_connect_error(
        self, callback: Callable[[ErrorContext, Exception], None]
    ) -> DbConnectionBuilder[C]:
        """``callback(ctx, error)`` when connecting fails (before ``on_connect``)."""
        self._config.on_connect_error.append(callback)
        return self

    def on_disconnect(
        self, callback: Callable[[ErrorContext, Exception | None], None]
    ) -> DbConnectionBuilder[C]:
        """``callback(ctx, error)`` once a connection that was up has closed (``error`` None
        when ``disconnect()`` was called)."""
        self._config.on_disconnect.append(callback)
        return self

    def on_reconnecting(
        self, callback: Callable[[C, int, float, BaseException | None], None]
    ) -> DbConnectionBuilder[C]:
        """``callback(conn, attempt, delay, error)`` before each reconnect attempt."""
        self._config.on_reconnecting.append(callback)
        return self

    def on_reconnected(
        self, callback: Callable[[C, Identity, str], None]
    ) -> DbConnectionBuilder[C]:
        """``callback(conn, identity, token)`` after a successful reconnect."""
        self._config.on_reconnected.append(callback)
        return self

    def on_error(
        self, callback: Callable[[ErrorContext, Exception], None]
    ) -> DbConnectionBuilder[C]:
        """``callback(ctx, error)`` for errors that are not fatal: a callback raised
        (CallbackError) or the server sent something undecodable (ProtocolError)."""
        self._config.on_error.append(callback)
        return self

    def on_effects(self, listener: Callable[[C, list[Effect]], None]) -> DbConnectionBuilder[C]:
        """``listener(conn, effects)`` with each server message's core effects, after that
        message's callbacks ran (on the callback thread). For adapters such as the 0.7 API;
        an exception is logged and the next message is processed as usual."""
        self._config.on_effects.append(listener)
        return self

    # ------------------------------------------------------------------------------ building
    def _make(self) -> C:
        module = self._module
        if module is None:
            raise ValueError(
                f"{self._cls.__name__} has no MODULE: use generated bindings or with_module()"
            )
        src = self._config
        config = replace(
            src,
            on_connect=list(src.on_connect),
            on_connect_error=list(src.on_connect_error),
            on_disconnect=list(src.on_disconnect),
            on_reconnecting=list(src.on_reconnecting),
            on_reconnected=list(src.on_reconnected),
            on_error=list(src.on_error),
            on_effects=list(src.on_effects),
        )
        config.url()  # validate now, before any I/O
        return self._cls(config, module)

    def build(self, driver: Driver | None = None) -> C:
        """Connect with the threaded driver (or ``driver``); return once the socket is open.

        Then call ``run_threaded()``, or ``frame_tick()`` regularly. Raises ConnectError (after
        running ``on_connect_error``) when the handshake fails. ``driver`` plugs in another
        blocking driver, e.g. :class:`spacetimedb_sdk.client.testing.OfflineSocket`.
        """
        if driver is None:
            from spacetimedb_sdk.sync.connection import ThreadedDriver

            driver = ThreadedDriver()
        conn = self._make()
        driver.connect(conn._attach(driver))
        return conn

    def build_async(self, driver: Driver | None = None) -> AsyncBuild[C]:
        """Connect with the asyncio driver (or ``driver``): ``conn = await
        builder.build_async()`` returns once ``on_connect`` has run; ``async with
        builder.build_async() as conn:`` also disconnects at the end."""
        return AsyncBuild(self, driver)


class AsyncBuild(Generic[C]):
    """The result of ``build_async()``: await it, or use it with ``async with``."""

    def __init__(self, builder: DbConnectionBuilder[C], driver: Driver | None = None) -> None:
        self._builder = builder
        self._driver = driver
        self._conn: C | None = None

    async def _build(self) -> C:
        driver = self._driver
        if driver is None:
            from spacetimedb_sdk.asyncio.connection import AsyncioDriver

            driver = AsyncioDriver()
        conn = self._builder._make()
        await driver.connect_async(conn._attach(driver))
        self._conn = conn
        return conn

    def __await__(self) -> Generator[Any, None, C]:
        return self._build().__await__()

    async def __aenter__(self) -> C:
        return await self._build()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._conn is not None:
            await self._conn.__aexit__(exc_type, exc, tb)
