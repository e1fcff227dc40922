"""C-level fast paths for the row multisets (row bytes -> deliveries) of the cache and of each
query set: the common steady-state batch (rows not present yet, or present exactly once) is
applied in whole-list passes; anything else returns without a change, for the per-row loop."""

from __future__ import annotations

from collections import deque


def add_absent(counts: dict[bytes, int], rows: list[bytes]) -> bool:
    """Count each of ``rows`` once, if none is in ``counts`` and none repeats; else change
    nothing and return False."""
    fresh = dict.fromkeys(rows, 1)
    if len(fresh) != len(rows) or not fresh.keys().isdisjoint(counts.keys()):
        return False
    counts.update(fresh)
    return True


def remove_single(counts: dict[bytes, int], rows: list[bytes]) -> bool:
    """Remove each of ``rows``, if each is counted exactly once and none repeats; else change
    nothing and return False."""
    if list(map(counts.get, rows)).count(1) != len(rows) or len(set(rows)) != len(rows):
        return False
    deque(map(counts.__delitem__, rows), maxlen=0)
    return True
