"""The index structures of an in-memory table.

* :class:`UniqueIndex` — ``dict`` key → row bytes (unique constraints and primary keys).
* :class:`BTreeIndex` — a list of ``(key tuple, row bytes)`` kept sorted with :mod:`bisect`;
  equality, prefix and range lookups are two binary searches. Inserting is O(n) memmove, which
  is fast for the table sizes a test server holds.
* :class:`HashIndex` — ``dict`` key → insertion-ordered set of row bytes (equality only).

Keys come from :mod:`spacetimedb_sdk.local_server.row_keys`; every index stores row bytes, the
row's identity in its table.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterator
from operator import itemgetter
from typing import Any, Final

from spacetimedb_sdk.local_server.row_keys import MAX
from spacetimedb_sdk.module.ranges import UNBOUNDED, Range

__all__ = ["BTreeIndex", "HashIndex", "UniqueIndex"]

_first: Final = itemgetter(0)


class UniqueIndex:
    """A unique constraint's index: at most one row per key."""

    __slots__ = ("columns", "key_of", "map", "name")

    def __init__(self, name: str, columns: tuple[int, ...], key_of: Callable[[Any], Any]) -> None:
        self.name = name
        self.columns = columns
        #: Row value → key.
        self.key_of = key_of
        self.map: dict[Any, bytes] = {}

    def get(self, key: Any) -> bytes | None:
        """The row bytes with this key, or None."""
        return self.map.get(key)


class BTreeIndex:
    """An ordered index over one or more columns (keys are tuples, one element per column)."""

    __slots__ = ("columns", "entries", "key_of", "name")

    def __init__(self, name: str, columns: tuple[int, ...], key_of: Callable[[Any], Any]) -> None:
        self.name = name
        self.columns = columns
        #: Row value → key tuple.
        self.key_of = key_of
        self.entries: list[tuple[tuple[Any, ...], bytes]] = []

    def add(self, key: tuple[Any, ...], row: bytes) -> None:
        """Index ``row`` under ``key``."""
        insort(self.entries, (key, row))

    def remove(self, key: tuple[Any, ...], row: bytes) -> None:
        """Forget ``row`` (indexed under ``key``)."""
        entries = self.entries
        i = bisect_left(entries, (key, row))
        if i < len(entries) and entries[i][1] == row:
            del entries[i]

    def scan(self, prefix: tuple[Any, ...], last: Range | None = None) -> Iterator[bytes]:
        """Rows whose key starts with ``prefix`` and whose next column lies in ``last``."""
        entries = self.entries
        if last is None:
            lo = bisect_left(entries, prefix, key=_first)
            hi = bisect_right(entries, (*prefix, MAX), key=_first)
        else:
            if last.start is UNBOUNDED:
                lo = bisect_left(entries, prefix, key=_first)
            elif last.start_inclusive:
                lo = bisect_left(entries, (*prefix, last.start), key=_first)
            else:
                lo = bisect_right(entries, (*prefix, last.start, MAX), key=_first)
            if last.end is UNBOUNDED:
                hi = bisect_right(entries, (*prefix, MAX), key=_first)
            elif last.end_inclusive:
                hi = bisect_right(entries, (*prefix, last.end, MAX), key=_first)
            else:
                hi = bisect_left(entries, (*prefix, last.end), key=_first)
        for i in range(lo, hi):
            yield entries[i][1]

    def __len__(self) -> int:
        return len(self.entries)


class HashIndex:
    """An equality-only index: key → the rows with that key (in insertion order)."""

    __slots__ = ("columns", "key_of", "map", "name")

    def __init__(self, name: str, columns: tuple[int, ...], key_of: Callable[[Any], Any]) -> None:
        self.name = name
        self.columns = columns
        self.key_of = key_of
        self.map: dict[Any, dict[bytes, None]] = {}

    def add(self, key: Any, row: bytes) -> None:
        """Index ``row`` under ``key``."""
        bucket = self.map.get(key)
        if bucket is None:
            self.map[key] = {row: None}
        else:
            bucket[row] = None

    def remove(self, key: Any, row: bytes) -> None:
        """Forget ``row`` (indexed under ``key``)."""
        bucket = self.map.get(key)
        if bucket is not None:
            bucket.pop(row, None)
            if not bucket:
                del self.map[key]

    def get(self, key: Any) -> list[bytes]:
        """The rows with this key."""
        bucket = self.map.get(key)
        return list(bucket) if bucket else []
