"""The queue of scheduled calls (docs/module-def.md#schedules), independent of any event loop.

Each row of a schedule table is one entry, keyed by ``(table, primary-key value)`` and due at a
time in microseconds since the Unix epoch. The host keeps the queue in step with committed
deltas (insert = schedule, delete = cancel) and asks it which entries are due; a network layer
only needs :meth:`ScheduleQueue.next_due` to arm its timer.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any

__all__ = ["ScheduleQueue"]


class ScheduleQueue:
    """Due times of scheduled rows, with cheap cancellation (stale heap entries are skipped)."""

    def __init__(self) -> None:
        self._due: dict[tuple[str, Any], int] = {}
        self._heap: list[tuple[int, int, str, Any]] = []
        self._order = itertools.count()

    def schedule(self, table: str, key: Any, due_micros: int) -> None:
        """(Re)schedule the row ``key`` of ``table`` at ``due_micros``."""
        self._due[(table, key)] = due_micros
        heapq.heappush(self._heap, (due_micros, next(self._order), table, key))

    def cancel(self, table: str, key: Any) -> None:
        """Forget the row ``key`` of ``table`` (no-op if not scheduled)."""
        self._due.pop((table, key), None)

    def due_time(self, table: str, key: Any) -> int | None:
        """When the row is due, or None."""
        return self._due.get((table, key))

    def next_due(self) -> int | None:
        """The earliest due time, or None when nothing is scheduled."""
        heap = self._heap
        while heap:
            due, _, table, key = heap[0]
            if self._due.get((table, key)) == due:
                return due
            heapq.heappop(heap)
        return None

    def pop_due(self, now_micros: int) -> tuple[str, Any, int] | None:
        """Remove and return the earliest entry due at or before ``now_micros``, if any."""
        due = self.next_due()
        if due is None or due > now_micros:
            return None
        _, _, table, key = heapq.heappop(self._heap)
        del self._due[(table, key)]
        return table, key, due

    def __len__(self) -> int:
        return len(self._due)
