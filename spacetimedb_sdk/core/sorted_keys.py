"""A sorted multiset-free list of keys with O(log n) search and cheap inserts and removals.

B-tree index caches keep the distinct key values of an index in order so that a range filter
costs O(log n + k): find the first key with a binary search, then walk forward. A single Python
list would make every insert a memmove of the whole list; instead keys live in buckets of at most
``2 * load`` sorted items, with a list of bucket maxima to find the right bucket (the layout of
the well-known ``sortedcontainers.SortedList``, reduced to what an index needs).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["SortedKeys"]

_DEFAULT_LOAD = 512


class SortedKeys:
    """Distinct, mutually comparable keys in ascending order.

    ``add`` of a key already present and ``discard`` of an absent key are no-ops.
    """

    __slots__ = ("_buckets", "_len", "_load", "_maxes")

    def __init__(self, keys: Iterable[Any] = (), load: int = _DEFAULT_LOAD) -> None:
        self._load = load
        ordered = sorted(set(keys))
        self._buckets: list[list[Any]] = [
            ordered[i : i + load] for i in range(0, len(ordered), load)
        ]
        self._maxes: list[Any] = [b[-1] for b in self._buckets]
        self._len = len(ordered)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[Any]:
        for bucket in self._buckets:
            yield from bucket

    def __contains__(self, key: Any) -> bool:
        maxes = self._maxes
        i = bisect_left(maxes, key)
        if i == len(maxes):
            return False
        bucket = self._buckets[i]
        j = bisect_left(bucket, key)
        return bool(bucket[j] == key)

    def add(self, key: Any) -> None:
        """Insert ``key`` unless it is already present."""
        maxes = self._maxes
        if not maxes:
            self._buckets.append([key])
            maxes.append(key)
            self._len = 1
            return
        i = bisect_left(maxes, key)
        if i == len(maxes):
            i -= 1
            bucket = self._buckets[i]
            bucket.append(key)
            maxes[i] = key
        else:
            bucket = self._buckets[i]
            j = bisect_left(bucket, key)
            if bucket[j] == key:
                return
            bucket.insert(j, key)
        self._len += 1
        if len(bucket) > 2 * self._load:
            half = bucket[self._load :]
            del bucket[self._load :]
            self._buckets.insert(i + 1, half)
            maxes[i] = bucket[-1]
            maxes.insert(i + 1, half[-1])

    def discard(self, key: Any) -> None:
        """Remove ``key`` if present."""
        maxes = self._maxes
        i = bisect_left(maxes, key)
        if i == len(maxes):
            return
        bucket = self._buckets[i]
        j = bisect_left(bucket, key)
        if bucket[j] != key:
            return
        del bucket[j]
        self._len -= 1
        if not bucket:
            del self._buckets[i]
            del maxes[i]
        elif j == len(bucket):
            maxes[i] = bucket[-1]

    def irange(
        self,
        lo: Any = None,
        hi: Any = None,
        *,
        has_lo: bool = False,
        has_hi: bool = False,
        lo_inclusive: bool = True,
        hi_inclusive: bool = True,
    ) -> Iterator[Any]:
        """Yield the keys between the bounds in order (a bound applies only when ``has_*``)."""
        buckets = self._buckets
        if not buckets:
            return
        if has_lo:
            search = bisect_left if lo_inclusive else bisect_right
            i = search(self._maxes, lo)
            if i == len(buckets):
                return
            j = search(buckets[i], lo)
        else:
            i = j = 0
        for bi in range(i, len(buckets)):
            bucket = buckets[bi]
            start = j if bi == i else 0
            if has_hi and (bucket[-1] > hi or (not hi_inclusive and bucket[-1] == hi)):
                stop = (bisect_right if hi_inclusive else bisect_left)(bucket, hi)
                yield from bucket[start:stop]
                return
            yield from bucket[start:] if start else bucket

    def __repr__(self) -> str:
        return f"SortedKeys({list(self)!r})"
