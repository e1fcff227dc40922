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
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import compress, filterfalse, repeat
from operator import is_, is_not, itemgetter, not_
from typing import Any

from spacetimedb_sdk.core.key_order import OrderKey
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

    ``pk_of`` maps row bytes to a value equal exactly when the keys are (``update_key_of``).
    A key inserted twice pairs once; a key deleted twice (never on a consistent cache) pairs
    never. Returns the unpaired inserts and deletes, in order, and the pairs."""
    if pk_of is None or not added or not removed:
        return added, removed, []
    removed_keys = list(map(pk_of, removed))
    by_key = dict(zip(removed_keys, removed, strict=True))
    if len(by_key) != len(removed):
        twice = {k for k, n in Counter(removed_keys).items() if n > 1}
        for k in twice:
            del by_key[k]
    else:
        twice = set()
    # One pass pops each inserted row's partner.
    olds = list(map(by_key.pop, map(pk_of, added), repeat(None)))
    if not by_key and not twice and len(added) == len(removed):
        # Every deleted row's key came back exactly once: every change is an update.
        return [], [], list(zip(olds, added, strict=True))
    paired = list(map(is_not, olds, repeat(None)))
    if not any(paired):
        return added, removed, []
    left = by_key.keys() | twice
    return (
        list(compress(added, map(not_, paired))),
        list(compress(removed, map(left.__contains__, removed_keys))),
        list(compress(zip(olds, added, strict=True), paired)),
    )


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

    __slots__ = (
        "_deleted_values",
        "_version",
        "deletes",
        "inserts",
        "is_event",
        "table",
        "updates",
    )

    def __init__(
        self,
        table: CachedTable,
        inserts: list[bytes],
        deletes: list[bytes],
        updates: list[tuple[bytes, bytes]],
        deleted_values: dict[bytes, Any],
        is_event: bool = False,
        version: int = -1,
    ) -> None:
        self.table = table
        self.inserts = inserts
        self.deletes = deletes
        self.updates = updates
        self._deleted_values = deleted_values
        #: Event rows: ``inserts`` were delivered but never stored.
        self.is_event = is_event
        # The table's version right after this change: while it holds, every inserted row is
        # still cached and not decoded yet.
        self._version = version

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

    def deleted_values(self) -> list[Any]:
        """The values of ``deletes`` in order (those never read while cached decoded in bulk;
        raises ``BsatnDecodeError``)."""
        deletes = self.deletes
        known = self._deleted_values
        values = list(map(known.get, deletes))
        if any(map(is_, values, repeat(None))):
            missing = [r for r, v in zip(deletes, values, strict=True) if v is None]
            known.update(zip(missing, self.table._decode_all(missing), strict=True))
            values = list(map(known.__getitem__, deletes))
        return values

    def inserted_values(self) -> list[Any]:
        """The values of ``inserts`` in order, decoded in bulk (raises ``BsatnDecodeError``)."""
        if self.is_event:
            return self.table.layout.codec.decode_many(self.inserts)
        return self.table.values_of(self.inserts, self._version)

    def updated_values(self) -> list[tuple[Any, Any]]:
        """``(old, new)`` values of ``updates`` in order, new rows decoded in bulk."""
        updates = self.updates
        news = self.table.values_of(list(map(itemgetter(1), updates)), self._version)
        olds = list(map(itemgetter(0), updates))
        values = list(map(self._deleted_values.get, olds))
        if any(map(is_, values, repeat(None))):  # old rows never read while cached
            row = self.deleted_row
            values = [row(o) if v is None else v for o, v in zip(olds, values, strict=True)]
        return list(zip(values, news, strict=True))

    def __repr__(self) -> str:
        return (
            f"TableDelta({self.name!r}, inserts={len(self.inserts)}, "
            f"deletes={len(self.deletes)}, updates={len(self.updates)})"
        )


class CachedTable:
    """The visible rows of one table (or view) with their refcounts.

    One dictionary holds every visible row: ``row bytes -> decoded value``, or None while the
    row was never read (a row value is never None). A row delivered more than once (overlapping
    queries) also has an entry in ``_extra``: its deliveries beyond the first. Counts and
    memoised values in one place cost one dictionary entry per row, and a delete finds a row
    and its value in one lookup.

    Every change -- applying a message, storing decoded values -- happens under the cache's
    lock and bumps ``_version``, so a reader decodes outside the lock and stores its values
    in one pass when nothing changed meanwhile (and row by row when something did).
    """

    __slots__ = (
        "_btree",
        "_extra",
        "_index_lock",
        "_n_decoded",
        "_n_pending",
        "_pending",
        "_rows",
        "_unique",
        "_version",
        "decode",
        "layout",
        "owner",
    )

    def __init__(self, layout: TableLayout, index_lock: threading.RLock | None = None) -> None:
        self.layout = layout
        self._rows: dict[bytes, Any] = {}
        self._extra: dict[bytes, int] = {}
        self._n_decoded = 0  # values in _rows that are not None
        # The row lists inserted since every row was last decoded (None: too many to be
        # worth it, scan the table), so decoding what is left after a small update does not
        # walk the whole table.
        self._pending: list[list[bytes]] | None = []
        self._n_pending = 0
        self._version = 0
        self._unique: dict[str, UniqueIndexCache] = {}
        self._btree: dict[str, BTreeIndexCache] = {}
        self._index_lock = index_lock or threading.RLock()
        #: Decode one row's bytes (strict).
        self.decode = layout.codec.decode
        #: The query set whose rows these all are, ``row_owners.SHARED``, or None (row_owners.py).
        self.owner: Any = None

    # ---------------------------------------------------------------------------------- reading
    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, row: bytes) -> bool:
        return row in self._rows

    def count_of(self, row: bytes) -> int:
        """The live deliveries of ``row`` (0 when it is not visible)."""
        if row not in self._rows:
            return 0
        return 1 + self._extra.get(row, 0)

    def multiset(self) -> dict[bytes, int]:
        """``row bytes -> live deliveries`` of every visible row (a snapshot)."""
        with self._index_lock:
            counts = dict.fromkeys(self._rows, 1)
            for r, more in self._extra.items():
                counts[r] += more
        return counts

    def deliveries(self) -> list[bytes]:
        """Every live delivery: each row as many times as it is counted."""
        with self._index_lock:
            if not self._extra:
                return list(self._rows)
            extra = self._extra
            return [r for r in self._rows for _ in range(1 + extra.get(r, 0))]

    def row(self, row: bytes) -> Any:
        """The decoded value of cached row bytes (decoded once, then memoised)."""
        value = self._rows.get(row)
        if value is None:
            value = self.decode(row)
            with self._index_lock:
                rows = self._rows
                # Store only into a visible, still undecoded row: never resurrect a deleted
                # one, never replace the object another reader got first.
                found = rows.get(row, _MISSING)
                if found is None:
                    rows[row] = value
                    self._n_decoded += 1
                    self._version += 1
                    self._all_decoded()
                elif found is not _MISSING:
                    value = found
        return value

    def rows(self) -> list[Any]:
        """Every visible row, decoded (a snapshot)."""
        lock = self._index_lock
        with lock:
            if self._n_decoded == len(self._rows):
                return list(self._rows.values())
        self._decode_missing(None, -1)
        with lock:
            if self._n_decoded == len(self._rows):
                return list(self._rows.values())
            items = list(self._rows.items())
        # Rows arrived (on another thread) meanwhile: decode those one by one.
        row = self.row
        return [row(r) if v is None else v for r, v in items]

    def values_of(self, rows: list[bytes], version: int) -> list[Any]:
        """The values of cached ``rows`` (decoded in bulk); ``version``: the table's version
        when every one of them was known to be cached and undecoded (-1 if unknown)."""
        values = self._decode_missing(rows, version)
        if values is not None:
            return values
        get, row = self._rows.get, self.row
        return [get(r) or row(r) for r in rows]

    def _decode_missing(self, rows: list[bytes] | None, version: int) -> list[Any] | None:
        """Decode and memoise the undecoded rows among ``rows`` (None: all cached rows).

        Returns the values of ``rows`` in order when they were all decoded here and stored
        in one pass, else None.
        """
        lock = self._index_lock
        with lock:
            cached = self._rows
            if rows is None:
                todo = self._undecoded()
            elif version == self._version:
                todo = rows
            else:
                get = cached.get
                todo = [r for r in rows if r in cached and get(r) is None]
            start = self._version
        if not todo:
            return None
        values = self._decode_all(todo)
        with lock:
            cached = self._rows
            fill = rows is None or todo is rows
            if fill and self._version == start and not self._n_decoded and len(todo) == len(cached):
                # Every row, in the table's order (all came in one fill, or ``rows`` is None):
                # a new dictionary is built faster than one is updated.
                self._rows = dict(zip(todo, values, strict=True))
                self._n_decoded = len(todo)
                self._version += 1
                self._all_decoded()
                return values if todo is rows else None
            if self._version == start:
                cached.update(zip(todo, values, strict=True))
                self._n_decoded += len(todo)
                self._version += 1
                self._all_decoded()
                return values if todo is rows else None
            get = cached.get
            for r, v in zip(todo, values, strict=True):
                if r in cached and get(r) is None:
                    cached[r] = v
                    self._n_decoded += 1
            self._version += 1
        return None

    def _all_decoded(self) -> None:
        # Under the lock.
        if self._n_decoded == len(self._rows):
            self._pending = []
            self._n_pending = 0

    def _undecoded(self) -> list[bytes]:
        # Under the lock.
        cached = self._rows
        if self._n_decoded == 0:
            return list(cached)
        pending = self._pending
        if pending is None:
            return [r for r, v in cached.items() if v is None]
        get = cached.get
        todo = [r for rows in pending for r in rows if get(r, _MISSING) is None]
        # A row inserted twice (deleted and re-inserted meanwhile) is listed twice.
        return list(dict.fromkeys(todo)) if len(pending) > 1 else todo

    def _decode_all(self, todo: list[bytes]) -> list[Any]:
        codec = self.layout.codec
        fmt = codec.fixed_format
        if fmt is not None and len(todo) > 1:
            # Flat fixed-width rows: one struct.iter_unpack pass over their concatenation
            # (cached rows passed validation, so each is exactly one value long).
            joined = b"".join(todo)
            if len(joined) == fmt.size * len(todo):
                return codec.decode_concatenated(joined)
        # Cached rows were validated on arrival: one generated loop decodes them all.
        return codec.decode_many(todo)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows())

    def row_bytes(self) -> list[bytes]:
        """The bytes of every visible row (a snapshot)."""
        return list(self._rows)

    def unique_index(self, ix: IndexLayout) -> UniqueIndexCache:
        """The unique index ``ix``, built on first use."""
        found = self._unique.get(ix.name)
        if found is None:
            with self._index_lock:
                found = self._unique.get(ix.name)
                if found is None:
                    found = self._unique[ix.name] = UniqueIndexCache(ix, list(self._rows))
        return found

    def btree_index(self, ix: IndexLayout) -> BTreeIndexCache:
        """The ordered index ``ix``, built on first use."""
        found = self._btree.get(ix.name)
        if found is None:
            with self._index_lock:
                found = self._btree.get(ix.name)
                if found is None:
                    found = self._btree[ix.name] = BTreeIndexCache(ix, list(self._rows))
        return found

    def find(self, ix: IndexLayout, key: Any) -> Any:
        """The decoded row whose unique key is ``key``, or None."""
        row = self.unique_index(ix).find(key)
        return None if row is None else self.row(row)

    # --------------------------------------------------------------------------------- applying
    def apply(self, inserts: list[bytes], deletes: list[bytes]) -> TableDelta:
        """Apply one message's inserts (first) and deletes; return the net change.

        Must run under the cache lock, which the client cache holds.
        """
        if inserts and not self._rows and not deletes:
            # A fresh fill (typically SubscribeApplied into an empty table): C-level passes.
            filled = dict.fromkeys(inserts)
            self._rows = filled
            self._pending = []
            self._n_pending = 0
            added = inserts if len(filled) == len(inserts) else self._count_repeats(inserts)
        else:
            added = self._insert(inserts) if inserts else []
        removed, values = self._delete(deletes) if deletes else ([], [])
        if added and removed:
            # Absent before and after (inserted then deleted in one batch): no event.
            both = set(added).intersection(removed)
            if both:
                added = [r for r in added if r not in both]
                kept = [(r, v) for r, v in zip(removed, values, strict=True) if r not in both]
                removed, values = [r for r, _ in kept], [v for _, v in kept]
        if added:
            self._note_pending(added)
        deleted_values: dict[bytes, Any] = {}
        if values and self._n_decoded:
            decoded = list(map(is_not, values, repeat(None)))
            self._n_decoded -= sum(decoded)
            deleted_values = dict(compress(zip(removed, values, strict=True), decoded))
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
        self._version += 1
        self._all_decoded()
        return TableDelta(self, added, removed, updates, deleted_values, version=self._version)

    def _note_pending(self, added: list[bytes]) -> None:
        pending = self._pending
        if pending is not None:
            self._n_pending += len(added)
            if self._n_pending <= len(self._rows) // 2:
                pending.append(added)
            else:
                self._pending = None

    def _count_repeats(self, inserts: list[bytes]) -> list[bytes]:
        # dict.fromkeys collapsed rows delivered twice (overlapping queries): count the extras.
        seen: set[bytes] = set()
        extra = self._extra
        for r in inserts:
            if r in seen:
                extra[r] = extra.get(r, 0) + 1
            else:
                seen.add(r)
        return list(self._rows)

    def _insert(self, inserts: list[bytes]) -> list[bytes]:
        rows, extra = self._rows, self._extra
        fresh = dict.fromkeys(inserts)
        if len(fresh) == len(inserts):
            present = fresh.keys() & rows.keys()
            if not present:
                rows.update(fresh)
                return inserts
            for r in present:
                extra[r] = extra.get(r, 0) + 1
                del fresh[r]
            rows.update(fresh)
            return list(fresh)
        added: list[bytes] = []
        for r in inserts:
            if r in rows:
                extra[r] = extra.get(r, 0) + 1
            else:
                rows[r] = None
                added.append(r)
        return added

    def _delete(self, deletes: list[bytes]) -> tuple[list[bytes], list[Any]]:
        """Remove one delivery of each row; return the rows no longer visible and the values
        they had (None where never decoded)."""
        rows, extra = self._rows, self._extra
        whole = True
        if extra:
            # Rows delivered more than once lose a delivery and stay (when each is deleted
            # once here: a few of them are set aside, the rest goes the whole-list way).
            again = extra.keys() & deletes
            if again and len(again) <= 8 and all(deletes.count(r) == 1 for r in again):
                for r in again:
                    beyond = extra[r]
                    if beyond == 1:
                        del extra[r]
                    else:
                        extra[r] = beyond - 1
                deletes = list(filterfalse(again.__contains__, deletes))
            else:
                whole = not again
        if whole:
            values = list(map(rows.pop, deletes, repeat(_MISSING)))
            if not any(map(is_, values, repeat(_MISSING))):
                return deletes, values
            # A row deleted twice in one batch, or not cached: put back what was taken
            # (those rows may move to the end of the table's order) and go row by row.
            for r, v in zip(deletes, values, strict=True):
                if v is not _MISSING:
                    rows[r] = v
        removed: list[bytes] = []
        removed_values: list[Any] = []
        missing = 0
        for r in deletes:
            v = rows.get(r, _MISSING)
            if v is _MISSING:
                missing += 1
                continue
            more = extra.get(r)
            if more is None:
                del rows[r]
                removed.append(r)
                removed_values.append(v)
            elif more == 1:
                del extra[r]
            else:
                extra[r] = more - 1
        if missing:
            _log.warning(
                "table %r: %d deleted row(s) were not in the client cache (ignored)",
                self.layout.name,
                missing,
            )
        return removed, removed_values

    def event_delta(self, events: list[bytes]) -> TableDelta:
        """The delta of an event table: every delivered row is an insert, nothing is stored."""
        return TableDelta(self, events, [], [], {}, is_event=True)

    def replace_all(self, counts: dict[bytes, int]) -> TableDelta:
        """Replace the whole content with ``counts``; return the net change.

        Used when a connection is re-established: rows present before and after fire nothing
        and keep their decoded values.
        """
        with self._index_lock:
            old = self._rows
            added = [r for r in counts if r not in old]
            removed = [r for r in old if r not in counts]
            get = old.get
            self._rows = {r: get(r) for r in counts}
            self._extra = {r: c - 1 for r, c in counts.items() if c > 1}
            self._n_decoded = sum(map(is_not, self._rows.values(), repeat(None)))
            self._pending = None
            self._all_decoded()
            deleted_values = {r: old[r] for r in removed if old[r] is not None}
            indexes: list[UniqueIndexCache | BTreeIndexCache] = [
                *self._unique.values(),
                *self._btree.values(),
            ]
            for index in indexes:
                index.remove(removed)
                index.insert(added)
            added, removed, updates = _pair_updates(self.layout.update_key_of, added, removed)
            self._version += 1
            return TableDelta(self, added, removed, updates, deleted_values, version=self._version)

    def __repr__(self) -> str:
        return f"CachedTable({self.layout.name!r}, rows={len(self._rows)})"
