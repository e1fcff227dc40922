"""The cached rows of one table: refcounts keyed by row bytes, lazy decoding, indexes.

docs/protocol.md#client-cache: a row is identified by its exact BSATN bytes (BSATN is canonical, so equal rows
have equal bytes) and stored with a reference count, the number of live deliveries of it across
every query set and query. It is visible while the count is positive.

Rows are kept as bytes and decoded on first access (iteration, an index lookup, a callback):
applying 100,000 rows that nobody looks at costs dictionary work, not decoding. Decoded rows are
memoised, so a row object handed to ``on_insert`` is the same object later seen by ``iter``,
``find`` and ``on_delete``.

Indexes are built on first use, then maintained on every apply:

* a unique index is a dict ``key -> row bytes`` (O(1) ``find``);
* a B-tree index is a dict ``key -> {row bytes}`` for exact matches plus a :class:`SortedKeys`
  of the distinct keys, so a range filter is O(log n + k).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from itertools import repeat
from operator import is_not
from typing import Any

from spacetimedb_sdk.core.key_order import OrderKey
from spacetimedb_sdk.core.multiset import add_absent, remove_single
from spacetimedb_sdk.core.sorted_keys import SortedKeys
from spacetimedb_sdk.core.table_layout import IndexLayout, TableLayout
from spacetimedb_sdk.redaction import sdk_logger

__all__ = ["BTreeIndexCache", "CachedTable", "TableDelta", "UniqueIndexCache"]

_log = sdk_logger("spacetimedb_sdk.cache")
_MISSING: Any = object()


def _pair_updates(
    pk_of: Any, added: list[bytes], removed: list[bytes]
) -> tuple[list[bytes], list[bytes], list[tuple[bytes, bytes]]]:
    """Pair deleted and inserted rows with equal primary keys into ``(old, new)`` updates.

    ``pk_of`` maps row bytes to a value equal exactly when the keys are (``update_key_of``)."""
    if pk_of is None or not added or not removed:
        return added, removed, []
    by_key = dict(zip(map(pk_of, removed), removed, strict=True))
    keys = list(map(pk_of, added))
    if len(keys) == len(by_key) == len(removed) == len(set(keys)) and all(
        map(by_key.__contains__, keys)
    ):
        # Each deleted row's key comes back exactly once: every change is an update.
        return [], [], list(zip(map(by_key.__getitem__, keys), added, strict=True))
    pop = by_key.pop
    remaining: list[bytes] = []
    updates: list[tuple[bytes, bytes]] = []
    for r, key in zip(added, keys, strict=True):
        old = pop(key, None)
        if old is None:
            remaining.append(r)
        else:
            updates.append((old, r))
    if not updates:
        return added, removed, []
    return remaining, list(by_key.values()), updates


def _ordered(order: OrderKey | None, value: Any) -> Any:
    return value if order is None else order(value)


class UniqueIndexCache:
    """``key -> row bytes`` for a unique index."""

    __slots__ = ("layout", "rows")

    def __init__(self, layout: IndexLayout, rows: Iterable[bytes]) -> None:
        self.layout = layout
        key_of = layout.key_of
        self.rows: dict[Any, bytes] = {key_of(r): r for r in rows}

    def insert(self, rows: Iterable[bytes]) -> None:
        key_of, index = self.layout.key_of, self.rows
        for r in rows:
            index[key_of(r)] = r

    def remove(self, rows: Iterable[bytes]) -> None:
        key_of, index = self.layout.key_of, self.rows
        for r in rows:
            key = key_of(r)
            if index.get(key) == r:
                del index[key]

    def find(self, key: Any) -> bytes | None:
        """The row bytes with this key, or None."""
        return self.rows.get(key)


class BTreeIndexCache:
    """A non-unique (or unique) ordered index: exact lookups and ranges over sorted keys."""

    __slots__ = ("_convert", "buckets", "keys", "layout")

    def __init__(self, layout: IndexLayout, rows: Iterable[bytes]) -> None:
        self.layout = layout
        # Keys are stored as stand-ins that order as the server orders them (key_order.py):
        # enum members, sums, None and dicts have no Python order of their own.
        orders = layout.order_keys
        self._convert: OrderKey | None
        if not any(orders):
            self._convert = None
        elif len(orders) == 1:
            self._convert = orders[0]
        else:
            self._convert = lambda k: tuple(map(_ordered, orders, k))
        self.buckets: dict[Any, dict[bytes, None]] = {}
        self._add(rows)
        self.keys = SortedKeys(self.buckets)

    def sort_key(self, key: Any) -> Any:
        """The stored (orderable) form of a key value."""
        return key if self._convert is None else self._convert(key)

    def _add(self, rows: Iterable[bytes]) -> list[Any]:
        key_of, buckets, convert = self.layout.key_of, self.buckets, self._convert
        new_keys: list[Any] = []
        for r in rows:
            key = key_of(r)
            if convert is not None:
                key = convert(key)
            bucket = buckets.get(key)
            if bucket is None:
                buckets[key] = {r: None}
                new_keys.append(key)
            else:
                bucket[r] = None
        return new_keys

    def insert(self, rows: Iterable[bytes]) -> None:
        add = self.keys.add
        for key in self._add(rows):
            add(key)

    def remove(self, rows: Iterable[bytes]) -> None:
        key_of, buckets, convert = self.layout.key_of, self.buckets, self._convert
        for r in rows:
            key = key_of(r)
            if convert is not None:
                key = convert(key)
            bucket = buckets.get(key)
            if bucket is not None and r in bucket:
                del bucket[r]
                if not bucket:
                    del buckets[key]
                    self.keys.discard(key)

    def exact(self, key: Any) -> list[bytes]:
        """Rows whose key equals ``key``."""
        bucket = self.buckets.get(self.sort_key(key))
        return list(bucket) if bucket else []

    def range(
        self,
        lo: Any,
        hi: Any,
        *,
        has_lo: bool,
        has_hi: bool,
        lo_inclusive: bool = True,
        hi_inclusive: bool = True,
    ) -> list[bytes]:
        """Rows whose (stored) key lies within the bounds, in key order."""
        buckets = self.buckets
        out: list[bytes] = []
        for key in self.keys.irange(
            lo,
            hi,
            has_lo=has_lo,
            has_hi=has_hi,
            lo_inclusive=lo_inclusive,
            hi_inclusive=hi_inclusive,
        ):
            out.extend(buckets[key])
        return out

    def prefix(
        self,
        prefix: tuple[Any, ...],
        lo: Any = None,
        hi: Any = None,
        *,
        has_lo: bool = False,
        has_hi: bool = False,
        lo_inclusive: bool = True,
        hi_inclusive: bool = True,
    ) -> list[bytes]:
        """Rows of a multi-column index whose leading key parts equal ``prefix`` and, if bounds
        are given, whose next part lies within them."""
        n = len(prefix)
        orders = self.layout.order_keys
        stored = tuple(map(_ordered, orders[:n], prefix))
        if has_lo or has_hi:
            lo = _ordered(orders[n], lo) if has_lo else None
            hi = _ordered(orders[n], hi) if has_hi else None
        start = (*stored, lo) if has_lo else stored
        buckets = self.buckets
        out: list[bytes] = []
        for key in self.keys.irange(start, has_lo=True):
            if key[:n] != stored:
                break
            if has_lo or has_hi:
                part = key[n]
                if has_hi and (part > hi or (part == hi and not hi_inclusive)):
                    break
                if has_lo and not lo_inclusive and part == lo:
                    continue
            out.extend(buckets[key])
        return out


class TableDelta:
    """The net effect of one message on one table, for row callbacks.

    ``inserts``/``deletes`` hold row bytes that became visible / invisible; ``updates`` hold
    ``(old, new)`` pairs matched by primary key; for an event table ``inserts`` holds the event
    rows (never stored). Row values are decoded only when asked for.
    """

    __slots__ = ("_deleted_values", "deletes", "inserts", "is_event", "table", "updates")

    def __init__(
        self,
        table: CachedTable,
        inserts: list[bytes],
        deletes: list[bytes],
        updates: list[tuple[bytes, bytes]],
        deleted_values: dict[bytes, Any],
        is_event: bool = False,
    ) -> None:
        self.table = table
        self.inserts = inserts
        self.deletes = deletes
        self.updates = updates
        self._deleted_values = deleted_values
        #: Event rows: ``inserts`` were delivered but never stored.
        self.is_event = is_event

    @property
    def name(self) -> str:
        """The table's canonical name."""
        return self.table.layout.name

    def __bool__(self) -> bool:
        return bool(self.inserts or self.deletes or self.updates)

    def inserted_row(self, row: bytes) -> Any:
        """The value of an inserted (or event) row."""
        if self.is_event:
            return self.table.decode(row)
        return self.table.row(row)

    def deleted_row(self, row: bytes) -> Any:
        """The value a deleted row had while it was cached (decoded now if it never was)."""
        value = self._deleted_values.get(row, _MISSING)
        if value is _MISSING:
            value = self._deleted_values[row] = self.table.decode(row)
        return value

    def inserted_values(self) -> list[Any]:
        """The values of ``inserts`` in order, decoded in bulk (raises ``BsatnDecodeError``)."""
        if self.is_event:
            decode = self.table.decode
            return [decode(r) for r in self.inserts]
        table = self.table
        table.prefetch(self.inserts)
        get, row = table._decoded.get, table.row
        # A row value is never None; a falsy one (an empty dict row) just takes the long way.
        return [get(r) or row(r) for r in self.inserts]

    def updated_values(self) -> list[tuple[Any, Any]]:
        """``(old, new)`` values of ``updates`` in order, new rows decoded in bulk."""
        table = self.table
        table.prefetch([new for _, new in self.updates])
        get, row = table._decoded.get, table.row
        old_get, old_row = self._deleted_values.get, self.deleted_row
        return [(old_get(o) or old_row(o), get(n) or row(n)) for o, n in self.updates]

    def __repr__(self) -> str:
        return (
            f"TableDelta({self.name!r}, inserts={len(self.inserts)}, "
            f"deletes={len(self.deletes)}, updates={len(self.updates)})"
        )


class CachedTable:
    """The visible rows of one table (or view) with their refcounts."""

    __slots__ = ("_btree", "_decoded", "_index_lock", "_unique", "counts", "decode", "layout")

    def __init__(self, layout: TableLayout, index_lock: threading.RLock | None = None) -> None:
        self.layout = layout
        #: Row bytes -> number of live deliveries (visible iff present).
        self.counts: dict[bytes, int] = {}
        self._decoded: dict[bytes, Any] = {}
        self._unique: dict[str, UniqueIndexCache] = {}
        self._btree: dict[str, BTreeIndexCache] = {}
        self._index_lock = index_lock or threading.RLock()
        #: Decode one row's bytes (strict).
        self.decode = layout.codec.decode

    # ---------------------------------------------------------------------------------- reading
    def __len__(self) -> int:
        return len(self.counts)

    def __contains__(self, row: bytes) -> bool:
        return row in self.counts

    def row(self, row: bytes) -> Any:
        """The decoded value of cached row bytes (decoded once, then memoised)."""
        value = self._decoded.get(row, _MISSING)
        if value is _MISSING:
            value = self.decode(row)
            if row in self.counts:  # a reader racing with a delete must not resurrect it
                self._decoded[row] = value
        return value

    def rows(self) -> list[Any]:
        """Every visible row, decoded (a snapshot)."""
        decoded = self._decoded
        if len(decoded) == len(self.counts):
            return list(decoded.values())
        keys = list(self.counts)
        self.prefetch(keys)
        if len(decoded) == len(keys):
            return list(decoded.values())
        get = decoded.get
        return [get(r) or self.row(r) for r in keys]

    def prefetch(self, rows: list[bytes]) -> None:
        """Decode the rows among ``rows`` not decoded yet, in bulk.

        Flat fixed-width rows are decoded by one ``struct.iter_unpack`` pass over their
        concatenation (the FixedSize path); others one by one.
        """
        decoded = self._decoded
        todo = [r for r in rows if r not in decoded] if decoded else rows
        if not todo:
            return
        codec = self.layout.codec
        fmt = codec.fixed_format
        if fmt is not None and len(todo) > 1 and set(map(len, todo)) == {fmt.size}:
            values = codec.decode_concatenated(b"".join(todo))
            decoded.update(zip(todo, values, strict=True))
        else:
            # Cached rows were validated on arrival: one generated loop decodes them all.
            decoded.update(zip(todo, codec.decode_many(todo), strict=True))

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows())

    def row_bytes(self) -> list[bytes]:
        """The bytes of every visible row (a snapshot)."""
        return list(self.counts)

    def unique_index(self, ix: IndexLayout) -> UniqueIndexCache:
        """The unique index ``ix``, built on first use."""
        found = self._unique.get(ix.name)
        if found is None:
            with self._index_lock:
                found = self._unique.get(ix.name)
                if found is None:
                    found = self._unique[ix.name] = UniqueIndexCache(ix, list(self.counts))
        return found

    def btree_index(self, ix: IndexLayout) -> BTreeIndexCache:
        """The ordered index ``ix``, built on first use."""
        found = self._btree.get(ix.name)
        if found is None:
            with self._index_lock:
                found = self._btree.get(ix.name)
                if found is None:
                    found = self._btree[ix.name] = BTreeIndexCache(ix, list(self.counts))
        return found

    def find(self, ix: IndexLayout, key: Any) -> Any:
        """The decoded row whose unique key is ``key``, or None."""
        row = self.unique_index(ix).find(key)
        return None if row is None else self.row(row)

    # --------------------------------------------------------------------------------- applying
    def apply(
        self,
        inserts: list[bytes],
        deletes: list[bytes],
        counted: dict[bytes, int] | None = None,
    ) -> TableDelta:
        """Apply one message's inserts (first) and deletes; return the net change.

        ``counted``, if given, is ``{row: deliveries}`` of ``inserts`` (already built by the
        query set's tracking). Must run under the cache lock, which the client cache holds.
        """
        counts = self.counts
        if inserts and not counts and not deletes:
            # A fresh fill (typically SubscribeApplied into an empty table): C-level passes.
            if counted is not None:
                self.counts = counted.copy()
                added = inserts if len(counted) == len(inserts) else list(counted)
            else:
                filled = dict.fromkeys(inserts, 1)
                if len(filled) == len(inserts):
                    self.counts = filled
                    added = inserts
                else:
                    added = self._insert_counting(filled, inserts)
        else:
            added = self._insert(inserts) if inserts else []
        removed = self._delete(deletes) if deletes else []
        if added and removed:
            # Absent before and after (inserted then deleted in one batch): no event.
            both = set(added).intersection(removed)
            if both:
                added = [r for r in added if r not in both]
                removed = [r for r in removed if r not in both]
        deleted_values: dict[bytes, Any] = {}
        if removed and self._decoded:
            values = list(map(self._decoded.pop, removed, repeat(_MISSING)))
            if all(map(is_not, values, repeat(_MISSING))):
                deleted_values = dict(zip(removed, values, strict=True))
            else:
                pairs = zip(removed, values, strict=True)
                deleted_values = {r: v for r, v in pairs if v is not _MISSING}
        if self._unique or self._btree:
            indexes: list[UniqueIndexCache | BTreeIndexCache] = [
                *self._unique.values(),
                *self._btree.values(),
            ]
            for index in indexes:
                if removed:
                    index.remove(removed)
                if added:
                    index.insert(added)
        added, removed, updates = _pair_updates(self.layout.update_key_of, added, removed)
        return TableDelta(self, added, removed, updates, deleted_values)

    def _insert_counting(self, counts: dict[bytes, int], inserts: list[bytes]) -> list[bytes]:
        # dict.fromkeys collapsed duplicates: recount them (rare: overlapping queries).
        for r in counts:
            counts[r] = 0
        for r in inserts:
            counts[r] += 1
        self.counts = counts
        return list(counts)

    def _insert(self, inserts: list[bytes]) -> list[bytes]:
        counts = self.counts
        if add_absent(counts, inserts):
            return inserts
        get = counts.get
        added: list[bytes] = []
        append = added.append
        for r in inserts:
            c = get(r)
            if c is None:
                counts[r] = 1
                append(r)
            else:
                counts[r] = c + 1
        return added

    def _delete(self, deletes: list[bytes]) -> list[bytes]:
        counts = self.counts
        if remove_single(counts, deletes):
            return deletes
        get = counts.get
        removed: list[bytes] = []
        append = removed.append
        missing = 0
        for r in deletes:
            c = get(r)
            if c is None:
                missing += 1
            elif c == 1:
                del counts[r]
                append(r)
            else:
                counts[r] = c - 1
        if missing:
            _log.warning(
                "table %r: %d deleted row(s) were not in the client cache (ignored)",
                self.layout.name,
                missing,
            )
        return removed

    def event_delta(self, events: list[bytes]) -> TableDelta:
        """The delta of an event table: every delivered row is an insert, nothing is stored."""
        return TableDelta(self, events, [], [], {}, is_event=True)

    def replace_all(self, counts: dict[bytes, int]) -> TableDelta:
        """Replace the whole content with ``counts``; return the net change.

        Used when a connection is re-established: rows present before and after fire nothing.
        """
        with self._index_lock:
            old = self.counts
            added = [r for r in counts if r not in old]
            removed = [r for r in old if r not in counts]
            self.counts = dict(counts)
            deleted_values: dict[bytes, Any] = {}
            pop = self._decoded.pop
            for r in removed:
                value = pop(r, _MISSING)
                if value is not _MISSING:
                    deleted_values[r] = value
            indexes: list[UniqueIndexCache | BTreeIndexCache] = [
                *self._unique.values(),
                *self._btree.values(),
            ]
            for index in indexes:
                index.remove(removed)
                index.insert(added)
            added, removed, updates = _pair_updates(self.layout.update_key_of, added, removed)
            return TableDelta(self, added, removed, updates, deleted_values)

    def __repr__(self) -> str:
        return f"CachedTable({self.layout.name!r}, rows={len(self.counts)})"
