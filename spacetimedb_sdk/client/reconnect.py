"""Opt-in automatic reconnection: when and how often to retry.

With ``DbConnectionBuilder.with_auto_reconnect()``, a connection that drops unexpectedly after it
was established is re-opened with the same token (hence the same identity), its query sets are
replayed and the cache is reconciled: rows that did not change fire no callbacks, rows that did
fire exactly their inserts, deletes and updates. Pending reducer/procedure calls fail with
``DisconnectedError`` (whether they committed is unknown). ``on_reconnecting`` runs before each
attempt and ``on_reconnected`` after success; ``on_disconnect`` runs only when the client gives up
or ``disconnect()`` is called.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["ReconnectPolicy"]


@dataclass(frozen=True)
class ReconnectPolicy:
    """Exponential backoff with jitter: ``initial_delay * multiplier**n``, capped, randomised.

    Each delay is drawn uniformly from ``[d * (1 - jitter), d]``. ``max_attempts=None`` retries
    forever.
    """

    initial_delay: float = 1.0
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.5
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        if self.initial_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """The delay before each attempt, in seconds."""
        rand = rng or random.Random()
        delay = self.initial_delay
        attempt = 0
        while self.max_attempts is None or attempt < self.max_attempts:
            attempt += 1
            capped = min(delay, self.max_delay)
            yield capped * (1 - self.jitter * rand.random())
            delay *= self.multiplier
