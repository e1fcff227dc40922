"""The in-memory datastore: tables, one transaction at a time, undo on rollback, net deltas.

Design: a transaction writes straight into the committed tables and keeps an undo log, so reads
inside the transaction need no merging of "committed" and "pending" state and commits cost
nothing. This is sound because the host is single-threaded and runs one transaction at a time
(readers outside a transaction, such as subscription evaluation, only run between them).

Semantics (docs/module-def.md#runtime-semantics):

* set semantics: inserting a row equal to an existing row is a no-op;
* a row whose unique / primary-key value already exists is refused with
  :class:`~spacetimedb_sdk.module.errors.UniqueConstraintViolation`;
* auto-inc columns holding 0 get the next sequence value before those checks;
* rows of event tables exist only inside their transaction: at commit they are reported as
  events and removed;
* inserting a schedule row whose ``ScheduleAt`` lies 2^36 - 1 ms or more ahead is refused;
* :meth:`Transaction.rollback` undoes every write, sequence steps included.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

from spacetimedb_sdk.local_server.st_client import ST_CLIENT, st_client_spec
from spacetimedb_sdk.local_server.table_spec import TableSpec
from spacetimedb_sdk.local_server.table_store import Table
from spacetimedb_sdk.local_server.tx_delta import TableDelta, TxDelta
from spacetimedb_sdk.module.errors import (
    NoTransactionError,
    RowNotFoundError,
    ScheduleDelayTooLongError,
    UniqueConstraintViolation,
)
from spacetimedb_sdk.schedule_at import ScheduleAt
from spacetimedb_sdk.timestamp import Timestamp

__all__ = ["MAX_SCHEDULE_DELAY_MICROS", "Datastore", "StoredRowError", "Transaction"]

#: Schedules this far ahead (2^36 - 1 ms) or more are refused.
MAX_SCHEDULE_DELAY_MICROS: Final = ((1 << 36) - 1) * 1000

_ADDED: Final = 0
_REMOVED: Final = 1
_SEQUENCE: Final = 2


class StoredRowError(ValueError):
    """A persisted row does not fit its table (bad encoding, or a duplicate unique key)."""


class _Changes:
    """Net inserted / deleted rows of one table within a transaction."""

    __slots__ = ("deleted", "inserted")

    def __init__(self) -> None:
        self.inserted: dict[bytes, Any] = {}
        self.deleted: dict[bytes, Any] = {}


class Datastore:
    """All tables of one database, by canonical name (``st_client`` included)."""

    def __init__(
        self,
        specs: Iterable[TableSpec],
        allocations: dict[tuple[str, int], int] | None = None,
    ) -> None:
        allocations = allocations or {}
        self.tables: dict[str, Table] = {}
        for spec in [*specs, st_client_spec()]:
            if spec.name in self.tables:
                raise ValueError(f"duplicate table {spec.name!r}")
            mine = {col: v for (tbl, col), v in allocations.items() if tbl == spec.name}
            self.tables[spec.name] = Table(spec, mine)
        self.st_client = self.tables[ST_CLIENT]
        #: The open transaction, if any.
        self.current: Transaction | None = None

    def table(self, name: str) -> Table:
        """The table with this canonical name (KeyError if none)."""
        return self.tables[name]

    def begin(self, timestamp: Timestamp) -> Transaction:
        """Open a transaction (one at a time)."""
        if self.current is not None:
            raise RuntimeError("a transaction is already open")
        tx = Transaction(self, timestamp)
        self.current = tx
        return tx

    def require_tx(self) -> Transaction:
        """The open transaction, or :class:`NoTransactionError`."""
        tx = self.current
        if tx is None:
            raise NoTransactionError("tables can only be used inside a transaction")
        return tx

    def load_rows(self, table: str, rows: Iterable[bytes]) -> None:
        """Fill ``table`` with persisted rows (restart).

        Each row must decode for the table's type and keep every unique constraint, else
        :class:`StoredRowError` (the stored data is damaged; nothing is repaired silently).
        """
        t = self.tables[table]
        decode = t.codec.decode
        for n, b in enumerate(rows, 1):
            try:
                value = decode(b)
            except Exception as exc:  # decode errors, and row classes refusing the values
                raise StoredRowError(
                    f"row {n} of table `{table}` does not decode as its row type ({exc})"
                ) from exc
            if b in t.rows:
                raise StoredRowError(f"row {n} of table `{table}` is stored twice")
            if t.uniques:
                clash = t.conflicting_unique(value)
                if clash is not None:
                    raise StoredRowError(
                        f"row {n} of table `{table}` repeats a value of the unique "
                        f"constraint {clash.name} held by an earlier row"
                    )
            t.add(b, value)

    def sequence_allocations(self) -> dict[tuple[str, int], int]:
        """Every sequence's reserved-block end, ``(table, column) → allocated``."""
        return {
            (t.name, seq.column): seq.allocated for t in self.tables.values()
            for seq, _, _ in t.sequences
        }  # fmt: skip


class Transaction:
    """An open transaction: writes go to the tables at once, with an undo log and a delta."""

    __slots__ = ("_changes", "_ds", "_reserved", "_undo", "timestamp")

    def __init__(self, datastore: Datastore, timestamp: Timestamp) -> None:
        self._ds = datastore
        self.timestamp = timestamp
        self._undo: list[tuple[Any, ...]] = []
        self._changes: dict[Table, _Changes] = {}
        self._reserved: dict[tuple[str, int], int] = {}

    # -- bookkeeping -----------------------------------------------------------------------------
    def _changes_of(self, table: Table) -> _Changes:
        ch = self._changes.get(table)
        if ch is None:
            ch = self._changes[table] = _Changes()
        return ch

    def _add(self, table: Table, row: bytes, value: Any) -> None:
        table.add(row, value)
        self._undo.append((_ADDED, table, row))
        ch = self._changes_of(table)
        if row in ch.deleted:
            del ch.deleted[row]
        else:
            ch.inserted[row] = value

    def _remove(self, table: Table, row: bytes) -> Any:
        value = table.remove(row)
        self._undo.append((_REMOVED, table, row, value))
        ch = self._changes_of(table)
        if row in ch.inserted:
            del ch.inserted[row]
        else:
            ch.deleted[row] = value
        return value

    # -- writes ----------------------------------------------------------------------------------
    def insert(self, table: Table, row: Any) -> Any:
        """Insert a row object; returns it with generated auto-inc values filled in.

        The caller's object is never stored (nor mutated): the table keeps its own decoded copy.
        """
        if table.sequences:
            row = self._fill_sequences(table, row)
        b = table.codec.encode(row)
        if b in table.rows:
            return row
        if table.uniques and table.conflicting_unique(row) is not None:
            raise UniqueConstraintViolation(table.name)
        if table.spec.schedule is not None:
            self._check_schedule(table, row)
        self._add(table, b, table.codec.decode(b))
        return row

    def _fill_sequences(self, table: Table, row: Any) -> Any:
        from spacetimedb_sdk.local_server.sequences import truncate_to_column

        copied = False
        for seq, attr, type_name in table.sequences:
            if getattr(row, attr) != 0:
                continue
            if not copied:
                row = copy.copy(row)
                copied = True
            state = seq.state()
            value, reserved = seq.generate()
            self._undo.append((_SEQUENCE, seq, state))
            if reserved:
                self._reserved[(table.name, seq.column)] = seq.allocated
            object.__setattr__(row, attr, truncate_to_column(value, type_name))
        return row

    def _check_schedule(self, table: Table, row: Any) -> None:
        spec = table.spec.schedule
        assert spec is not None
        at = table.column_getters[spec.at_column](row)
        if not isinstance(at, ScheduleAt):
            return
        value = at.value
        if isinstance(value, Timestamp):
            delay = value.micros_since_unix_epoch - self.timestamp.micros_since_unix_epoch
        else:
            delay = value.micros
        if delay >= MAX_SCHEDULE_DELAY_MICROS:
            raise ScheduleDelayTooLongError(
                f"schedule for table `{table.name}` is too far in the future "
                "(at most 2^36 - 1 milliseconds ahead)"
            )

    def insert_bytes(self, table: Table, row: bytes) -> bytes:
        """Insert a row given as BSATN (e.g. SQL ``INSERT``); returns the stored row bytes."""
        value = table.codec.decode(row)
        stored = self.insert(table, value)
        return row if stored is value else table.codec.encode(stored)

    def delete(self, table: Table, row: Any) -> bool:
        """Delete the row equal to the object ``row``; False if there is none."""
        b = table.codec.encode(row)
        if b not in table.rows:
            return False
        self._remove(table, b)
        return True

    def delete_bytes(self, table: Table, row: bytes) -> bool:
        """Delete the row with these exact bytes; False if there is none."""
        if row not in table.rows:
            return False
        self._remove(table, row)
        return True

    def update(self, table: Table, columns: tuple[int, ...], row: Any) -> Any:
        """Replace the row holding ``row``'s value in the unique column set ``columns``."""
        index = table.unique_by_columns[columns]
        old = index.map.get(index.key_of(row))
        if old is None:
            raise RowNotFoundError(
                f"update on table `{table.name}`: no row with the given primary key"
            )
        b = table.codec.encode(row)
        if b == old:
            return row
        old_value = self._remove(table, old)
        try:
            if table.uniques and table.conflicting_unique(row) is not None:
                raise UniqueConstraintViolation(table.name)
            if table.spec.schedule is not None:
                self._check_schedule(table, row)
        except Exception:
            self._add(table, old, old_value)
            raise
        self._add(table, b, table.codec.decode(b))
        return row

    # -- reads ------------------------------------------------------------------------------------
    def find(self, table: Table, columns: tuple[int, ...], key: Any) -> bytes | None:
        """Row bytes by unique key (``key`` as the index computes it)."""
        return table.unique_by_columns[columns].map.get(key)

    def rows(self, table: Table) -> Iterator[bytes]:
        """A snapshot of the table's row bytes."""
        return iter(list(table.rows))

    # -- end ---------------------------------------------------------------------------------------
    def commit(self, before_finish: Callable[[TxDelta], None] | None = None) -> TxDelta:
        """Make the writes permanent (event rows are published and dropped); return the delta.

        ``before_finish(delta)`` runs first (e.g. the durable write); if it raises, the
        transaction is rolled back and the exception propagates.
        """
        if self._ds.current is not self:
            raise RuntimeError("transaction is not open")
        tables: dict[str, TableDelta] = {}
        system: dict[str, TableDelta] = {}
        events: list[Table] = []
        for table, ch in self._changes.items():
            if table.spec.is_event:
                events.append(table)
                if not ch.inserted:
                    continue
                delta = TableDelta(table.name, tuple(ch.inserted.items()), (), is_event=True)
            elif ch.inserted or ch.deleted:
                delta = TableDelta(
                    table.name, tuple(ch.inserted.items()), tuple(ch.deleted.items())
                )
            else:
                continue
            (system if table.spec.system else tables)[table.name] = delta
        result = TxDelta(tables, system, dict(self._reserved))
        if before_finish is not None:
            try:
                before_finish(result)
            except BaseException:
                self.rollback()
                raise
        for table in events:
            table.clear()
        self._close()
        return result

    def rollback(self) -> None:
        """Undo every write of the transaction, newest first."""
        self._close()
        for entry in reversed(self._undo):
            op = entry[0]
            if op == _ADDED:
                entry[1].remove(entry[2])
            elif op == _REMOVED:
                entry[1].add(entry[2], entry[3])
            else:
                entry[1].restore(entry[2])
        self._undo.clear()
        self._changes.clear()

    def _close(self) -> None:
        if self._ds.current is not self:
            raise RuntimeError("transaction is not open")
        self._ds.current = None
