"""Durable storage of a hosted database: every commit is on disk before the call returns.

Choice: SQLite in WAL mode with ``synchronous=FULL``. Each committed transaction becomes one
SQLite transaction (its row deletes and inserts, sequence reservations and metadata), and in WAL
mode ``FULL`` fsyncs the log at every commit, so a commit that returned survives a crash or a
``kill -9``. Compared with a hand-rolled append-only log this gives atomic multi-row commits,
crash recovery and compaction (the file holds the current state, not the history) for free, at
the price of one fsync per commit — the same price a log would pay.

Layout::

    meta(key TEXT PRIMARY KEY, value BLOB)          -- identities, "initialized", format,
                                                    -- SQL system variables ("var:row_limit")
    tables(name TEXT PRIMARY KEY, row_type TEXT)    -- row type fingerprint per table
    rows(id INTEGER PRIMARY KEY, tbl TEXT, row BLOB, UNIQUE(tbl, row))  -- id keeps insert order
    sequences(tbl TEXT, col INTEGER, allocated TEXT, PRIMARY KEY(tbl, col))

Event tables are never written (their rows live only inside a transaction).

Damage is refused, never served: a new file is built under a temporary name and renamed into
place, so an existing file is always a complete database. Opening one checks SQLite's own page
structure, the layout above and the metadata; loading checks that every row decodes for its
table's type and that no two rows share a unique key. Any failure raises
:class:`CorruptDatabaseError` naming the file; :func:`set_aside` moves a damaged (or unwanted)
database out of the way so the next start begins empty, without deleting anything.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from spacetimedb_sdk.algebraic_type import (
    AlgebraicType,
    ArrayType,
    ProductType,
    RefType,
    SumType,
    Typespace,
    type_to_json,
)
from spacetimedb_sdk.errors import ModuleDefError, SpacetimeDBError
from spacetimedb_sdk.local_server.datastore import StoredRowError
from spacetimedb_sdk.local_server.table_spec import TableSpec
from spacetimedb_sdk.local_server.tx_delta import TxDelta

if TYPE_CHECKING:
    from spacetimedb_sdk.local_server.datastore import Datastore

__all__ = [
    "DATABASE_FILE",
    "CorruptDatabaseError",
    "Durability",
    "row_type_fingerprint",
    "set_aside",
]

#: The SQLite file inside a data directory.
DATABASE_FILE: Final = "database.sqlite3"
_FORMAT: Final = b"1"
#: Metadata keys of SQL system variables (``SET row_limit = n``) start with this.
_VARIABLE_PREFIX: Final = "var:"
#: SQLite keeps a database's log and shared memory in files named after it plus these.
_COMPANIONS: Final = ("-wal", "-shm")
_COLUMNS: Final = {
    "meta": ("key", "value"),
    "tables": ("name", "row_type"),
    "rows": ("id", "tbl", "row"),
    "sequences": ("tbl", "col", "allocated"),
}
_HEX_IDENTITY: Final = re.compile(rb"\A[0-9a-f]{64}\Z")
_MAX_U64: Final = (1 << 64) - 1


class CorruptDatabaseError(SpacetimeDBError):
    """A database file is damaged: the server refuses to open it rather than serve wrong data."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(
            f"the database file {path} is damaged: {problem}. It was not opened. Restore it "
            "from a backup, or start with `spacetimedb-sdk serve --fresh-database` to move it "
            "aside and begin with an empty database"
        )
        self.path = path
        self.problem = problem


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


def set_aside(data_dir: str | Path) -> Path | None:
    """Move the database in ``data_dir`` (with its log) to a dated name; the new main file.

    The next :class:`Durability` on ``data_dir`` then starts empty. Nothing is deleted: the moved
    files are a complete SQLite database (its log kept beside it). None when there was nothing.
    """
    path = Path(data_dir) / DATABASE_FILE
    present = [p for p in _with_companions(path) if p.exists()]
    if not present:
        return None
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{DATABASE_FILE}.set-aside-{stamp}")
    n = 1
    while any(p.exists() for p in _with_companions(target)):
        n += 1
        target = path.with_name(f"{DATABASE_FILE}.set-aside-{stamp}-{n}")
    for source, dest in zip(_with_companions(path), _with_companions(target), strict=True):
        if source.exists():
            source.rename(dest)
    _fsync_directory(path.parent)
    return target


def _with_companions(path: Path) -> tuple[Path, ...]:
    return (path, *(path.with_name(path.name + suffix) for suffix in _COMPANIONS))


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories; the rename is still atomic
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create(path: Path) -> None:
    """Build an empty database beside ``path`` and rename it into place (atomic)."""
    building = path.with_name(path.name + ".creating")
    for stale in _with_companions(building):  # left by a crash during an earlier creation
        stale.unlink(missing_ok=True)
    db = sqlite3.connect(str(building), isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        db.execute("INSERT INTO meta(key, value) VALUES ('format', ?)", (_FORMAT,))
    finally:
        db.close()  # checkpoints and removes the log: one self-contained file
    with open(building, "rb") as f:
        os.fsync(f.fileno())
    os.replace(building, path)
    _fsync_directory(path.parent)


class Durability:
    """The SQLite file of one database (see the module docstring for the guarantees)."""

    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / DATABASE_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            if any(p.exists() for p in _with_companions(self.path)[1:]):
                raise CorruptDatabaseError(
                    self.path, "the file is missing but its write-ahead log is still there"
                )
            _create(self.path)
        uri = f"file:{urllib.parse.quote(str(self.path))}?mode=rw"
        try:
            self._db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise CorruptDatabaseError(self.path, f"SQLite cannot open it ({exc})") from exc
        try:
            self._check()
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise CorruptDatabaseError(self.path, f"SQLite cannot read it ({exc})") from exc
        except BaseException:
            self._db.close()
            raise

    def corrupt(self, problem: str) -> CorruptDatabaseError:
        """The error for damage found in this file."""
        return CorruptDatabaseError(self.path, problem)

    # -- checking --------------------------------------------------------------------------------
    def _check(self) -> None:
        """Refuse a file that is not a complete database of ours (see the module docstring)."""
        if self.path.stat().st_size == 0:
            raise self.corrupt("the file is empty (0 bytes)")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        problems = [str(r) for (r,) in self._db.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise self.corrupt("SQLite's structure check failed: " + "; ".join(problems))
        for table, columns in _COLUMNS.items():
            found = tuple(r[1] for r in self._db.execute(f"PRAGMA table_info({table})"))
            if not found:
                raise self.corrupt(f"its `{table}` table is missing")
            if found != columns:
                raise self.corrupt(f"its `{table}` table has columns {found}, not {columns}")
        meta = self.meta()
        if meta.get("format") != _FORMAT:
            if "format" in meta:
                raise ModuleDefError(f"{self.path} was written by an incompatible version")
            raise self.corrupt("its format marker is missing")
        if meta.get("initialized") == b"1":
            for key in ("database_identity", "owner_identity"):
                value = meta.get(key)
                if value is None or _HEX_IDENTITY.match(value) is None:
                    raise self.corrupt(f"its {key} is missing or not an identity")
        elif "initialized" in meta:
            raise self.corrupt("its `initialized` marker is damaged")
        elif self._count("SELECT count(*) FROM rows") or self._count(
            "SELECT count(*) FROM sequences"
        ):
            raise self.corrupt("it holds rows but was never marked initialized")
        self.variables()  # validates them
        for name, row_type in self._db.execute("SELECT name, row_type FROM tables"):
            try:
                json.loads(row_type)
            except (TypeError, ValueError):
                raise self.corrupt(f"the recorded row type of table `{name}` is damaged") from None
        orphan = self._db.execute(
            "SELECT tbl FROM rows WHERE tbl NOT IN (SELECT name FROM tables) LIMIT 1"
        ).fetchone()
        if orphan is not None:
            raise self.corrupt(f"it holds rows of `{orphan[0]}`, a table it never recorded")
        if self._count("SELECT count(*) FROM rows WHERE typeof(row) != 'blob'"):
            raise self.corrupt("some rows are not stored as bytes")
        self.sequence_allocations()  # validates them

    def _count(self, sql: str) -> int:
        return int(self._db.execute(sql).fetchone()[0])

    # -- reading ---------------------------------------------------------------------------------
    def meta(self) -> dict[str, bytes]:
        """All metadata entries."""
        out: dict[str, bytes] = {}
        for key, value in self._db.execute("SELECT key, value FROM meta"):
            if not isinstance(value, bytes):
                raise self.corrupt(f"its metadata entry {key!r} is not stored as bytes")
            out[key] = value
        return out

    def variables(self) -> dict[str, int]:
        """The SQL system variables ever set (``row_limit`` → value)."""
        out: dict[str, int] = {}
        for key, value in self.meta().items():
            if not key.startswith(_VARIABLE_PREFIX):
                continue
            number = int(value) if value.isdigit() else -1
            if not 0 <= number <= _MAX_U64:
                raise self.corrupt(f"its system variable {key!r} holds {value!r}, not a u64")
            out[key.removeprefix(_VARIABLE_PREFIX)] = number
        return out

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

    def load_into(self, datastore: Datastore, table: str) -> None:
        """Fill ``table`` of ``datastore`` with its persisted rows (:class:`CorruptDatabaseError`
        when one does not decode or breaks a unique constraint)."""
        try:
            datastore.load_rows(table, self.rows(table))
        except StoredRowError as exc:
            raise self.corrupt(str(exc)) from exc

    def sequence_allocations(self) -> dict[tuple[str, int], int]:
        """``(table, column) → allocated`` of every sequence that ever reserved a block."""
        out: dict[tuple[str, int], int] = {}
        for t, c, a in self._db.execute("SELECT tbl, col, allocated FROM sequences"):
            try:
                out[(str(t), int(c))] = int(a)
            except (TypeError, ValueError):
                raise self.corrupt(f"the sequence record of table `{t}` is damaged") from None
        return out

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

    def write_variable(self, name: str, value: int) -> None:
        """Persist a SQL system variable (durable when this returns)."""
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                (_VARIABLE_PREFIX + name, str(value).encode()),
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
