"""The context objects passed to reducers and procedures.

``ctx.db`` holds one handle per table, named by the table's accessor (``ctx.db.user``). A handle
offers ``insert(row)``, ``delete(row)``, ``iter()``, ``count()``, and one attribute per index:
unique / primary-key columns give ``find(value)``, ``delete(value)`` and (primary key only)
``update(row)``; BTree indexes give ``filter(value_or_range)`` and ``delete(value_or_range)``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, TypeVar

from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.timestamp import Timestamp

__all__ = ["ProcedureContext", "ReducerContext", "TxContext"]

T = TypeVar("T")


class ReducerContext:
    """What a reducer knows about its call.

    ``sender``: the caller's identity (the database's own identity for scheduled calls, the
    owner for ``init``); ``connection_id``: the caller's connection (None for scheduled calls,
    ``init`` and HTTP-less internal calls); ``timestamp``: when the reducer started;
    ``identity``: the database's identity; ``db``: the table handles.
    """

    __slots__ = ("_rng", "connection_id", "db", "identity", "sender", "timestamp")

    def __init__(
        self,
        sender: Identity,
        connection_id: ConnectionId | None,
        timestamp: Timestamp,
        identity: Identity,
        db: Any,
    ) -> None:
        self.sender = sender
        self.connection_id = connection_id
        self.timestamp = timestamp
        self.identity = identity
        self.db = db
        self._rng: random.Random | None = None

    @property
    def rng(self) -> random.Random:
        """A random generator seeded from the call's timestamp (deterministic per call)."""
        if self._rng is None:
            self._rng = random.Random(self.timestamp.micros_since_unix_epoch)
        return self._rng

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(sender={self.sender!r}, "
            f"connection_id={self.connection_id!r}, timestamp={self.timestamp!r})"
        )


class TxContext(ReducerContext):
    """The context inside a procedure's ``with_tx`` block (same fields as a reducer's)."""

    __slots__ = ()


class ProcedureContext:
    """What a procedure knows about its call; tables are reached through :meth:`with_tx`."""

    __slots__ = ("_run_tx", "connection_id", "identity", "sender", "timestamp")

    def __init__(
        self,
        sender: Identity,
        connection_id: ConnectionId | None,
        timestamp: Timestamp,
        identity: Identity,
        run_tx: Callable[[Callable[[TxContext], Any]], Any],
    ) -> None:
        self.sender = sender
        self.connection_id = connection_id
        self.timestamp = timestamp
        self.identity = identity
        self._run_tx = run_tx

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
