"""Per-request statistics: how many requests of each kind were made, and how long they took.

Latency is measured from when a request is queued to when its response has been processed.
Trackers are updated by the core (under its lock) and read from any thread.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

__all__ = ["ConnectionStats", "RequestTracker"]


@dataclass
class RequestTracker:
    """Counts and latencies of one kind of request (seconds)."""

    sent: int = 0
    completed: int = 0
    failed: int = 0
    total_latency: float = 0.0
    min_latency: float | None = None
    max_latency: float | None = None
    last_latency: float | None = None

    @property
    def in_flight(self) -> int:
        """Requests sent and not yet answered."""
        return self.sent - self.completed - self.failed

    @property
    def mean_latency(self) -> float | None:
        """Average latency of the answered requests."""
        answered = self.completed + self.failed
        return self.total_latency / answered if answered else None

    def record(self, latency: float, ok: bool) -> None:
        """Record one answer."""
        if ok:
            self.completed += 1
        else:
            self.failed += 1
        self.total_latency += latency
        self.last_latency = latency
        if self.min_latency is None or latency < self.min_latency:
            self.min_latency = latency
        if self.max_latency is None or latency > self.max_latency:
            self.max_latency = latency


@dataclass
class ConnectionStats:
    """Statistics of one connection: per request kind, per reducer and procedure, and traffic."""

    reducers: RequestTracker = field(default_factory=RequestTracker)
    procedures: RequestTracker = field(default_factory=RequestTracker)
    subscriptions: RequestTracker = field(default_factory=RequestTracker)
    unsubscriptions: RequestTracker = field(default_factory=RequestTracker)
    one_off_queries: RequestTracker = field(default_factory=RequestTracker)
    #: Per reducer / procedure name.
    by_name: dict[str, RequestTracker] = field(default_factory=dict)
    messages_received: int = 0
    bytes_received: int = 0
    messages_sent: int = 0
    frames_received: int = 0
    #: Time spent decoding and applying received messages (seconds), and the slowest one.
    apply_time: float = 0.0
    max_apply_time: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def tracker(self, kind: str) -> RequestTracker:
        """The tracker for a request kind (``reducers``, ``procedures``, ...)."""
        tracker: RequestTracker = getattr(self, kind)
        return tracker

    def named(self, name: str) -> RequestTracker:
        """The tracker of one reducer or procedure (created on first use)."""
        with self._lock:
            found = self.by_name.get(name)
            if found is None:
                found = self.by_name[name] = RequestTracker()
            return found
