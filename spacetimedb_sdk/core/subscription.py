"""Query sets: their lifecycle and the rows each one contributes to the cache.

Every ``subscribe`` call creates one query set with its own ``QuerySetId`` (docs/protocol.md#query-set-lifecycle).
Sets may overlap; the cache refcounts rows across them (docs/protocol.md#client-cache). To drop a set without the
server's help -- an unsubscribe without ``SendDroppedRows``, or a set that fails after being
applied (``SubscriptionError`` with no request id) -- each set also keeps the multiset of its own
live contributions, ``table -> {row bytes: count}``, updated from ``SubscribeApplied`` and every
``QuerySetUpdate`` for it. Invariant: a table's cache refcount of a row equals the sum of that
row's counts over all sets.

Lifecycle::

    PENDING --SubscribeApplied--> APPLIED --unsubscribe()--> UNSUBSCRIBING --UnsubscribeApplied--> ENDED
       |                             |                             |
       +--SubscriptionError----------+-----------------------------+--------------------------> FAILED

A set unsubscribed while still PENDING is *cancelled*: whatever the server sends for it before
its ``UnsubscribeApplied`` (the ``SubscribeApplied``, updates) is dropped, so it never reports
applied and never touches the cache.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any

from spacetimedb_sdk.core.multiset import add_counts, remove_counts
from spacetimedb_sdk.redaction import sdk_logger

__all__ = ["ClientQuerySet", "QuerySetRegistry", "QuerySetState"]

_log = sdk_logger("spacetimedb_sdk.subscription")

_U32 = 1 << 32


class QuerySetState(enum.Enum):
    """Where a query set is in its lifecycle."""

    PENDING = "pending"
    APPLIED = "applied"
    UNSUBSCRIBING = "unsubscribing"
    ENDED = "ended"
    FAILED = "failed"


@dataclass(eq=False)
class ClientQuerySet:
    """One subscribed query set."""

    id: int
    queries: tuple[str, ...]
    state: QuerySetState = QuerySetState.PENDING
    #: The request id of the Subscribe (and of the Unsubscribe, once sent).
    request_id: int | None = None
    unsubscribe_request_id: int | None = None
    #: The API handle; opaque to the core.
    owner: Any = None
    #: table -> row bytes -> live deliveries from this set.
    rows: dict[str, dict[bytes, int]] = field(default_factory=dict)
    error: str | None = None
    sent_at: float = field(default_factory=time.monotonic)
    #: True while a reconnect replays this set and its rows are being reconciled.
    replaying: bool = False
    #: Ever applied (on any connection).
    was_applied: bool = False

    @property
    def is_active(self) -> bool:
        """Applied and not (being) unsubscribed."""
        return self.state is QuerySetState.APPLIED

    @property
    def is_ended(self) -> bool:
        """Unsubscribed or failed."""
        return self.state in (QuerySetState.ENDED, QuerySetState.FAILED)

    @property
    def is_cancelled(self) -> bool:
        """Unsubscribed before it was ever applied: it brings no rows and never reports applied
        (as in the official SDKs, where such a set is never sent)."""
        return self.state is QuerySetState.UNSUBSCRIBING and not self.was_applied

    # ------------------------------------------------------------------------------ row tracking
    def track_inserts(self, table: str, rows: list[bytes]) -> None:
        """Count one more delivery of each row."""
        mine = self.rows.get(table)
        if mine is None:
            mine = self.rows[table] = {}
        if add_counts(mine, rows) is not None:
            return
        get = mine.get
        for r in rows:
            mine[r] = get(r, 0) + 1

    def track_deletes(self, table: str, rows: list[bytes]) -> None:
        """Count one less delivery of each row."""
        mine = self.rows.get(table)
        missing = 0
        if mine is None:
            missing = len(rows)
        elif remove_counts(mine, rows) is not None:
            return
        else:
            get = mine.get
            for r in rows:
                c = get(r)
                if c is None:
                    missing += 1
                elif c == 1:
                    del mine[r]
                else:
                    mine[r] = c - 1
        if missing:
            _log.warning(
                "query set %d: %d deleted %r row(s) were not among its rows",
                self.id,
                missing,
                table,
            )

    def take_rows(self) -> dict[str, list[bytes]]:
        """Every live delivery of this set (a row with count n appears n times); forgets them."""
        out: dict[str, list[bytes]] = {}
        for table, mine in self.rows.items():
            if not mine:
                continue
            if all(c == 1 for c in mine.values()):
                out[table] = list(mine)
            else:
                out[table] = [r for r, c in mine.items() for _ in range(c)]
        self.rows = {}
        return out


class QuerySetRegistry:
    """The query sets of one connection, by id."""

    __slots__ = ("_next", "sets")

    def __init__(self) -> None:
        self._next = 0  # like the TypeScript SDK: ids count from 0
        self.sets: dict[int, ClientQuerySet] = {}

    def create(
        self, queries: tuple[str, ...], owner: Any = None, query_set_id: int | None = None
    ) -> ClientQuerySet:
        """A new PENDING set with a fresh id (or ``query_set_id``, which must be free)."""
        if query_set_id is not None:
            if query_set_id in self.sets:
                raise ValueError(f"query set id {query_set_id} is in use")
            qid = query_set_id
        else:
            while True:
                qid = self._next
                self._next = (qid + 1) % _U32
                if qid not in self.sets:
                    break
        qs = ClientQuerySet(qid, queries, owner=owner)
        self.sets[qid] = qs
        return qs

    def get(self, query_set_id: int) -> ClientQuerySet | None:
        """The set with this id, while it is not finished."""
        return self.sets.get(query_set_id)

    def finish(self, qs: ClientQuerySet, state: QuerySetState) -> None:
        """Mark ``qs`` ENDED or FAILED and forget it (its id may be reused by the server)."""
        qs.state = state
        if self.sets.get(qs.id) is qs:
            del self.sets[qs.id]

    def live(self) -> list[ClientQuerySet]:
        """Sets not yet ended, in creation order."""
        return list(self.sets.values())
