"""How much work one server frame may cause: :class:`MessageLimits`.

A few hundred compressed bytes can inflate to hundreds of megabytes, and a message of tiny rows
costs far more memory once split (every row becomes a ``bytes`` object and a cache entry) than
its size suggests. The client checks these limits before it builds anything from a frame; a
frame past one is refused whole with :class:`~spacetimedb_sdk.errors.LimitExceededError` (a
``ProtocolError``, reported through ``on_error``), and the connection carries on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from spacetimedb_sdk.compression import DEFAULT_MAX_DECOMPRESSED_SIZE

__all__ = ["DEFAULT_MAX_DECOMPRESSED_SIZE", "DEFAULT_MAX_ROWS_PER_MESSAGE", "MessageLimits"]

#: Default cap on the rows (inserts, deletes and events, all tables) of one server message.
#: Splitting costs roughly 50 bytes per row beyond the row itself, and caching about as much
#: again, so this keeps the worst message of tiny rows to a few hundred megabytes.
DEFAULT_MAX_ROWS_PER_MESSAGE: Final = 2_000_000


@dataclass(frozen=True)
class MessageLimits:
    """Per-frame limits of a connection (``DbConnectionBuilder.with_limits``)."""

    #: Largest decompressed body of one WebSocket message (a v3 frame may hold several messages).
    max_decompressed_size: int = DEFAULT_MAX_DECOMPRESSED_SIZE
    #: Most rows one server message may carry, counted before any row is split or decoded.
    max_rows_per_message: int = DEFAULT_MAX_ROWS_PER_MESSAGE

    def __post_init__(self) -> None:
        if self.max_decompressed_size < 1 or self.max_rows_per_message < 0:
            raise ValueError(f"limits must be positive: {self}")
