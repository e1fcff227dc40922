"""The context objects passed to reducers, procedures and views.

``ctx.db`` holds one handle per table, named by the table's accessor (``ctx.db.user``). A handle
offers ``insert(row)``, ``delete(row)``, ``iter()``, ``count()``, and one attribute per index:
unique / primary-key columns give ``find(value)``, ``delete(value)`` and (primary key only)
``update(row)``; BTree indexes give ``filter(value_or_range)`` and ``delete(value_or_range)``.

Hosts build the contexts; the keyword-only constructor arguments (``sender_auth``, a procedure's
``sleep`` and ``http``) are optional hooks with working defaults.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.module.auth import AuthCtx
from spacetimedb_sdk.module.http import HttpClient
from spacetimedb_sdk.module.query import QueryBuilder
from spacetimedb_sdk.timestamp import Timestamp
from spacetimedb_sdk.uuid import Uuid

__all__ = [
    "AnonymousViewContext",
    "ProcedureContext",
    "ReducerContext",
    "TxContext",
    "ViewContext",
    "uuid_v4_from_bytes",
    "uuid_v7_from_counter",
]

T = TypeVar("T")

_COUNTER_MASK = 0x7FFF_FFFF
_MS_MASK = (1 << 48) - 1


def uuid_v4_from_bytes(random_bytes: bytes) -> Uuid:
    """A version-4 UUID from 16 random bytes (version and variant bits overwritten)."""
    if len(random_bytes) != 16:
        raise ValueError("a v4 UUID needs 16 random bytes")
    b = bytearray(random_bytes)
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    return Uuid(int.from_bytes(b, "big"))


def uuid_v7_from_counter(counter: int, timestamp: Timestamp, random_bytes: bytes) -> Uuid:
    """A version-7 UUID laid out as the SpacetimeDB bindings lay it out.

    Bytes 0-5: the Unix time in milliseconds (48 bits); the version nibble; a 31-bit counter in
    bytes 7, 9, 10 and the high 7 bits of 11 (so UUIDs made with increasing counters within one
    millisecond sort in creation order); the variant bits; then 31 random bits in bytes 12-15.
    """
    if len(random_bytes) != 4:
        raise ValueError("a v7 UUID needs 4 random bytes")
    micros = timestamp.micros_since_unix_epoch
    if micros < 0:
        raise ValueError("cannot make a v7 UUID for a timestamp before the Unix epoch")
    ms = (micros // 1000) & _MS_MASK
    counter &= _COUNTER_MASK
    b = bytearray(16)
    b[0:6] = ms.to_bytes(6, "big")
    b[6] = 0x70
    b[7] = (counter >> 23) & 0xFF
    b[8] = 0x80
    b[9] = (counter >> 15) & 0xFF
    b[10] = (counter >> 7) & 0xFF
    b[11] = (counter & 0x7F) << 1
    b[12] = random_bytes[0] & 0x7F
    b[13:16] = random_bytes[1:4]
    return Uuid(int.from_bytes(b, "big"))


def _next_uuid_v7(ctx: ReducerContext | ProcedureContext) -> Uuid:
    counter = ctx._uuid_counter
    ctx._uuid_counter = (counter + 1) & _COUNTER_MASK
    return uuid_v7_from_counter(counter, ctx.timestamp, ctx.rng.randbytes(4))


def _default_auth(connection_id: ConnectionId | None) -> AuthCtx:
    return AuthCtx.internal() if connection_id is None else AuthCtx.no_jwt()


class ReducerContext:
    """What a reducer knows about its call.

    ``sender``: the caller's identity (the database's own identity for scheduled calls, the
    owner for ``init``); ``connection_id``: the caller's connection (None for scheduled calls,
    ``init`` and HTTP-less internal calls); ``timestamp``: when the reducer started;
    ``identity``: the database's identity; ``db``: the table handles; ``sender_auth``: how the
    caller authenticated (:class:`~spacetimedb_sdk.module.auth.AuthCtx`).
    """

    __slots__ = (
        "_rng", "_uuid_counter", "connection_id", "db", "identity", "sender", "sender_auth",
        "timestamp",
    )  # fmt: skip

    def __init__(
        self,
        sender: Identity,
        connection_id: ConnectionId | None,
        timestamp: Timestamp,
        identity: Identity,
        db: Any,
        *,
        sender_auth: AuthCtx | None = None,
    ) -> None:
        self.sender = sender
        self.connection_id = connection_id
        self.timestamp = timestamp
        self.identity = identity
        self.db = db
        self.sender_auth = sender_auth if sender_auth is not None else _default_auth(connection_id)
        self._rng: random.Random | None = None
        self._uuid_counter = 0

    @property
    def rng(self) -> random.Random:
        """A random generator seeded from the call's timestamp (deterministic per call)."""
        if self._rng is None:
            self._rng = random.Random(self.timestamp.micros_since_unix_epoch)
        return self._rng

    def new_uuid_v4(self) -> Uuid:
        """A random (version 4) UUID drawn from ``ctx.rng`` (deterministic per call)."""
        return uuid_v4_from_bytes(self.rng.randbytes(16))

    def new_uuid_v7(self) -> Uuid:
        """A time-ordered (version 7) UUID: the call's timestamp plus a counter that starts at
        0 for each context, so the UUIDs one call creates are strictly increasing."""
        return _next_uuid_v7(self)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(sender={self.sender!r}, "
            f"connection_id={self.connection_id!r}, timestamp={self.timestamp!r})"
        )


class TxContext(ReducerContext):
    """The context inside a procedure's ``with_tx`` block (same fields as a reducer's)."""

    __slots__ = ()


class ProcedureContext:
    """What a procedure knows about its call; tables are reached through :meth:`with_tx`.

    Besides the reducer fields (``sender``, ``connection_id``, ``timestamp``, ``identity``,
    ``sender_auth``, ``rng``, ``new_uuid_v4/v7``) a procedure may wait (:meth:`sleep_until`) and
    make HTTP requests (``ctx.http``), outside any transaction.
    """

    __slots__ = (
        "_rng", "_run_tx", "_sleep", "_uuid_counter", "connection_id", "http", "identity",
        "sender", "sender_auth", "timestamp",
    )  # fmt: skip

    def __init__(
        self,
        sender: Identity,
        connection_id: ConnectionId | None,
        timestamp: Timestamp,
        identity: Identity,
        run_tx: Callable[[Callable[[TxContext], Any]], Any],
        *,
        sender_auth: AuthCtx | None = None,
        sleep: Callable[[Timestamp], Timestamp] | None = None,
        http: HttpClient | None = None,
    ) -> None:
        self.sender = sender
        self.connection_id = connection_id
        self.timestamp = timestamp
        self.identity = identity
        self._run_tx = run_tx
        self.sender_auth = sender_auth if sender_auth is not None else _default_auth(connection_id)
        self._sleep = sleep
        self.http = http if http is not None else HttpClient()
        self._rng: random.Random | None = None
        self._uuid_counter = 0

    @property
    def rng(self) -> random.Random:
        """A random generator seeded from the call's timestamp (deterministic per call)."""
        if self._rng is None:
            self._rng = random.Random(self.timestamp.micros_since_unix_epoch)
        return self._rng

    def new_uuid_v4(self) -> Uuid:
        """A random (version 4) UUID drawn from ``ctx.rng`` (deterministic per call)."""
        return uuid_v4_from_bytes(self.rng.randbytes(16))

    def new_uuid_v7(self) -> Uuid:
        """A time-ordered (version 7) UUID: the call's timestamp plus a counter that starts at
        0 for each context, so the UUIDs one call creates are strictly increasing."""
        return _next_uuid_v7(self)

    def sleep_until(self, wake_at: Timestamp) -> None:
        """Wait (outside any transaction) until ``wake_at``; ``ctx.timestamp`` then tells the
        time of waking. The host may supply its own waiting (``sleep=``)."""
        if self._sleep is not None:
            self.timestamp = self._sleep(wake_at)
            return
        delay = (wake_at.micros_since_unix_epoch - Timestamp.now().micros_since_unix_epoch) / 1e6
        if delay > 0:
            time.sleep(delay)
        self.timestamp = Timestamp.now()

    def with_tx(self, body: Callable[[TxContext], T]) -> T:
        """Run ``body(tx)`` in a transaction: committed when it returns, rolled back (and the
        exception re-raised) when it raises. Returns what ``body`` returns."""
        result: T = self._run_tx(body)
        return result

    def try_with_tx(self, body: Callable[[TxContext], T]) -> T | None:
        """Like :meth:`with_tx`, but a ``SenderError`` rolls back and returns None."""
        from spacetimedb_sdk.module.errors import SenderError

        try:
            return self.with_tx(body)
        except SenderError:
            return None

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(sender={self.sender!r}, "
            f"connection_id={self.connection_id!r}, timestamp={self.timestamp!r})"
        )


class AnonymousViewContext:
    """What an anonymous view sees: read-only tables (``db``) and the query builder
    (``from_``). Its result is the same for every client, so it has no ``sender``."""

    __slots__ = ("db", "from_")

    def __init__(self, db: Any, from_: QueryBuilder | None = None) -> None:
        self.db = db
        self.from_ = from_ if from_ is not None else QueryBuilder()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ViewContext(AnonymousViewContext):
    """What a per-client view sees: ``sender`` (the subscribing client's identity) besides the
    read-only tables and the query builder."""

    __slots__ = ("sender",)

    def __init__(self, sender: Identity, db: Any, from_: QueryBuilder | None = None) -> None:
        super().__init__(db, from_)
        self.sender = sender

    def as_anonymous(self) -> AnonymousViewContext:
        """The same tables without the sender."""
        return AnonymousViewContext(self.db, self.from_)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sender={self.sender!r})"
