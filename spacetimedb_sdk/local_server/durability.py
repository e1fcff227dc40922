"""Durable storage of a hosted database: every commit is on disk before the call returns.

Choice: SQLite in WAL mode with ``synchronous=FULL``. Each committed transaction becomes one
SQLite transaction (its row deletes and inserts, sequence reservations and metadata), and in WAL
mode ``FULL`` fsyncs the log at every commit, so a commit that returned survives a crash or a
``kill -9``. Compared with a hand-rolled append-only log this gives atomic multi-row commits,
crash recovery and compaction (the file holds the current state, not the history) for free, at
the price of one fsync per commit — the same price a log would pay.

Layout::

    meta(key TEXT PRIMARY KEY, value BLOB)          -- identities, "initialized", format
    tables(name TEXT PRIMARY KEY, row_type TEXT)    -- row type fingerprint per table
    rows(id INTEGER PRIMARY KEY, tbl TEXT, row BLOB, UNIQUE(tbl, row))  -- id keeps insert order
    sequences(tbl TEXT, col INTEGER, allocated TEXT, PRIMARY KEY(tbl, col))

Event tables are never written (their rows live only inside a transaction).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from spacetimedb_sdk.algebraic_type import (
    AlgebraicType,
    ArrayType,
    ProductType,
    RefType,
    SumType,
    Typespace,
    type_to_json,
)
from spacetimedb_sdk.errors import ModuleDefError
from spacetimedb_sdk.local_server.table_spec import TableSpec
from spacetimedb_sdk.local_server.tx_delta import TxDelta

__all__ = ["DATABASE_FILE", "Durability", "row_type_fingerprint"]

#: The SQLite file inside a data directory.
DATABASE_FILE: Final = "database.sqlite3"
_FORMAT: Final = b"1"

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tables(name TEXT PRIMARY KEY, row_type TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows(
    id INTEGER PRIMARY KEY, tbl TEXT NOT NULL, row BLOB NOT NULL, UNIQUE(tbl, row));
CREATE TABLE IF NOT EXISTS sequences(
    tbl TEXT NOT NULL, col INTEGER NOT NULL, allocated TEXT NOT NULL, PRIMARY KEY(tbl, col));
"""


def _inline(ty: AlgebraicType, ts: Typespace, stack: tuple[int, ...]) -> AlgebraicType:
    if isinstance(ty, RefType):
        if ty.index in stack:
            return ty  # recursion: keep the reference
        return _inline(ts.types[ty.index], ts, (*stack, ty.index))
    if isinstance(ty, ProductType):
        return ProductType(
            tuple(type(e)(e.name, _inline(e.algebraic_type, ts, stack)) for e in ty.elements)
        )
    if isinstance(ty, SumType):
        return SumType(
            tuple(type(v)(v.name, _inline(v.algebraic_type, ts, stack)) for v in ty.variants)
        )
    if isinstance(ty, ArrayType):
        return ArrayType(_inline(ty.element, ts, stack))
    return ty


def row_type_fingerprint(spec: TableSpec) -> str:
    """A text that changes exactly when the table's row layout (BSATN) or names change."""
    return json.dumps(type_to_json(_inline(spec.row_type, spec.typespace, ())), sort_keys=True)


class Durability:
    """The SQLite file of one database (see the module docstring for the guarantees)."""

    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / DATABASE_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        if self.meta().get("format", _FORMAT) != _FORMAT:
            raise ModuleDefError(f"{self.path} was written by an incompatible version")

    # -- reading ---------------------------------------------------------------------------------
    def meta(self) -> dict[str, bytes]:
        """All metadata entries."""
        return {k: bytes(v) for k, v in self._db.execute("SELECT key, value FROM meta")}

    def check_tables(self, specs: Iterable[TableSpec]) -> None:
        """Refuse to open data written for different row types; record new tables."""
        stored = dict(self._db.execute("SELECT name, row_type FROM tables"))
        new: list[tuple[str, str]] = []
        for spec in specs:
            if spec.is_event:
                continue
            fingerprint = row_type_fingerprint(spec)
            if spec.name not in stored:
                new.append((spec.name, fingerprint))
            elif stored[spec.name] != fingerprint:
                raise ModuleDefError(
                    f"table {spec.name!r} changed its row type since {self.path} was written; "
                    "migrations are not supported (use a new data directory)"
                )
        if new:
            with self._transaction():
                self._db.executemany("INSERT INTO tables(name, row_type) VALUES (?, ?)", new)

    def rows(self, table: str) -> list[bytes]:
        """The persisted rows of ``table`` in insertion order."""
        cur = self._db.execute("SELECT row FROM rows WHERE tbl = ? ORDER BY id", (table,))
        return [bytes(r) for (r,) in cur]

    def sequence_allocations(self) -> dict[tuple[str, int], int]:
        """``(table, column) → allocated`` of every sequence that ever reserved a block."""
        cur = self._db.execute("SELECT tbl, col, allocated FROM sequences")
        return {(t, int(c)): int(a) for t, c, a in cur}

    # -- writing ---------------------------------------------------------------------------------
    def _transaction(self) -> Any:
        return _SqliteTransaction(self._db)

    def write_commit(self, delta: TxDelta, meta: Mapping[str, bytes] | None = None) -> None:
        """Persist one committed transaction (durable when this returns)."""
        deletes: list[tuple[str, bytes]] = []
        inserts: list[tuple[str, bytes]] = []
        for group in (delta.tables, delta.system):
            for td in group.values():
                if td.is_event:
                    continue
                deletes.extend((td.table, b) for b, _ in td.deletes)
                inserts.extend((td.table, b) for b, _ in td.inserts)
        sequences = [(t, c, str(a)) for (t, c), a in delta.sequence_allocations.items()]
        if not (deletes or inserts or sequences or meta):
            return
        with self._transaction():
            if deletes:
                self._db.executemany("DELETE FROM rows WHERE tbl = ? AND row = ?", deletes)
            if inserts:
                self._db.executemany("INSERT OR IGNORE INTO rows(tbl, row) VALUES (?, ?)", inserts)
            if sequences:
                self._db.executemany(
                    "INSERT OR REPLACE INTO sequences(tbl, col, allocated) VALUES (?, ?, ?)",
                    sequences,
                )
            if meta:
                self._db.executemany(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                    [(k, v) for k, v in {"format": _FORMAT, **meta}.items()],
                )

    def close(self) -> None:
        """Close the file."""
        self._db.close()


class _SqliteTransaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
