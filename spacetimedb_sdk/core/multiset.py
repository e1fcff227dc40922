"""C-level fast paths for the row multisets (row bytes -> deliveries) of the cache and of each
query set: a batch of distinct rows is applied in whole-list passes, with only the few rows that
were already counted (or stay counted) handled one by one. A batch that repeats a row (rare:
overlapping queries in one message) returns None without a change, for the per-row loop."""

from __future__ import annotations

from collections import deque
from itertools import compress


def add_counts(counts: dict[bytes, int], rows: list[bytes]) -> list[bytes] | None:
    """Count one more delivery of each of ``rows``; return those not counted before, in order.

    None, changing nothing, if a row repeats within ``rows``."""
    fresh = dict.fromkeys(rows, 1)
    if len(fresh) != len(rows):
        return None
    if fresh.keys().isdisjoint(counts.keys()):
        counts.update(fresh)
        return rows
    for r in fresh.keys() & counts.keys():
        counts[r] += 1
        del fresh[r]
    counts.update(fresh)
    return list(fresh)


def remove_counts(counts: dict[bytes, int], rows: list[bytes]) -> list[bytes] | None:
    """Count one delivery less of each of ``rows``; return those no longer counted, in order.

    None, changing nothing, if a row repeats within ``rows`` or is not counted."""
    values = list(map(counts.get, rows))
    if None in values or len(set(rows)) != len(rows):
        return None
    if values.count(1) == len(values):
        deque(map(counts.__delitem__, rows), maxlen=0)
        return rows
    for r, c in compress(zip(rows, values, strict=True), map((1).__ne__, values)):
        counts[r] = c - 1  # type: ignore[operator]  # None was ruled out above
    gone = list(compress(rows, map((1).__eq__, values)))
    deque(map(counts.__delitem__, gone), maxlen=0)
    return gone
