"""The client cache: every subscribed table's rows, updated one server message at a time.

A message's row operations -- all query sets, all tables, all row lists -- are one atomic batch
(docs/protocol.md#applying-a-message): they are collected per table into a :class:`RowBatch`, then
:meth:`RowCache.apply` applies each table's inserts before its deletes and returns the net
:class:`~spacetimedb_sdk.core.table_cache.TableDelta` of every touched table. Callbacks run only
after the whole batch is applied, so they see the state after the transaction.
"""

from __future__ import annotations

import threading

from spacetimedb_sdk.core.table_cache import CachedTable, TableDelta
from spacetimedb_sdk.core.table_layout import CompiledModule
from spacetimedb_sdk.redaction import sdk_logger

__all__ = ["RowBatch", "RowCache", "TableOps"]

_log = sdk_logger("spacetimedb_sdk.cache")


class TableOps:
    """One table's operations in a batch. Row lists passed in are borrowed, never mutated."""

    __slots__ = ("_owned", "deletes", "events", "inserts")

    def __init__(self) -> None:
        self.inserts: list[bytes] = []
        self.deletes: list[bytes] = []
        self.events: list[bytes] = []
        self._owned = [True, True, True]

    def add(self, which: int, rows: list[bytes]) -> None:
        """Append ``rows`` to list ``which`` (0 inserts, 1 deletes, 2 events)."""
        name = _OPS_FIELDS[which]
        current: list[bytes] = getattr(self, name)
        if not current:
            setattr(self, name, rows)  # borrow: the common case is one row list per table
            self._owned[which] = False
        elif self._owned[which]:
            current.extend(rows)
        else:
            setattr(self, name, current + rows)
            self._owned[which] = True


_OPS_FIELDS = ("inserts", "deletes", "events")


class RowBatch:
    """The row operations of one message, per table."""

    __slots__ = ("tables",)

    def __init__(self) -> None:
        self.tables: dict[str, TableOps] = {}

    def _ops(self, table: str) -> TableOps:
        ops = self.tables.get(table)
        if ops is None:
            ops = self.tables[table] = TableOps()
        return ops

    def insert(self, table: str, rows: list[bytes]) -> None:
        """Add one delivery of each row."""
        if rows:
            self._ops(table).add(0, rows)

    def delete(self, table: str, rows: list[bytes]) -> None:
        """Remove one delivery of each row."""
        if rows:
            self._ops(table).add(1, rows)

    def events(self, table: str, rows: list[bytes]) -> None:
        """Event-table rows (never stored)."""
        if rows:
            self._ops(table).add(2, rows)

    def __bool__(self) -> bool:
        return bool(self.tables)


class RowCache:
    """Every table's :class:`CachedTable`, created on first use, sharing one lock."""

    def __init__(self, module: CompiledModule) -> None:
        self.module = module
        self.lock = threading.RLock()
        self._tables: dict[str, CachedTable] = {}
        self._unknown: set[str] = set()

    def table(self, name: str) -> CachedTable | None:
        """The cache of a table or view (canonical or accessor name); None if unknown."""
        found = self._tables.get(name)
        if found is not None:
            return found
        layout = self.module.find(name)
        if layout is None:
            return None
        with self.lock:
            found = self._tables.get(layout.name)
            if found is None:
                found = self._tables[layout.name] = CachedTable(layout, self.lock)
            self._tables.setdefault(name, found)
        return found

    def tables(self) -> list[CachedTable]:
        """The caches created so far (each once)."""
        return list({id(t): t for t in self._tables.values()}.values())

    def apply(self, batch: RowBatch) -> list[TableDelta]:
        """Apply a message's batch; return the non-empty net deltas, in table order."""
        deltas: list[TableDelta] = []
        with self.lock:
            for name, ops in batch.tables.items():
                inserts, deletes, events = ops.inserts, ops.deletes, ops.events
                table = self.table(name)
                if table is None:
                    if name not in self._unknown:
                        self._unknown.add(name)
                        _log.warning("rows for unknown table %r ignored", name)
                    continue
                if table.layout.is_event:
                    rows = events + inserts  # a persistent entry for an event table: still events
                    if rows:
                        deltas.append(table.event_delta(rows))
                    continue
                if inserts or deletes:
                    delta = table.apply(inserts, deletes)
                    if delta:
                        deltas.append(delta)
                if events:
                    # The wire says these are event rows even if the schema (e.g. a V9 def,
                    # which has no event flag) does not: deliver them as events, store nothing.
                    deltas.append(table.event_delta(events))
        return deltas

    def replace(self, contents: dict[str, dict[bytes, int]]) -> list[TableDelta]:
        """Make each table hold exactly ``contents`` (tables not named become empty)."""
        deltas: list[TableDelta] = []
        with self.lock:
            names = {t.layout.name for t in self.tables()} | set(contents)
            for name in names:
                table = self.table(name)
                if table is None or table.layout.is_event:
                    continue
                delta = table.replace_all(contents.get(name, {}))
                if delta:
                    deltas.append(delta)
        return deltas
