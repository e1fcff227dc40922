"""One in-memory table: its rows (BSATN bytes → decoded value), indexes and sequences.

The row bytes are the row's identity (set semantics: a table never holds two equal rows) and are
what goes on the wire unchanged; the decoded value (an instance of the module's row class,
private to the table) feeds index keys and readers that want fields. :class:`Table` has only raw
structural operations — constraint checks, undo and deltas live in
:mod:`spacetimedb_sdk.local_server.datastore`.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from spacetimedb_sdk.bsatn import BsatnCodec, compile_codec
from spacetimedb_sdk.local_server.indexes import BTreeIndex, HashIndex, UniqueIndex
from spacetimedb_sdk.local_server.row_keys import KeyFn, column_key_function, row_key_function
from spacetimedb_sdk.local_server.sequences import Sequence
from spacetimedb_sdk.local_server.table_spec import TableSpec

__all__ = ["Table"]


class Table:
    """Committed rows plus the structures that find them."""

    def __init__(self, spec: TableSpec, allocations: dict[int, int] | None = None) -> None:
        self.spec = spec
        self.name = spec.name
        #: Encodes row objects / decodes into fresh row objects (the module's classes).
        self.codec: BsatnCodec[Any] = compile_codec(spec.row_type, spec.typespace, spec.bindings)
        self.rows: dict[bytes, Any] = {}
        self.column_keys: tuple[KeyFn, ...] = tuple(
            column_key_function(c.type, spec.typespace, spec.bindings) for c in spec.columns
        )
        self.column_getters: tuple[Callable[[Any], Any], ...] = tuple(
            attrgetter(c.attr) for c in spec.columns
        )
        self.uniques: list[UniqueIndex] = []
        self.unique_by_columns: dict[tuple[int, ...], UniqueIndex] = {}
        for cols in spec.unique:
            name = f"{spec.name}_{'_'.join(spec.columns[i].name for i in cols)}_key"
            index = UniqueIndex(name, cols, self._key_function(cols, as_tuple=False))
            self.uniques.append(index)
            self.unique_by_columns[cols] = index
        self.btrees: dict[str, BTreeIndex] = {}
        self.hashes: dict[str, HashIndex] = {}
        for ix in spec.indexes:
            if ix.algorithm == "hash":
                self.hashes[ix.name] = HashIndex(
                    ix.name, ix.columns, self._key_function(ix.columns, as_tuple=False)
                )
            else:
                self.btrees[ix.name] = BTreeIndex(
                    ix.name, ix.columns, self._key_function(ix.columns, as_tuple=True)
                )
        allocations = allocations or {}
        self.sequences: list[tuple[Sequence, str, str]] = []
        for seq_spec in spec.sequences:
            col = spec.columns[seq_spec.column]
            resolved = spec.typespace.resolve(col.type)
            self.sequences.append(
                (
                    Sequence(seq_spec, allocations.get(seq_spec.column)),
                    col.attr,
                    getattr(resolved, "name", "I128"),
                )
            )
        self._unique_pairs = [(u.key_of, u.map) for u in self.uniques]
        self._btree_pairs = [(b.key_of, b) for b in self.btrees.values()]
        self._hash_pairs = [(h.key_of, h) for h in self.hashes.values()]

    def _key_function(self, cols: tuple[int, ...], as_tuple: bool) -> Callable[[Any], Any]:
        attrs = tuple(self.spec.columns[i].attr for i in cols)
        keys = tuple(self.column_keys[i] for i in cols)
        return row_key_function(attrs, keys, as_tuple)

    # -- raw structural operations (no checks, no undo) ------------------------------------------
    def add(self, row: bytes, value: Any) -> None:
        """Store ``row`` and index it."""
        self.rows[row] = value
        for key_of, m in self._unique_pairs:
            m[key_of(value)] = row
        for key_of, bt in self._btree_pairs:
            bt.add(key_of(value), row)
        for key_of, h in self._hash_pairs:
            h.add(key_of(value), row)

    def remove(self, row: bytes) -> Any:
        """Drop ``row`` from the table and its indexes; return its value."""
        value = self.rows.pop(row)
        for key_of, m in self._unique_pairs:
            m.pop(key_of(value), None)
        for key_of, bt in self._btree_pairs:
            bt.remove(key_of(value), row)
        for key_of, h in self._hash_pairs:
            h.remove(key_of(value), row)
        return value

    def clear(self) -> None:
        """Remove every row."""
        self.rows.clear()
        for u in self.uniques:
            u.map.clear()
        for b in self.btrees.values():
            b.entries.clear()
        for h in self.hashes.values():
            h.map.clear()

    # -- reads ------------------------------------------------------------------------------------
    def conflicting_unique(self, value: Any) -> UniqueIndex | None:
        """The first unique index that already holds ``value``'s key, if any."""
        for u in self.uniques:
            if u.key_of(value) in u.map:
                return u
        return None

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"<Table {self.name} rows={len(self.rows)}>"
