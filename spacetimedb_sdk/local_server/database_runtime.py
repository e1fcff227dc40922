"""One hosted database inside the network server: its thread, subscribers and schedule timer.

Threading: a :class:`~spacetimedb_sdk.local_server.host.Database` runs one thing at a time, and
every commit waits for the disk. So each database gets one worker thread that does *all* of its
work, in submission order: reducer and procedure calls, lifecycle reducers, subscription
evaluation, one-off queries, SQL and scheduled calls. The event loop stays free for sockets.

Delivery: messages for WebSocket clients are encoded on the worker and handed to the loop with
``call_soon_threadsafe`` in the order they were produced, so per connection:

* responses arrive in request order (a session waits for each request's job, and the job
  posts its answer before it finishes);
* each transaction yields at most one message, in commit order, and a subscription's initial
  rows come after every earlier update and before every later one.

After each commit the subscription manager computes every connection's row changes; the caller
of a WebSocket ``CallReducer`` gets them inside its ``ReducerResult``, everyone else affected
gets a ``TransactionUpdate`` (never an empty one).

Procedures: as on the real server, a procedure is started in its connection's request order but
runs on a thread of its own, so the database is free while it waits (``ctx.sleep_until``,
``ctx.http``); each ``with_tx`` block is a job on the database thread, and the
``ProcedureResult`` is posted by a job queued after the procedure's last transaction, so it
follows that transaction's updates. The connection's later requests (a reducer call, say) do not
wait for the procedure. Scheduled calls have one slot, as the real scheduler has: while a
scheduled procedure runs, nothing else scheduled starts.

Connections are keyed by ``(identity, connection id)``, as the real server keys its clients, so
another identity reusing a connection id gets a session of its own; the same identity reusing a
live connection id is refused (``st_client`` is unique on both).

No exception escapes a database job into the event loop as anything but an ``Exception``: the
host already turns module failures into call outcomes, and a ``BaseException`` that still gets
out (``SystemExit``, ``KeyboardInterrupt``) becomes :class:`DatabaseJobError`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Final, TypeVar

import blake3

from spacetimedb_sdk.algebraic_type import STRING, ProductType, Typespace
from spacetimedb_sdk.bsatn import compile_codec
from spacetimedb_sdk.errors import SatsJsonError, SpacetimeDBError
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.local_server.catalog import DatabaseCatalog
from spacetimedb_sdk.local_server.host import Database
from spacetimedb_sdk.local_server.outcomes import (
    CallStatus,
    CommitInfo,
    ProcedureCallOutcome,
    ReducerCallOutcome,
    TxKind,
)
from spacetimedb_sdk.local_server.request_auth import token_payload
from spacetimedb_sdk.local_server.sql import SqlError
from spacetimedb_sdk.local_server.sql_endpoint import execute_sql
from spacetimedb_sdk.local_server.subscriptions import QuerySetInUseError, SubscriptionManager
from spacetimedb_sdk.local_server.untyped_json import value_to_untyped_json
from spacetimedb_sdk.messages import (
    CallProcedureMsg,
    CallReducerMsg,
    InternalErrorOutcome,
    OneOffQueryMsg,
    ProcedureResultMsg,
    QuerySetUpdate,
    ReducerErr,
    ReducerOk,
    ReducerOutcome,
    ReducerResultMsg,
    Returned,
    ServerMessage,
    SubscribeMsg,
    TransactionUpdateMsg,
    UnsubscribeMsg,
    encode_server_message,
)
from spacetimedb_sdk.module.auth import AuthCtx
from spacetimedb_sdk.raw_module_def import encode_raw_module_def, raw_module_def_to_json
from spacetimedb_sdk.sats_json import value_from_json
from spacetimedb_sdk.timestamp import TimeDuration, Timestamp

__all__ = [
    "ClientKey",
    "ClientRequest",
    "ClientSink",
    "DatabaseJobError",
    "DatabaseRuntime",
    "DatabaseStoppingError",
    "HttpAnswer",
]

log = logging.getLogger("spacetimedb_sdk.local_server")

#: Receives encoded server messages for one connection, on the event-loop thread.
ClientSink = Callable[[list[bytes]], None]
#: One live WebSocket connection.
ClientKey = tuple[Identity, ConnectionId]
#: What a WebSocket client may ask of a database.
ClientRequest = CallReducerMsg | SubscribeMsg | UnsubscribeMsg | OneOffQueryMsg | CallProcedureMsg
T = TypeVar("T")


class DatabaseJobError(SpacetimeDBError):
    """A database job raised a ``BaseException`` (e.g. ``SystemExit`` from module code)."""


class DatabaseStoppingError(SpacetimeDBError):
    """A procedure waited or opened a transaction while its database was being shut down."""


#: Marks the threads that databases run on (see :func:`_worker`).
_ON_DATABASE_THREAD = threading.local()


def _mark_database_thread() -> None:
    _ON_DATABASE_THREAD.active = True


def _guarded(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn`` on the worker so that only ``Exception`` subclasses reach the event loop
    (a ``SystemExit`` there would end the whole server)."""
    try:
        return fn(*args)
    except Exception:
        raise
    except BaseException as exc:
        log.error("database job %s raised %r", getattr(fn, "__name__", fn), exc, exc_info=exc)
        raise DatabaseJobError(f"{type(exc).__name__} escaped a database job") from exc


_STRING_CODEC: Final = compile_codec(STRING)


@dataclass
class HttpAnswer:
    """An HTTP response produced by the database thread."""

    status: int
    body: str = ""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(eq=False)
class _WebSocketCall:
    """The ``request`` object of a WebSocket reducer call: collects the caller's own updates."""

    key: ClientKey
    own_updates: list[QuerySetUpdate] = field(default_factory=list)


def _reducer_outcome(outcome: ReducerCallOutcome, own: list[QuerySetUpdate]) -> ReducerOutcome:
    if outcome.status is CallStatus.OK:
        return ReducerOk(b"", TransactionUpdateMsg(own))
    message = outcome.message or ""
    if outcome.status is CallStatus.USER_ERROR:
        return ReducerErr(_STRING_CODEC.encode(message))
    return InternalErrorOutcome(message)


def _procedure_result(outcome: ProcedureCallOutcome, request_id: int) -> ProcedureResultMsg:
    """The real server's message: a failure carries the Unix epoch and no duration."""
    if outcome.status is CallStatus.OK:
        return ProcedureResultMsg(
            Returned(outcome.return_value),
            outcome.timestamp,
            TimeDuration(outcome.duration_micros),
            request_id,
        )
    return ProcedureResultMsg(
        InternalErrorOutcome(outcome.message or ""), Timestamp(0), TimeDuration(0), request_id
    )


class DatabaseRuntime:
    """A :class:`Database` served over the network (create and use on the event loop)."""

    def __init__(
        self,
        database: Database,
        loop: asyncio.AbstractEventLoop,
        executor: concurrent.futures.ThreadPoolExecutor | None = None,
    ) -> None:
        self.database = database
        self.name = database.name
        self._loop = loop
        self._executor = executor or _worker(database.name)
        # Worker-thread state.
        self.catalog = DatabaseCatalog(database)
        self.subscriptions = SubscriptionManager(database, self.catalog)
        # Keyed by ClientKey; typed as the subscription manager's keys, which are the same.
        self._sinks: dict[Hashable, ClientSink] = {}
        #: ``ctx.sender_auth`` of each connection's calls (its token's claims).
        self._auth: dict[ClientKey, AuthCtx] = {}
        #: True while a scheduled procedure holds the schedule's one slot.
        self._schedule_busy = False
        self._poisoned: set[ClientKey] = set()
        self._post_buffer: list[tuple[ClientSink, list[bytes]]] | None = None
        # Loop-thread state.
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due: int | None = None
        self._closed = False
        #: Set (from the loop) when the server stops: queued WebSocket requests are skipped.
        self._closing = False
        #: Set with ``_closing``: wakes sleeping procedures, which then fail.
        self._stopping = threading.Event()
        database.add_commit_listener(self._on_commit)
        self._schema_v9 = raw_module_def_to_json(database.schema.to_raw_v9(), wrapped=False)
        self._schema_v10 = raw_module_def_to_json(database.schema.to_raw_v10(), wrapped=False)
        digest = blake3.blake3(encode_raw_module_def(database.raw_module_def())).digest()
        self.module_hash = f"0x{int.from_bytes(digest, 'big'):x}"

    @classmethod
    async def open(
        cls,
        name: str,
        module: str | Path | ModuleType,
        *,
        data_dir: str | Path | None = None,
        owner: Identity | None = None,
    ) -> DatabaseRuntime:
        """Load the module and open (or create) the database on its own worker thread."""
        loop = asyncio.get_running_loop()
        executor = _worker(name)
        try:
            database = await loop.run_in_executor(
                executor, _guarded, functools.partial(Database.open, name, module, data_dir, owner)
            )
            return await loop.run_in_executor(executor, _guarded, cls, database, loop, executor)
        except BaseException:
            executor.shutdown(wait=False)
            raise

    # ============================================================================ plumbing
    @property
    def identity(self) -> Identity:
        """The database identity."""
        return self.database.identity

    @property
    def owner_identity(self) -> Identity:
        """The database owner's identity."""
        return self.database.owner_identity

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise RuntimeError(f"database {self.name} is shut down")
        return await self._loop.run_in_executor(self._executor, _guarded, fn, *args)

    def _post(self, batch: list[tuple[ClientSink, list[bytes]]]) -> None:
        """From the worker: hand encoded messages to their sinks on the loop, in order."""
        if self._post_buffer is not None:
            self._post_buffer.extend(batch)
        elif batch:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._loop.call_soon_threadsafe(_deliver, batch)

    def _send(self, key: ClientKey, *messages: ServerMessage) -> None:
        sink = self._sinks.get(key)
        if sink is not None:
            self._post([(sink, [encode_server_message(m) for m in messages])])

    def start(self) -> None:
        """Arm the schedule timer for rows already scheduled (call once, on the loop)."""
        self._executor.submit(_guarded, self._rearm_schedule_timer)

    def begin_shutdown(self) -> None:
        """Skip WebSocket requests queued but not yet started (the server is stopping)."""
        self._closing = True
        self._stopping.set()
        self.database.module_log.close_followers()

    async def close(self) -> None:
        """Stop timers, wait for queued work, release the data directory."""
        if self._closed:
            return
        self._closing = True
        self._stopping.set()
        self.database.module_log.close_followers()
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.database.remove_commit_listener(self._on_commit)
        await self._loop.run_in_executor(self._executor, _guarded, self.database.close)
        self._executor.shutdown(wait=True)

    # ============================================================================ commits
    def _on_commit(self, info: CommitInfo) -> None:
        """Commit listener (worker thread): fan the transaction out to subscribers."""
        caller_call = info.request if isinstance(info.request, _WebSocketCall) else None
        if caller_call is not None and info.kind is not TxKind.REDUCER:
            caller_call = None  # e.g. a procedure's inner transaction: an ordinary update
        if self.subscriptions.has_subscribers and (info.delta.tables or info.delta.system):
            result = self.subscriptions.transaction_updates(info.delta)
            batch: list[tuple[ClientSink, list[bytes]]] = []
            # Errors first, as the real server sends them: clients drop a dead set's rows
            # before any update arrives.
            for client, errors in result.errors.items():
                sink = self._sinks.get(client)
                if sink is not None:
                    batch.append((sink, [encode_server_message(e) for e in errors]))
            encoded: dict[tuple[Any, ...], bytes] = {}
            for client, updates in result.updates.items():
                if caller_call is not None and client == caller_call.key:
                    caller_call.own_updates = updates
                    continue
                sink = self._sinks.get(client)
                if sink is None:
                    continue
                # Subscribers of the same queries under the same set ids get identical bytes:
                # the row lists are shared objects, so their ids identify them in this commit.
                key = tuple(
                    (qs.query_set_id.id, tuple((t.table_name, *map(id, t.rows)) for t in qs.tables))
                    for qs in updates
                )
                message = encoded.get(key)
                if message is None:
                    message = encoded[key] = encode_server_message(TransactionUpdateMsg(updates))
                batch.append((sink, [message]))
            self._post(batch)
        self._rearm_schedule_timer()

    # ============================================================================ schedules
    def _rearm_schedule_timer(self) -> None:
        due = self.database.next_scheduled_time()
        micros = None if due is None else due.micros_since_unix_epoch
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            self._loop.call_soon_threadsafe(self._arm_timer, micros)

    def _arm_timer(self, due_micros: int | None) -> None:
        if self._closed or due_micros == self._timer_due:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_due = due_micros
        if due_micros is None:
            return
        delay = max(0.0, due_micros / 1_000_000 - time.time())
        self._timer = self._loop.call_later(delay, self._fire_timer)

    def _fire_timer(self) -> None:
        self._timer = None
        self._timer_due = None
        if not self._closed:
            with contextlib.suppress(RuntimeError):  # the executor is shutting down
                self._executor.submit(_guarded, self._run_due_schedules)

    def _run_due_schedules(self) -> None:
        if self._schedule_busy:
            return  # the running scheduled procedure re-runs the schedule when it ends
        try:
            self.database.run_due_schedules(
                start_procedure=self._start_scheduled_procedure, on_database=self._on_database
            )
        except BaseException:  # the timer must keep running whatever happened
            log.exception("scheduled calls of database %s failed", self.name)
        self._rearm_schedule_timer()

    def _start_scheduled_procedure(self, run: Callable[[], ProcedureCallOutcome]) -> None:
        """(Worker thread) Run a scheduled procedure on a thread of its own, holding the
        schedule's slot until it ends."""
        self._schedule_busy = True

        def finished() -> None:
            self._schedule_busy = False
            self._run_due_schedules()

        def body() -> None:
            try:
                run()
            finally:
                self._submit_quietly(finished)

        _start_thread(body, f"stdb-proc-{self.name}-scheduled")

    # ============================================================================ procedures
    def _on_database(self, job: Callable[[], T]) -> T:
        """Run ``job`` on the database thread (directly when already on it) and return its
        result; a procedure's ``with_tx`` goes through here."""
        if getattr(_ON_DATABASE_THREAD, "active", False):
            return job()
        if self._closing:
            raise DatabaseStoppingError(f"database {self.name} is shutting down")
        # Not _guarded: what the module raised (SystemExit too) goes back to the procedure.
        return self._executor.submit(job).result()

    def _sleep(self, wake_at: Timestamp) -> Timestamp:
        """``ctx.sleep_until`` of procedures: wait off the database thread; a server that
        stops meanwhile ends the wait with :class:`DatabaseStoppingError`."""
        delay = (wake_at.micros_since_unix_epoch - Timestamp.now().micros_since_unix_epoch) / 1e6
        if self._stopping.wait(max(delay, 0.0)):
            raise DatabaseStoppingError(f"database {self.name} is shutting down")
        return Timestamp.now()

    async def _in_own_thread(self, fn: Callable[[], T]) -> T:
        """``fn()`` on a new thread (a waiting procedure must not hold a pool's thread)."""
        loop = self._loop
        done: asyncio.Future[T] = loop.create_future()

        def settle(outcome: Callable[[], None]) -> None:
            if not done.done():
                outcome()

        def body() -> None:
            try:
                result = fn()
            except BaseException as exc:  # handed to the awaiting request, not raised here
                error = exc if isinstance(exc, Exception) else DatabaseJobError(repr(exc))
                loop.call_soon_threadsafe(settle, functools.partial(done.set_exception, error))
            else:
                loop.call_soon_threadsafe(settle, functools.partial(done.set_result, result))

        _start_thread(body, f"stdb-proc-{self.name}-http")
        return await done

    def _submit_quietly(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue ``fn`` on the database thread unless the database has shut down."""
        with contextlib.suppress(RuntimeError):  # the executor is shut down
            self._executor.submit(_guarded, fn, *args)

    # ============================================================================ WebSocket work
    async def connect(
        self,
        identity: Identity,
        connection_id: ConnectionId,
        sink: ClientSink,
        token: str | None = None,
    ) -> str | None:
        """Run ``client_connected``; None when accepted (the sink then gets messages). The
        connection's calls see ``token``'s claims in ``ctx.sender_auth``."""
        auth = AuthCtx.from_jwt_payload(token_payload(token)) if token is not None else None
        return await self._run(self._connect, identity, connection_id, sink, auth)

    def _connect(
        self,
        identity: Identity,
        connection_id: ConnectionId,
        sink: ClientSink,
        auth: AuthCtx | None = None,
    ) -> str | None:
        refusal = self.database.client_connected(identity, connection_id, sender_auth=auth)
        if refusal is None:
            key = (identity, connection_id)
            self._sinks[key] = sink
            if auth is not None:
                self._auth[key] = auth
            self.subscriptions.add_client(key, identity)
        return refusal

    async def disconnect(self, identity: Identity, connection_id: ConnectionId) -> None:
        """Forget the connection's subscriptions and run ``client_disconnected``."""
        await self._run(self._disconnect, identity, connection_id)

    def _disconnect(self, identity: Identity, connection_id: ConnectionId) -> None:
        key = (identity, connection_id)
        self._sinks.pop(key, None)
        self._poisoned.discard(key)
        auth = self._auth.pop(key, None)
        self.subscriptions.remove_client(key)
        self.database.client_disconnected(identity, connection_id, sender_auth=auth)

    def submit_requests(
        self, identity: Identity, connection_id: ConnectionId, requests: Sequence[ClientRequest]
    ) -> asyncio.Future[None]:
        """Queue a connection's requests, run in order as one job; answers go to its sink.

        One job per batch keeps the per-request cost low when a client pipelines (thread
        hand-offs dominate otherwise). The future fails with :class:`QuerySetInUseError` when a
        Subscribe names an active set; the connection's later requests are then skipped (it is
        about to be closed). Requests still queued when the server stops are skipped too.
        """
        if self._closed:
            raise RuntimeError(f"database {self.name} is shut down")
        key = (identity, connection_id)
        return self._loop.run_in_executor(
            self._executor, _guarded, self._run_requests, key, list(requests)
        )

    def _run_requests(self, key: ClientKey, requests: list[ClientRequest]) -> None:
        # What a batch of several requests delivers (to anyone) is posted once, at its end, in
        # production order; a lone request posts as it goes (subscribers hear of a commit
        # before the caller's answer is even encoded).
        buffered: list[tuple[ClientSink, list[bytes]]] = []
        self._post_buffer = buffered if len(requests) > 1 else None
        try:
            for request in requests:
                if key in self._poisoned or key not in self._sinks or self._closing:
                    return
                if isinstance(request, CallReducerMsg):
                    self._call_reducer(key, request)
                elif isinstance(request, SubscribeMsg):
                    self._subscribe(key, request)
                elif isinstance(request, UnsubscribeMsg):
                    self._send(key, self.subscriptions.unsubscribe(key, request))
                elif isinstance(request, OneOffQueryMsg):
                    self._send(key, self.subscriptions.one_off_query(key[0], request))
                else:
                    self._call_procedure(key, request)
        finally:
            self._post_buffer = None
            self._post(buffered)

    def _subscribe(self, key: ClientKey, request: SubscribeMsg) -> None:
        try:
            answer = self.subscriptions.subscribe(key, request)
        except QuerySetInUseError:
            self._poisoned.add(key)
            raise
        self._send(key, answer)

    def _call_reducer(self, key: ClientKey, request: CallReducerMsg) -> None:
        call = _WebSocketCall(key)
        identity, connection_id = key
        outcome = self.database.call_reducer(
            request.reducer, request.args, identity, connection_id, request=call,
            sender_auth=self._auth.get(key),
        )  # fmt: skip
        result = _reducer_outcome(outcome, call.own_updates)
        self._send(key, ReducerResultMsg(request.request_id, outcome.timestamp, result))

    def _call_procedure(self, key: ClientKey, request: CallProcedureMsg) -> None:
        """Start the procedure on a thread of its own (see the module docstring)."""
        identity, connection_id = key
        auth = self._auth.get(key)

        def body() -> None:
            outcome = self.database.call_procedure(
                request.procedure, request.args, identity, connection_id,
                sender_auth=auth, on_database=self._on_database, sleep=self._sleep,
            )  # fmt: skip
            self._submit_quietly(self._send, key, _procedure_result(outcome, request.request_id))

        _start_thread(body, f"stdb-proc-{self.name}")

    # ============================================================================ HTTP work
    async def http_sql(self, identity: Identity, text: str) -> HttpAnswer:
        """``POST …/sql`` inside a short-lived connection (connect, SQL, disconnect)."""
        return await self._run(self._http_sql, identity, text)

    def _http_sql(self, identity: Identity, text: str) -> HttpAnswer:
        connection_id = ConnectionId.random()
        started = time.perf_counter()
        refusal = self.database.client_connected(identity, connection_id)
        if refusal is not None:
            return HttpAnswer(403, refusal)
        try:
            results = execute_sql(self.database, self.catalog, identity, connection_id, text)
            answer = HttpAnswer(200, json.dumps(results, separators=(",", ":")), "application/json")
        except SqlError as exc:
            answer = HttpAnswer(400, str(exc))
        finally:
            self.database.client_disconnected(identity, connection_id)
        answer.headers["spacetime-execution-duration-micros"] = str(
            int((time.perf_counter() - started) * 1_000_000)
        )
        return answer

    async def http_call(
        self, identity: Identity, function: str, body: Any, token: str | None = None
    ) -> HttpAnswer:
        """``POST …/call/<function>`` with parsed JSON ``body`` (connect, call, disconnect);
        the call sees ``token``'s claims in ``ctx.sender_auth``. A procedure runs off the
        database thread, as over WebSocket."""
        auth = AuthCtx.from_jwt_payload(token_payload(token)) if token is not None else None
        schema = self.database.schema
        procedure = schema.find_procedure(function)
        if schema.find_reducer(function) is not None or procedure is None:
            return await self._run(self._http_call, identity, function, body, auth)
        connection_id = ConnectionId.random()
        refusal = await self._run(self._http_connect, identity, connection_id, auth)
        if refusal is not None:
            return HttpAnswer(403, refusal)
        try:
            run = functools.partial(
                self._http_procedure, identity, connection_id, procedure.name,
                procedure.params_type, procedure.return_type, body, auth,
            )  # fmt: skip
            return await self._in_own_thread(run)
        finally:
            await self._run(
                functools.partial(
                    self.database.client_disconnected, identity, connection_id, sender_auth=auth
                )
            )

    def _http_connect(
        self, identity: Identity, connection_id: ConnectionId, auth: AuthCtx | None
    ) -> str | None:
        return self.database.client_connected(identity, connection_id, sender_auth=auth)

    def _encode_args(self, params: ProductType, body: Any) -> bytes:
        typespace: Typespace = self.database.schema.typespace
        value = value_from_json(params, body, typespace)
        return compile_codec(params, typespace).encode(value)

    def _http_call(
        self, identity: Identity, function: str, body: Any, auth: AuthCtx | None = None
    ) -> HttpAnswer:
        """A reducer call (or the 404 of a function that is neither) on the database thread."""
        connection_id = ConnectionId.random()
        refusal = self.database.client_connected(identity, connection_id, sender_auth=auth)
        if refusal is not None:
            return HttpAnswer(403, refusal)
        try:
            reducer = self.database.schema.find_reducer(function)
            if reducer is None:  # the server falls back to procedures, hence the wording
                return HttpAnswer(404, "No such procedure")
            return self._http_reducer(
                identity, connection_id, reducer.name, reducer.params_type, body, auth
            )
        finally:
            self.database.client_disconnected(identity, connection_id, sender_auth=auth)

    def _http_reducer(
        self,
        identity: Identity,
        connection_id: ConnectionId,
        name: str,
        params: ProductType,
        body: Any,
        auth: AuthCtx | None = None,
    ) -> HttpAnswer:
        try:
            args = self._encode_args(params, body)
        except (SatsJsonError, SpacetimeDBError, TypeError, ValueError, RecursionError) as exc:
            return HttpAnswer(400, f"invalid arguments for reducer {name}: {exc}")
        outcome = self.database.call_reducer(name, args, identity, connection_id, sender_auth=auth)
        headers = {
            "spacetime-energy-used": "0",
            "spacetime-execution-duration-micros": str(outcome.duration_micros),
        }
        status = {
            CallStatus.OK: 200,
            CallStatus.USER_ERROR: 530,
            CallStatus.INTERNAL_ERROR: 530,
            CallStatus.NO_SUCH_FUNCTION: 404,
            CallStatus.LIFECYCLE: 400,
            CallStatus.BAD_ARGS: 400,
        }[outcome.status]
        if outcome.status is CallStatus.OK:
            return HttpAnswer(200, "", headers=headers)
        text = "No such procedure" if status == 404 else (outcome.message or "")
        return HttpAnswer(status, text, headers=headers)

    def _http_procedure(
        self,
        identity: Identity,
        connection_id: ConnectionId,
        name: str,
        params: ProductType,
        return_type: Any,
        body: Any,
        auth: AuthCtx | None = None,
    ) -> HttpAnswer:
        """(A thread of its own) Run the procedure; its transactions go to the database."""
        try:
            args = self._encode_args(params, body)
        except (SatsJsonError, SpacetimeDBError, TypeError, ValueError, RecursionError) as exc:
            return HttpAnswer(400, f"invalid arguments for procedure {name}: {exc}")
        outcome = self.database.call_procedure(
            name, args, identity, connection_id,
            sender_auth=auth, on_database=self._on_database, sleep=self._sleep,
        )  # fmt: skip
        headers = {
            "spacetime-energy-used": "0",
            "spacetime-execution-duration-micros": str(outcome.duration_micros),
        }
        if outcome.status is CallStatus.OK:
            typespace = self.database.schema.typespace
            value = compile_codec(return_type, typespace).decode(outcome.return_value)
            body_json = json.dumps(
                value_to_untyped_json(return_type, value, typespace), separators=(",", ":")
            )
            return HttpAnswer(200, body_json, "application/json", headers)
        status = {
            CallStatus.NO_SUCH_FUNCTION: 404,
            CallStatus.BAD_ARGS: 400,
        }.get(outcome.status, 500)
        return HttpAnswer(status, outcome.message or "", headers=headers)

    # ============================================================================ metadata
    def schema_json(self, version: int) -> dict[str, Any]:
        """The canonical re-exported module def, as the schema endpoint serves it."""
        return self._schema_v10 if version == 10 else self._schema_v9

    def info_json(self) -> dict[str, Any]:
        """``GET /v1/database/<db>``: identities, host type and module hash."""
        return {
            "database_identity": {"__identity__": f"0x{self.identity.value:x}"},
            "owner_identity": {"__identity__": f"0x{self.owner_identity.value:x}"},
            "host_type": {"Wasm": []},
            "initial_program": self.module_hash,
        }


def _worker(name: str) -> concurrent.futures.ThreadPoolExecutor:
    """The one thread a database runs on."""
    return concurrent.futures.ThreadPoolExecutor(
        max_workers=1, thread_name_prefix=f"stdb-db-{name}", initializer=_mark_database_thread
    )


def _start_thread(body: Callable[[], None], name: str) -> None:
    """Run a procedure on a daemon thread (a procedure still waiting when the process exits
    must not keep it alive); whatever escapes it is logged."""

    def guarded() -> None:
        try:
            body()
        except BaseException:
            log.exception("procedure thread %s failed", name)

    threading.Thread(target=guarded, name=name, daemon=True).start()


def _deliver(batch: list[tuple[ClientSink, list[bytes]]]) -> None:
    for sink, messages in batch:
        try:
            sink(messages)
        except Exception:
            log.exception("delivering to a client failed")
