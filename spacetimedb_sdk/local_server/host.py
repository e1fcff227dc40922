"""``Database``: one hosted database running a Python module.

The network layer drives a :class:`Database` from one thread of its own; every method is
synchronous and runs to completion (there is no concurrency inside a database). Procedures are
the exception the host allows for: their code may run on another thread, each ``with_tx``
being handed to the database's thread (``on_database=``)::

    db = Database.open("quickstart-chat", "server/", data_dir="data/chat", owner=owner_identity)
    db.add_commit_listener(on_commit)             # fan-out of every committed transaction
    refusal = db.client_connected(identity, conn)  # None = accepted, else the rejection text
    outcome = db.call_reducer("send_message", args_bsatn, identity, conn, request=request_id)
    db.client_disconnected(identity, conn)
    when = db.next_scheduled_time()                # arm a timer; then db.run_due_schedules()

Reducer calls (docs/protocol.md#reducer-outcomes): arguments are decoded into the module's
own classes; ``SenderError`` gives a user error with its exact text; any other exception
(``SystemExit`` and ``KeyboardInterrupt`` included: module code never ends the host) is logged
with its traceback and reported as ``The instance encountered a fatal error.``; every write of
a failed call is rolled back. With a ``data_dir`` each commit is durable (SQLite, see
:mod:`spacetimedb_sdk.local_server.durability`) before the call returns and before listeners
hear of it. ``init`` runs once, when the database is first created; on a restart the clients
left in ``st_client`` are disconnected (their ``client_disconnected`` runs).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Final, TypeVar

from spacetimedb_sdk.algebraic_type import RefType, Typespace
from spacetimedb_sdk.bsatn import BsatnCodec, ProductBinding, compile_codec
from spacetimedb_sdk.errors import BsatnDecodeError, BsatnError, ModuleDefError, SpacetimeDBError
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.local_server.datastore import Datastore, Transaction
from spacetimedb_sdk.local_server.durability import Durability
from spacetimedb_sdk.local_server.hosted_table import HostedTable
from spacetimedb_sdk.local_server.module_loader import ModuleLoadError, load_module
from spacetimedb_sdk.local_server.module_log import ModuleLog, install_capture, module_code
from spacetimedb_sdk.local_server.outcomes import (
    FATAL_ERROR_TEXT,
    CallStatus,
    CommitInfo,
    ProcedureCallOutcome,
    ReducerCallOutcome,
    TxKind,
)
from spacetimedb_sdk.local_server.scheduler import ScheduleQueue
from spacetimedb_sdk.local_server.sequences import SequenceSpec
from spacetimedb_sdk.local_server.st_client import ClientRow
from spacetimedb_sdk.local_server.system_tables import ST_VAR
from spacetimedb_sdk.local_server.table_handles import DbView, TableHandle
from spacetimedb_sdk.local_server.table_spec import ColumnSpec, IndexSpec, ScheduleSpec, TableSpec
from spacetimedb_sdk.local_server.tx_delta import TableDelta, TxDelta
from spacetimedb_sdk.module.auth import AuthCtx
from spacetimedb_sdk.module.context import ProcedureContext, ReducerContext, TxContext
from spacetimedb_sdk.module.describe import FunctionModel, ModuleModel, build_module_model
from spacetimedb_sdk.module.errors import SenderError
from spacetimedb_sdk.module.http import HttpClient, HttpError, HttpResponse
from spacetimedb_sdk.raw_module_def import FunctionVisibility, Lifecycle, RawModuleDefV10
from spacetimedb_sdk.schedule_at import ScheduleAt
from spacetimedb_sdk.schema import ModuleSchema
from spacetimedb_sdk.timestamp import Timestamp

__all__ = [
    "DUPLICATE_CONNECTION_TEXT",
    "PROCEDURE_FATAL_ERROR_PREFIX",
    "WOULD_BLOCK_TEXT",
    "CommitListener",
    "CommitRefusedError",
    "Database",
    "GenericTx",
    "OnDatabase",
    "ProcedureStarter",
]

log = logging.getLogger("spacetimedb_sdk.local_server")

#: Why a second connection with a live connection's identity and connection id is refused.
DUPLICATE_CONNECTION_TEXT: Final = "this identity is already connected with this connection id"
#: A commit listener; called synchronously after each durable commit.
CommitListener = Callable[[CommitInfo], None]
#: Runs a job where the database may be used (its thread) and returns what the job returns; a
#: procedure's transactions go through it, so the procedure itself may run on another thread.
OnDatabase = Callable[[Callable[[], Any]], Any]
#: Takes a scheduled procedure's run (a job to call off the database thread); see
#: :meth:`Database.run_due_schedules`.
ProcedureStarter = Callable[[Callable[[], "ProcedureCallOutcome"]], None]
#: How a failed procedure is reported, as the real server words it; the exception follows.
PROCEDURE_FATAL_ERROR_PREFIX: Final = "The module instance encountered a fatal error: "


#: What a procedure is told when it makes a blocking call (``ctx.http``, a nested ``with_tx``)
#: inside its own transaction, as the real server words it; the call's name follows.
WOULD_BLOCK_TEXT: Final = "ABI call not allowed while holding open a transaction: "


def _run_here(job: Callable[[], Any]) -> Any:
    return job()


class _ProcedureHttp(HttpClient):
    """``ctx.http`` of one procedure call: refused while the call holds a transaction open."""

    def __init__(self, in_tx: Callable[[], bool]) -> None:
        super().__init__()
        self._in_tx = in_tx

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """As :meth:`HttpClient.request`; inside ``with_tx``, :class:`HttpError`."""
        if self._in_tx():
            raise HttpError(f"{WOULD_BLOCK_TEXT}ProcedureHttpRequest")
        return super().request(method, url, body=body, headers=headers)


_LIFECYCLE_NAMES: Final = {
    Lifecycle.INIT: "Init",
    Lifecycle.ON_CONNECT: "OnConnect",
    Lifecycle.ON_DISCONNECT: "OnDisconnect",
}


_T = TypeVar("_T")


def _as_tuple(*values: Any) -> tuple[Any, ...]:
    return values


class CommitRefusedError(SpacetimeDBError):
    """A pre-commit hook refused a transaction (e.g. a view failed to refresh); the text is
    what the caller is told."""


@dataclass(frozen=True)
class _Function:
    """A reducer or procedure ready to call."""

    model: FunctionModel
    name: str
    is_reducer: bool
    reducer_id: int | None
    lifecycle: Lifecycle | None
    private: bool
    args_codec: BsatnCodec[Any]
    return_codec: BsatnCodec[Any] | None


class GenericTx:
    """Writes in generic (dict) form inside :meth:`Database.transaction` (e.g. SQL DML)."""

    def __init__(self, db: Database, tx: Transaction) -> None:
        self._db = db
        self._tx = tx

    def insert(self, table: str, row: Any) -> bytes:
        """Insert a generic-form row (dict by canonical column name); the stored row's bytes."""
        hosted = self._db.table(table)
        return self._tx.insert_bytes(
            self._db._ds.table(hosted.name), hosted.generic_codec.encode(row)
        )

    def insert_bytes(self, table: str, row: bytes) -> bytes:
        """Insert a row given as BSATN; the stored row's bytes (auto-inc values filled)."""
        return self._tx.insert_bytes(self._db._ds.table(self._db.table(table).name), row)

    def delete(self, table: str, row: bytes) -> bool:
        """Delete a row by its bytes; False if absent."""
        return self._tx.delete_bytes(self._db._ds.table(self._db.table(table).name), row)


class Database:
    """One hosted database: the module, its datastore, durability, scheduler and listeners."""

    def __init__(
        self,
        name: str,
        py_module: ModuleType,
        *,
        data_dir: str | Path | None = None,
        owner: Identity | None = None,
        identity: Identity | None = None,
        clock: Callable[[], Timestamp] | None = None,
    ) -> None:
        self.name = name
        self.py_module = py_module
        self.clock: Callable[[], Timestamp] = clock or Timestamp.now
        #: The module's own description (classes, functions) and its raw def.
        self.model: ModuleModel = _describe(py_module)
        #: The validated, canonical schema (names as SQL and the wire use them).
        self.schema: ModuleSchema = ModuleSchema.from_raw(self.model.raw_def)
        #: What the module's code logs (``GET /v1/database/<db>/logs``).
        self.module_log = ModuleLog()
        install_capture()
        self._listeners: list[CommitListener] = []
        self._pre_commit_hooks: list[Callable[[TxDelta], None]] = []
        self._schedules = ScheduleQueue()
        specs = self._table_specs()

        self._durability = Durability(data_dir) if data_dir is not None else None
        try:
            self._start(specs, identity, owner)
        except BaseException:
            self.close()
            raise

    def _start(
        self, specs: list[TableSpec], identity: Identity | None, owner: Identity | None
    ) -> None:
        """Restore or create the database's state (split out so a failure can clean up)."""
        meta = self._durability.meta() if self._durability is not None else {}
        initialized = meta.get("initialized") == b"1"
        stored_identity = meta.get("database_identity")
        stored_owner = meta.get("owner_identity")
        self.identity: Identity = (
            Identity.from_hex(stored_identity.decode())
            if stored_identity is not None
            else identity or _derived_identity("database", self.name)
        )
        self.owner_identity: Identity = (
            Identity.from_hex(stored_owner.decode())
            if stored_owner is not None
            else owner or _derived_identity("owner", self.name)
        )
        allocations: dict[tuple[str, int], int] = {}
        if self._durability is not None:
            self._durability.check_tables([*specs, self._st_client_spec()])
            allocations = self._durability.sequence_allocations()
        self._ds = Datastore(specs, allocations)
        if self._durability is not None:
            for spec in [*specs, self._ds.st_client.spec]:
                if not spec.is_event:
                    self._durability.load_into(self._ds, spec.name)
        #: SQL system variables (``row_limit``), kept with the database.
        self._variables: dict[str, int] = (
            self._durability.variables() if self._durability is not None else {}
        )

        self._tables = {
            t.name: HostedTable(self._ds.table(t.name), t, self.schema) for t in self.schema.tables
        }
        self._tables_by_accessor = {t.schema.accessor_name: t for t in self._tables.values()}
        self.db_view = DbView(
            {
                t.accessor: TableHandle(self._ds, self._ds.table(self._canonical_of(t.accessor)))
                for t in self.model.tables
            }
        )
        self._functions = self._build_functions()
        self._reducers = {f.name: f for f in self._functions.values() if f.is_reducer}
        self._procedures = {f.name: f for f in self._functions.values() if not f.is_reducer}
        self._lifecycle = {f.lifecycle: f for f in self._reducers.values() if f.lifecycle}
        self._rebuild_schedules()

        if not initialized:
            self._initialize()
        else:
            for row in list(self._ds.st_client.rows.values()):
                self.client_disconnected(row.identity, row.connection_id)

    # ============================================================================ construction
    @classmethod
    def open(
        cls,
        name: str,
        path: str | Path | ModuleType,
        data_dir: str | Path | None = None,
        owner: Identity | None = None,
        clock: Callable[[], Timestamp] | None = None,
        identity: Identity | None = None,
    ) -> Database:
        """Load the module at ``path`` (a ``.py`` file, a package directory, or an imported
        module) and open the database: restore it from ``data_dir`` if that holds one, else
        create it (running ``init``). ``owner`` may call private reducers; ``clock`` supplies
        timestamps (default: the wall clock); ``identity`` is the database's own identity
        (default: derived from ``name``; a data dir keeps the first one)."""
        module = path if isinstance(path, ModuleType) else load_module(path)
        return cls(name, module, data_dir=data_dir, owner=owner, identity=identity, clock=clock)

    def close(self) -> None:
        """Release the data directory (the database must not be used afterwards)."""
        if self._durability is not None:
            self._durability.close()
            self._durability = None

    def _canonical_of(self, accessor: str) -> str:
        return self.schema.table(accessor).name

    @staticmethod
    def _st_client_spec() -> TableSpec:
        from spacetimedb_sdk.local_server.st_client import st_client_spec

        return st_client_spec()

    def _table_specs(self) -> list[TableSpec]:
        specs = []
        for model in self.model.tables:
            t = self.schema.table(model.accessor)
            specs.append(
                TableSpec(
                    name=t.name,
                    columns=tuple(
                        ColumnSpec(c.name, m.attr, m.type)
                        for c, m in zip(t.columns, model.columns, strict=True)
                    ),
                    row_type=RefType(model.type_ref),
                    typespace=self.model.typespace,
                    bindings=self.model.bindings,
                    primary_key=t.primary_key,
                    unique=tuple(t.unique_column_sets()),
                    indexes=tuple(
                        IndexSpec(ix.name, ix.accessor_name or ix.name, ix.algorithm, ix.columns)
                        for ix in t.indexes
                    ),
                    sequences=tuple(
                        SequenceSpec(s.column, s.start, s.min_value, s.max_value, s.increment)
                        for s in t.sequences
                    ),
                    is_event=t.is_event,
                    public=t.is_public,
                    schedule=None
                    if t.schedule is None
                    else ScheduleSpec(t.schedule.function_name, t.schedule.at_column),
                    accessor=t.accessor_name,
                )
            )
        return specs

    def _build_functions(self) -> dict[str, _Function]:
        out: dict[str, _Function] = {}
        base = self.model.typespace.types
        for model in self.model.functions:
            if model.is_reducer:
                r = self.schema.reducer(model.name)
                name, rid, lifecycle = r.name, r.reducer_id, r.lifecycle
                private = r.visibility is FunctionVisibility.PRIVATE
            else:
                p = self.schema.procedure(model.name)
                name, rid, lifecycle = p.name, None, None
                private = p.visibility is FunctionVisibility.PRIVATE
            # Decode the argument product straight into a tuple of module values.
            ts = Typespace((*base, model.params))
            bindings = {
                **self.model.bindings,
                len(base): ProductBinding(
                    _as_tuple, tuple(e.name or "" for e in model.params.elements)
                ),
            }
            args_codec = compile_codec(RefType(len(base)), ts, bindings)
            ret = None
            if not model.is_reducer:
                ret = compile_codec(model.return_type, self.model.typespace, self.model.bindings)
            out[name] = _Function(
                model, name, model.is_reducer, rid, lifecycle, private, args_codec, ret
            )
        return out

    def _initialize(self) -> None:
        meta = {
            "initialized": b"1",
            "database_identity": self.identity.to_hex().encode(),
            "owner_identity": self.owner_identity.to_hex().encode(),
        }
        init = self._lifecycle.get(Lifecycle.INIT)
        ts = self.clock()
        if init is None:
            tx = self._ds.begin(ts)
            self._commit(tx, TxKind.INIT, None, self.owner_identity, None, ts, meta=meta)
            return
        outcome = self._run_reducer(
            init, (), self.owner_identity, None, ts, TxKind.INIT, None, meta
        )
        if outcome.status is not CallStatus.OK:
            raise ModuleDefError(f"init reducer failed: {outcome.message}")

    # ============================================================================ listeners
    def add_commit_listener(self, listener: CommitListener) -> None:
        """Call ``listener(CommitInfo)`` after every commit (durable first), in commit order."""
        self._listeners.append(listener)

    def remove_commit_listener(self, listener: CommitListener) -> None:
        """Stop calling ``listener``."""
        self._listeners.remove(listener)

    def add_pre_commit_hook(self, hook: Callable[[TxDelta], None]) -> None:
        """Call ``hook(delta)`` inside every transaction just before it commits (its writes are
        visible, e.g. to views being refreshed). A hook raising :class:`CommitRefusedError`
        rolls the transaction back; a reducer then fails with the error's text."""
        self._pre_commit_hooks.append(hook)

    # ============================================================================ transactions
    def _commit(
        self,
        tx: Transaction,
        kind: TxKind,
        function: str | None,
        caller: Identity,
        connection_id: ConnectionId | None,
        timestamp: Timestamp,
        request: object | None = None,
        meta: dict[str, bytes] | None = None,
        outcome_of: Callable[[TxDelta], ReducerCallOutcome] | None = None,
    ) -> tuple[TxDelta, ReducerCallOutcome | None]:
        durability = self._durability

        def persist(delta: TxDelta) -> None:
            for hook in self._pre_commit_hooks:
                hook(delta)
            if durability is not None:
                durability.write_commit(delta, meta)

        delta = tx.commit(persist)
        self._after_commit(delta, timestamp)
        outcome = outcome_of(delta) if outcome_of is not None else None
        if self._listeners:
            self._announce(
                CommitInfo(
                    delta, kind, function, caller, connection_id, timestamp, request, outcome
                )
            )
        return delta, outcome

    def _announce(self, info: CommitInfo) -> None:
        for listener in list(self._listeners):
            try:
                listener(info)
            except Exception:
                log.exception("commit listener %r failed", listener)

    def _after_commit(self, delta: TxDelta, timestamp: Timestamp) -> None:
        for td in delta.tables.values():
            hosted = self._tables.get(td.table)
            if hosted is not None and td.deletes:
                hosted.forget([b for b, _ in td.deletes])
            spec = self._ds.table(td.table).spec
            if spec.schedule is not None:
                self._update_schedules(spec, td.deletes, td.inserts, timestamp)

    @contextlib.contextmanager
    def transaction(
        self,
        caller_identity: Identity,
        connection_id: ConnectionId | None = None,
        *,
        kind: TxKind = TxKind.SQL,
        request: object | None = None,
    ) -> Iterator[GenericTx]:
        """A write transaction outside module code (e.g. SQL DML): committed, made durable and
        announced to listeners when the block ends; rolled back if it raises."""
        ts = self.clock()
        tx = self._ds.begin(ts)
        try:
            yield GenericTx(self, tx)
        except BaseException:
            tx.rollback()
            raise
        self._commit(tx, kind, None, caller_identity, connection_id, ts, request)

    def read_only(self, body: Callable[[DbView], _T]) -> _T:
        """Run ``body(db)`` in a transaction that is always rolled back (views read this way);
        inside a pre-commit hook, in the committing transaction itself."""
        if self._ds.current is not None:
            return body(self.db_view)
        tx = self._ds.begin(self.clock())
        try:
            return body(self.db_view)
        finally:
            tx.rollback()

    # ============================================================================ reducers
    def _run_reducer(
        self,
        f: _Function,
        args: tuple[Any, ...],
        sender: Identity,
        connection_id: ConnectionId | None,
        timestamp: Timestamp,
        kind: TxKind,
        request: object | None,
        meta: dict[str, bytes] | None = None,
        started: float | None = None,
        sender_auth: AuthCtx | None = None,
    ) -> ReducerCallOutcome:
        started = time.perf_counter() if started is None else started
        tx = self._ds.begin(timestamp)
        ctx = ReducerContext(
            sender, connection_id, timestamp, self.identity, self.db_view, sender_auth=sender_auth
        )
        try:
            with module_code(self.module_log, f.name):
                f.model.fn(ctx, *args)
        except SenderError as exc:
            tx.rollback()
            return self._failed(f, CallStatus.USER_ERROR, str(exc), timestamp, started)
        except BaseException as exc:  # SystemExit, KeyboardInterrupt too: the call fails
            tx.rollback()
            log.exception("reducer %s failed (caller %s)", f.name, sender)
            self._log_failure(f.name, exc)
            return self._failed(f, CallStatus.INTERNAL_ERROR, FATAL_ERROR_TEXT, timestamp, started)

        def outcome_of(delta: TxDelta) -> ReducerCallOutcome:
            return ReducerCallOutcome(
                f.name, CallStatus.OK, None, timestamp, delta, _micros_since(started), f.reducer_id
            )

        try:
            _, outcome = self._commit(
                tx, kind, f.name, sender, connection_id, timestamp, request, meta, outcome_of
            )
        except CommitRefusedError as exc:
            return self._failed(f, CallStatus.INTERNAL_ERROR, str(exc), timestamp, started)
        except Exception:
            log.exception("commit of reducer %s failed", f.name)
            return self._failed(f, CallStatus.INTERNAL_ERROR, FATAL_ERROR_TEXT, timestamp, started)
        assert outcome is not None
        return outcome

    @staticmethod
    def _failed(
        f: _Function, status: CallStatus, message: str, timestamp: Timestamp, started: float
    ) -> ReducerCallOutcome:
        return ReducerCallOutcome(
            f.name, status, message, timestamp, duration_micros=_micros_since(started),
            reducer_id=f.reducer_id,
        )  # fmt: skip

    def call_reducer(
        self,
        name: str,
        args: bytes,
        caller_identity: Identity,
        connection_id: ConnectionId | None = None,
        timestamp: Timestamp | None = None,
        request: object | None = None,
        *,
        sender_auth: AuthCtx | None = None,
    ) -> ReducerCallOutcome:
        """Call reducer ``name`` (canonical) with BSATN ``args`` on behalf of a client.

        Lifecycle reducers are refused (``LIFECYCLE``); private reducers look nonexistent to
        anyone but the owner (``NO_SUCH_FUNCTION``). ``request`` is passed through to the
        :class:`CommitInfo` of the commit, if any; ``sender_auth`` is the caller's
        ``ctx.sender_auth`` (default: no token for a client call).
        """
        started = time.perf_counter()
        ts = timestamp if timestamp is not None else self.clock()
        f = self._reducers.get(name)
        if f is None:
            return ReducerCallOutcome(name, CallStatus.NO_SUCH_FUNCTION, "no such reducer", ts)
        if f.lifecycle is not None:
            message = (
                f"can't directly call special {_LIFECYCLE_NAMES[f.lifecycle]} lifecycle reducer"
            )
            return self._failed(f, CallStatus.LIFECYCLE, message, ts, started)
        if f.private and caller_identity != self.owner_identity:
            return ReducerCallOutcome(name, CallStatus.NO_SUCH_FUNCTION, "no such reducer", ts)
        try:
            values = f.args_codec.decode(args)
        except BsatnDecodeError as exc:
            message = f"invalid arguments for reducer {name}: {exc}"
            return self._failed(f, CallStatus.BAD_ARGS, message, ts, started)
        except BaseException:  # a module class's constructor failed on the decoded values
            log.exception("decoding the arguments of reducer %s failed", name)
            return self._failed(f, CallStatus.INTERNAL_ERROR, FATAL_ERROR_TEXT, ts, started)
        return self._run_reducer(
            f, values, caller_identity, connection_id, ts, TxKind.REDUCER, request, None, started,
            sender_auth,
        )  # fmt: skip

    # ============================================================================ procedures
    def call_procedure(
        self,
        name: str,
        args: bytes,
        caller_identity: Identity,
        connection_id: ConnectionId | None = None,
        timestamp: Timestamp | None = None,
        request: object | None = None,
        *,
        sender_auth: AuthCtx | None = None,
        on_database: OnDatabase = _run_here,
        sleep: Callable[[Timestamp], Timestamp] | None = None,
    ) -> ProcedureCallOutcome:
        """Call procedure ``name`` (canonical) with BSATN ``args``; its return value as BSATN.

        Each ``ctx.with_tx`` block commits on its own (listeners see ``TxKind.PROCEDURE``) and
        runs through ``on_database``: by default right here, so this method then belongs on the
        database's thread like every other; a host that passes a job runner calls this from a
        thread of the procedure's own and the database is free while the procedure waits
        (``ctx.sleep_until``, ``ctx.http``). ``sleep`` replaces the default wait of
        ``ctx.sleep_until``. A procedure that raises fails with
        :data:`PROCEDURE_FATAL_ERROR_PREFIX` and the exception.
        """
        started = time.perf_counter()
        ts = timestamp if timestamp is not None else self.clock()
        f = self._procedures.get(name)
        if f is None or (f.private and caller_identity != self.owner_identity):
            return ProcedureCallOutcome(name, CallStatus.NO_SUCH_FUNCTION, "No such procedure", ts)
        try:
            values = f.args_codec.decode(args)
        except BsatnDecodeError as exc:
            message = f"invalid arguments for procedure {name}: {exc}"
            return ProcedureCallOutcome(name, CallStatus.BAD_ARGS, message, ts)
        except BaseException as exc:  # a module class's constructor failed on the decoded values
            log.exception("decoding the arguments of procedure %s failed", name)
            return ProcedureCallOutcome(name, CallStatus.INTERNAL_ERROR, _fatal(exc), ts)
        return self._run_procedure(
            f, values, caller_identity, connection_id, ts, request, started,
            sender_auth=sender_auth, on_database=on_database, sleep=sleep,
        )  # fmt: skip

    def _run_procedure(
        self,
        f: _Function,
        args: tuple[Any, ...],
        sender: Identity,
        connection_id: ConnectionId | None,
        timestamp: Timestamp,
        request: object | None,
        started: float,
        *,
        sender_auth: AuthCtx | None = None,
        on_database: OnDatabase = _run_here,
        sleep: Callable[[Timestamp], Timestamp] | None = None,
    ) -> ProcedureCallOutcome:
        def one_tx(body: Callable[[TxContext], Any]) -> Any:
            tx_ts = self.clock()
            tx = self._ds.begin(tx_ts)
            tx_ctx = TxContext(
                sender, connection_id, tx_ts, self.identity, self.db_view,
                sender_auth=sender_auth,
            )  # fmt: skip
            try:
                with module_code(self.module_log, f.name):
                    result = body(tx_ctx)
                self._commit(tx, TxKind.PROCEDURE, f.name, sender, connection_id, tx_ts, request)
            except BaseException:
                if self._ds.current is tx:
                    tx.rollback()
                raise
            return result

        open_tx = [False]

        def run_tx(body: Callable[[TxContext], Any]) -> Any:
            if open_tx[0]:  # waiting for the database thread from the database thread
                raise RuntimeError(f"{WOULD_BLOCK_TEXT}ProcedureStartMutTransaction")
            open_tx[0] = True
            try:
                return on_database(lambda: one_tx(body))
            finally:
                open_tx[0] = False

        ctx = ProcedureContext(
            sender, connection_id, timestamp, self.identity, run_tx,
            sender_auth=sender_auth, sleep=sleep, http=_ProcedureHttp(lambda: open_tx[0]),
        )  # fmt: skip
        try:
            with module_code(self.module_log, f.name):
                result = f.model.fn(ctx, *args)
            assert f.return_codec is not None
            encoded = f.return_codec.encode(result)
        except BaseException as exc:  # SystemExit, KeyboardInterrupt too: the call fails
            log.exception("procedure %s failed (caller %s)", f.name, sender)
            self._log_failure(f.name, exc)
            return ProcedureCallOutcome(
                f.name, CallStatus.INTERNAL_ERROR, _fatal(exc), timestamp,
                duration_micros=_micros_since(started),
            )  # fmt: skip
        return ProcedureCallOutcome(
            f.name, CallStatus.OK, None, timestamp, encoded, _micros_since(started)
        )

    # ============================================================================ clients
    def client_connected(
        self,
        identity: Identity,
        connection_id: ConnectionId,
        timestamp: Timestamp | None = None,
        request: object | None = None,
        *,
        sender_auth: AuthCtx | None = None,
    ) -> str | None:
        """Register a new connection and run ``client_connected``; None if accepted, else the
        rejection text (the reducer's ``SenderError`` text, the fatal-error text, or
        :data:`DUPLICATE_CONNECTION_TEXT` when this identity already uses this connection id).
        ``sender_auth`` is the reducer's ``ctx.sender_auth``."""
        st = self._ds.st_client
        row = ClientRow(identity, connection_id)
        if st.codec.encode(row) in st.rows:  # st_client is unique on (identity, connection id)
            return DUPLICATE_CONNECTION_TEXT
        ts = timestamp if timestamp is not None else self.clock()
        f = self._lifecycle.get(Lifecycle.ON_CONNECT)
        tx = self._ds.begin(ts)
        try:
            tx.insert(st, row)
            if f is not None:
                with module_code(self.module_log, f.name):
                    f.model.fn(self._lifecycle_ctx(identity, connection_id, ts, sender_auth))
        except SenderError as exc:
            tx.rollback()
            return str(exc)
        except BaseException:  # SystemExit, KeyboardInterrupt too: a refusal, not a crash
            tx.rollback()
            log.exception("client_connected failed for %s", identity)
            return FATAL_ERROR_TEXT
        self._commit(
            tx, TxKind.CLIENT_CONNECTED, f.name if f else None, identity, connection_id, ts, request
        )
        return None

    def client_disconnected(
        self,
        identity: Identity,
        connection_id: ConnectionId,
        timestamp: Timestamp | None = None,
        request: object | None = None,
        *,
        sender_auth: AuthCtx | None = None,
    ) -> None:
        """Run ``client_disconnected`` and drop the connection from ``st_client`` (only if it is
        registered). If the reducer fails, the connection is dropped anyway."""
        st = self._ds.st_client
        row = ClientRow(identity, connection_id)
        if st.codec.encode(row) not in st.rows:
            return
        ts = timestamp if timestamp is not None else self.clock()
        f = self._lifecycle.get(Lifecycle.ON_DISCONNECT)
        tx = self._ds.begin(ts)
        try:
            if f is not None:
                with module_code(self.module_log, f.name):
                    f.model.fn(self._lifecycle_ctx(identity, connection_id, ts, sender_auth))
            tx.delete(st, row)
        except BaseException:  # SystemExit, KeyboardInterrupt too: the client leaves anyway
            tx.rollback()
            log.exception("client_disconnected failed for %s", identity)
            tx = self._ds.begin(ts)
            tx.delete(st, row)
            self._commit(tx, TxKind.CLIENT_DISCONNECTED, None, identity, connection_id, ts, request)
            return
        self._commit(
            tx,
            TxKind.CLIENT_DISCONNECTED,
            f.name if f else None,
            identity,
            connection_id,
            ts,
            request,
        )

    def _log_failure(self, function: str, exc: BaseException) -> None:
        """A failed call's line in the module log (the traceback goes to the server log)."""
        self.module_log.write(
            "Error",
            f"{type(exc).__name__}: {exc}",
            ts_micros=Timestamp.now().micros_since_unix_epoch,
            function=function,
        )

    def _lifecycle_ctx(
        self,
        identity: Identity,
        connection_id: ConnectionId,
        ts: Timestamp,
        sender_auth: AuthCtx | None,
    ) -> ReducerContext:
        return ReducerContext(
            identity, connection_id, ts, self.identity, self.db_view, sender_auth=sender_auth
        )

    def connected_clients(self) -> list[tuple[Identity, ConnectionId]]:
        """The connections in ``st_client``."""
        return [(r.identity, r.connection_id) for r in self._ds.st_client.rows.values()]

    # ============================================================================ schedules
    def _update_schedules(
        self,
        spec: TableSpec,
        deletes: tuple[tuple[bytes, Any], ...],
        inserts: tuple[tuple[bytes, Any], ...],
        timestamp: Timestamp,
    ) -> None:
        assert spec.schedule is not None and spec.primary_key is not None
        table = self._ds.table(spec.name)
        pk = table.column_getters[spec.primary_key]
        at_of = table.column_getters[spec.schedule.at_column]
        for _, value in deletes:
            self._schedules.cancel(spec.name, pk(value))
        for _, value in inserts:
            self._schedules.schedule(spec.name, pk(value), _first_due(at_of(value), timestamp))

    def _rebuild_schedules(self) -> None:
        now = self.clock()
        for table in self._ds.tables.values():
            if table.spec.schedule is not None:
                self._update_schedules(table.spec, (), tuple(table.rows.items()), now)

    def next_scheduled_time(self) -> Timestamp | None:
        """When the earliest scheduled call is due (None if nothing is scheduled). Re-read it
        after every commit (e.g. in a commit listener) to re-arm a timer."""
        due = self._schedules.next_due()
        return None if due is None else Timestamp(due)

    def run_due_schedules(
        self,
        now: Timestamp | None = None,
        start_procedure: ProcedureStarter | None = None,
        on_database: OnDatabase = _run_here,
    ) -> list[ReducerCallOutcome | ProcedureCallOutcome]:
        """Run every scheduled call due at ``now`` (default: the clock), earliest first.

        Scheduled functions run as the database's own identity, without a connection id.
        One-shot (``Time``) rows are deleted after their reducer's transaction (even a failed
        one) or before their procedure runs; ``Interval`` rows are re-armed at the previous due
        time plus the interval (missed ticks are skipped).

        With ``start_procedure``, a due procedure is not run here: its run (whose transactions
        go through ``on_database``) is handed to ``start_procedure`` and this method returns at
        once. As on the real server, the schedule has one slot: nothing else scheduled should
        run until that procedure has finished (the caller then calls this method again).
        """
        now = now if now is not None else self.clock()
        outcomes: list[ReducerCallOutcome | ProcedureCallOutcome] = []
        while True:
            entry = self._schedules.pop_due(now.micros_since_unix_epoch)
            if entry is None:
                return outcomes
            table_name, key, due = entry
            table = self._ds.table(table_name)
            spec = table.spec
            assert spec.schedule is not None and spec.primary_key is not None
            unique = table.unique_by_columns[(spec.primary_key,)]
            row_bytes = unique.map.get(key)
            if row_bytes is None:
                continue
            try:
                row = table.codec.decode(row_bytes)
            except BaseException:  # the module's row class refused the stored values
                log.exception("decoding schedule row of %s failed; the call is skipped", table_name)
                continue
            at = table.column_getters[spec.schedule.at_column](row)
            one_shot = not (isinstance(at, ScheduleAt) and at.is_interval)
            if not one_shot:
                step = max(at.value.micros, 1)
                nxt = due + step
                if nxt <= now.micros_since_unix_epoch:
                    nxt += ((now.micros_since_unix_epoch - nxt) // step + 1) * step
                self._schedules.schedule(table_name, key, nxt)
            f = self._functions.get(spec.schedule.function)
            if f is None:
                log.error("schedule table %s names unknown function", table_name)
                continue
            if f.is_reducer:
                outcomes.append(
                    self._run_reducer(f, (row,), self.identity, None, now, TxKind.SCHEDULED, None)
                )
                if one_shot:
                    self._delete_schedule_row(table_name, row_bytes, now)
            else:
                if one_shot:
                    self._delete_schedule_row(table_name, row_bytes, now)
                run = functools.partial(
                    self._run_procedure, f, (row,), self.identity, None, now, None,
                    time.perf_counter(), on_database=on_database,
                )  # fmt: skip
                if start_procedure is not None:
                    start_procedure(run)
                    return outcomes
                outcomes.append(run())

    def _delete_schedule_row(self, table_name: str, row: bytes, now: Timestamp) -> None:
        table = self._ds.table(table_name)
        if row not in table.rows:
            return
        tx = self._ds.begin(now)
        tx.delete_bytes(table, row)
        self._commit(tx, TxKind.SCHEDULE_CLEANUP, None, self.identity, None, now)

    # ============================================================================ SQL variables
    def system_variable(self, name: str) -> int | None:
        """A SQL system variable (``row_limit``) as last set, or None when never set."""
        return self._variables.get(name)

    def set_system_variable(self, name: str, value: int) -> None:
        """Set a SQL system variable; with a data dir it is durable when this returns."""
        if self._durability is not None:
            self._durability.write_variable(name, value)
        self._variables[name] = value
        # On the real server SET writes the `st_var` system table in a transaction; announcing
        # one that touched it lets subscribers of `st_var` get the new row as an update.
        st_var = TableDelta(ST_VAR, (), ())
        delta = TxDelta(system={ST_VAR: st_var})
        self._announce(CommitInfo(delta, TxKind.SQL, None, self.owner_identity, None, self.clock()))

    # ============================================================================ reading
    def table(self, name: str) -> HostedTable:
        """A table by canonical or accessor name (KeyError if absent)."""
        found = self._tables.get(name)
        if found is None:
            found = self._tables_by_accessor.get(name)
        if found is None:
            raise KeyError(f"no table named {name!r}")
        return found

    @property
    def tables(self) -> dict[str, HostedTable]:
        """Every table, by canonical name."""
        return dict(self._tables)

    def table_rows(self, name: str) -> Iterator[tuple[bytes, Any]]:
        """``(row_bytes, module value)`` of every row of a table (a snapshot)."""
        return self.table(name).rows()

    def row_codec(self, name: str) -> BsatnCodec[Any]:
        """The module-form row codec of a table."""
        return self.table(name).codec

    def row_to_generic(self, name: str, row: bytes) -> Any:
        """A row's generic (dict by canonical column name) form."""
        return self.table(name).generic(row)

    def raw_module_def(self) -> RawModuleDefV10:
        """What the module itself describes (before canonicalisation)."""
        return self.model.raw_def

    def reducer_id(self, name: str) -> int | None:
        """The wire id (position) of a reducer, or None."""
        f = self._reducers.get(name)
        return None if f is None else f.reducer_id


def _first_due(at: Any, timestamp: Timestamp) -> int:
    if isinstance(at, ScheduleAt):
        value = at.value
        if isinstance(value, Timestamp):
            return value.micros_since_unix_epoch
        return timestamp.micros_since_unix_epoch + value.micros
    raise BsatnError(f"schedule column holds {at!r}, not a ScheduleAt")


def _describe(py_module: ModuleType) -> ModuleModel:
    """The module's model; module code run meanwhile (e.g. annotations) cannot end the host."""
    try:
        return build_module_model(py_module)
    except Exception:
        raise
    except BaseException as exc:
        raise ModuleLoadError(
            f"module {py_module.__name__} raised {type(exc).__name__} while being described"
        ) from exc


def _fatal(exc: BaseException) -> str:
    """A failed procedure's text: the real server's words, then what the module raised."""
    return f"{PROCEDURE_FATAL_ERROR_PREFIX}{type(exc).__name__}: {exc}"


def _micros_since(started: float) -> int:
    return int((time.perf_counter() - started) * 1_000_000)


def _derived_identity(kind: str, name: str) -> Identity:
    from spacetimedb_sdk.local_server.auth import identity_from_claims

    return identity_from_claims(f"spacetimedb-sdk-local-{kind}", name)
