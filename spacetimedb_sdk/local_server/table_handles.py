"""``ctx.db``: the table handles module code uses, bound to the datastore's open transaction.

Every read returns fresh row objects decoded from the stored bytes, so module code may mutate
what it reads (``user.online = True; ctx.db.user.identity.update(user)``) without touching the
stored state.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from spacetimedb_sdk.local_server.datastore import Datastore
from spacetimedb_sdk.local_server.indexes import BTreeIndex, HashIndex, UniqueIndex
from spacetimedb_sdk.local_server.row_keys import KeyFn
from spacetimedb_sdk.local_server.table_spec import IndexSpec
from spacetimedb_sdk.local_server.table_store import Table
from spacetimedb_sdk.module.ranges import UNBOUNDED, Range, as_range

__all__ = ["BTreeIndexHandle", "DbView", "HashIndexHandle", "TableHandle", "UniqueIndexHandle"]

_TABLE_METHODS = frozenset(("insert", "delete", "iter", "count", "index"))


class TableHandle:
    """``ctx.db.<table>``: insert, delete, iterate and count rows; one attribute per index."""

    def __init__(self, datastore: Datastore, table: Table) -> None:
        self._ds = datastore
        self._table = table
        self._indexes: dict[str, Any] = {}
        spec = table.spec
        pk_cols = None if spec.primary_key is None else (spec.primary_key,)
        for ix in spec.indexes:
            unique = table.unique_by_columns.get(ix.columns)
            handle: Any
            if unique is not None:
                btree = table.btrees.get(ix.name)
                handle = UniqueIndexHandle(
                    datastore, table, ix, unique, btree, ix.columns == pk_cols
                )
            elif ix.algorithm == "hash":
                handle = HashIndexHandle(datastore, table, ix, table.hashes[ix.name])
            else:
                handle = BTreeIndexHandle(datastore, table, ix, table.btrees[ix.name])
            self._indexes[ix.accessor] = handle
            if ix.accessor not in _TABLE_METHODS and not ix.accessor.startswith("_"):
                setattr(self, ix.accessor, handle)

    def index(self, accessor: str) -> Any:
        """The index handle named ``accessor`` (also reachable as an attribute)."""
        return self._indexes[accessor]

    def insert(self, row: Any) -> Any:
        """Insert ``row``; returns it with auto-inc columns filled in. A row equal to an existing
        one is not inserted twice. Raises ``UniqueConstraintViolation`` on a duplicate key."""
        return self._ds.require_tx().insert(self._table, row)

    def delete(self, row: Any) -> bool:
        """Delete the row equal to ``row``; False if no such row."""
        return self._ds.require_tx().delete(self._table, row)

    def iter(self) -> Iterator[Any]:
        """Every row (a snapshot taken when iteration starts)."""
        tx = self._ds.require_tx()
        decode = self._table.codec.decode
        for b in tx.rows(self._table):
            yield decode(b)

    __iter__ = iter

    def count(self) -> int:
        """The number of rows."""
        self._ds.require_tx()
        return len(self._table.rows)

    __len__ = count

    def __repr__(self) -> str:
        return f"<TableHandle {self._table.name}>"


def _column_key(table: Table, ix: IndexSpec, position: int) -> KeyFn:
    return table.column_keys[ix.columns[position]]


def _key(k: KeyFn, value: Any) -> Any:
    return value if k is None else k(value)


class _IndexHandleBase:
    def __init__(self, datastore: Datastore, table: Table, spec: IndexSpec) -> None:
        self._ds = datastore
        self._table = table
        self._spec = spec
        self._keys = tuple(_column_key(table, spec, i) for i in range(len(spec.columns)))

    def _scan_btree(self, btree: BTreeIndex, value: Any) -> list[bytes]:
        """Row bytes matching ``value``: a value, a range, or a tuple prefix (last may be a
        range) for multi-column indexes."""
        n = len(self._keys)
        parts = value if n > 1 and isinstance(value, tuple) else (value,)
        if len(parts) > n:
            raise ValueError(f"index {self._spec.accessor!r} has {n} column(s), got {len(parts)}")
        *head, last = parts
        prefix = tuple(_key(self._keys[i], v) for i, v in enumerate(head))
        rng = as_range(last)
        if rng is None:
            return list(btree.scan((*prefix, _key(self._keys[len(head)], last))))
        k = self._keys[len(head)]
        bounded = Range(
            _bound(k, rng.start), _bound(k, rng.end), rng.start_inclusive, rng.end_inclusive
        )
        return list(btree.scan(prefix, bounded))

    def _decode_all(self, rows: list[bytes]) -> list[Any]:
        decode = self._table.codec.decode
        return [decode(b) for b in rows]

    def _delete_all(self, rows: list[bytes]) -> int:
        tx = self._ds.require_tx()
        return sum(1 for b in rows if tx.delete_bytes(self._table, b))


def _bound(k: KeyFn, value: Any) -> Any:
    if value is UNBOUNDED or k is None:
        return value
    return k(value)


class UniqueIndexHandle(_IndexHandleBase):
    """A unique (or primary-key) column: ``find``, ``delete``, and ``update`` on the primary key.

    A BTree-backed unique index also has ``filter`` for ranges.
    """

    def __init__(
        self,
        datastore: Datastore,
        table: Table,
        spec: IndexSpec,
        unique: UniqueIndex,
        btree: BTreeIndex | None,
        is_primary_key: bool,
    ) -> None:
        super().__init__(datastore, table, spec)
        self._unique = unique
        self._btree = btree
        self._is_pk = is_primary_key
        self._single_key = self._keys[0] if len(self._keys) == 1 else None

    def _lookup_key(self, value: Any) -> Any:
        if len(self._keys) == 1:
            k0 = self._single_key
            return value if k0 is None else k0(value)
        return tuple(_key(k, v) for k, v in zip(self._keys, value, strict=True))

    def find(self, value: Any) -> Any | None:
        """The row with this value, or None."""
        self._ds.require_tx()
        b = self._unique.map.get(self._lookup_key(value))
        return None if b is None else self._table.codec.decode(b)

    def delete(self, value: Any) -> bool:
        """Delete the row with this value; False if none."""
        tx = self._ds.require_tx()
        b = self._unique.map.get(self._lookup_key(value))
        return b is not None and tx.delete_bytes(self._table, b)

    def update(self, row: Any) -> Any:
        """Replace the row with ``row``'s primary-key value by ``row`` (primary key only)."""
        if not self._is_pk:
            raise TypeError(
                f"{self._spec.accessor!r} is not the primary key; only the primary key "
                "index has update() (delete and insert instead)"
            )
        return self._ds.require_tx().update(self._table, self._spec.columns, row)

    def filter(self, value: Any) -> list[Any]:
        """Rows with this value or within this range."""
        self._ds.require_tx()
        if self._btree is None:
            row = self.find(value)
            return [] if row is None else [row]
        return self._decode_all(self._scan_btree(self._btree, value))


class BTreeIndexHandle(_IndexHandleBase):
    """A BTree index: ``filter`` and ``delete`` by value, range or (multi-column) prefix."""

    def __init__(
        self, datastore: Datastore, table: Table, spec: IndexSpec, btree: BTreeIndex
    ) -> None:
        super().__init__(datastore, table, spec)
        self._btree = btree

    def filter(self, value: Any) -> list[Any]:
        """Rows matching a value, a ``Range``/``range``/``slice``, or a tuple prefix."""
        self._ds.require_tx()
        return self._decode_all(self._scan_btree(self._btree, value))

    def delete(self, value: Any) -> int:
        """Delete the rows ``filter(value)`` would return; the number deleted."""
        self._ds.require_tx()
        return self._delete_all(self._scan_btree(self._btree, value))


class HashIndexHandle(_IndexHandleBase):
    """A hash index: ``filter`` and ``delete`` by exact value (a tuple for several columns)."""

    def __init__(
        self, datastore: Datastore, table: Table, spec: IndexSpec, index: HashIndex
    ) -> None:
        super().__init__(datastore, table, spec)
        self._index = index

    def _key_of(self, value: Any) -> Any:
        if len(self._keys) == 1:
            return _key(self._keys[0], value)
        return tuple(_key(k, v) for k, v in zip(self._keys, value, strict=True))

    def filter(self, value: Any) -> list[Any]:
        """Rows with exactly this value."""
        self._ds.require_tx()
        return self._decode_all(self._index.get(self._key_of(value)))

    def delete(self, value: Any) -> int:
        """Delete the rows with exactly this value; the number deleted."""
        self._ds.require_tx()
        return self._delete_all(self._index.get(self._key_of(value)))


class DbView:
    """``ctx.db``: one :class:`TableHandle` attribute per table accessor."""

    def __init__(self, handles: dict[str, TableHandle]) -> None:
        self._handles = handles
        for accessor, handle in handles.items():
            setattr(self, accessor, handle)

    def __getitem__(self, accessor: str) -> TableHandle:
        return self._handles[accessor]

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"the module has no table with accessor {name!r}")

    def __repr__(self) -> str:
        return f"<DbView {sorted(self._handles)}>"
