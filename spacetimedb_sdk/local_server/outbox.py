"""The ordered send queue of one WebSocket session.

Messages go in already encoded (BSATN of one ``ServerMessage``, no tag byte) from the event-loop
thread, and leave in exactly that order through one writer task:

* v2: one WebSocket message per server message, each wrapped in the compression envelope;
* v3: whatever is queued when the writer wakes up is coalesced into payloads of at most
  ``max_payload`` uncompressed bytes (a bigger single message travels alone), and each payload
  is compressed as a whole (docs/protocol.md#v3-framing).

Compression happens only for bodies larger than 1024 bytes and only when the client asked for
it (:func:`~spacetimedb_sdk.compression.compress_server_payload`).

The queue is bounded by ``max_bytes``: the encoded messages queued or being sent may not exceed
it (one message alone may, so a big initial subscription still goes out). A client that does
not read its socket would otherwise make the server hold every update for it; past the cap the
queue is emptied, closed, and ``on_overflow`` runs (the session then drops the connection, as
the real server kicks a client whose outgoing queue is full).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Final

from spacetimedb_sdk.compression import Compression, compress_server_payload
from spacetimedb_sdk.frames import MAX_SERVER_PAYLOAD, join_server_messages

__all__ = ["DEFAULT_MAX_OUTGOING_BYTES", "Outbox"]

#: Default cap of one connection's queued outgoing bytes.
DEFAULT_MAX_OUTGOING_BYTES: Final = 32 * 1024 * 1024


class Outbox:
    """Queue + writer for one connection; every method but :meth:`run` is non-blocking."""

    def __init__(
        self,
        send: Callable[[bytes], Awaitable[None]],
        *,
        coalesce: bool,
        compression: Compression,
        max_payload: int = MAX_SERVER_PAYLOAD,
        max_bytes: int = DEFAULT_MAX_OUTGOING_BYTES,
        on_overflow: Callable[[], None] | None = None,
    ) -> None:
        self._send = send
        self._coalesce = coalesce
        self._compression = compression
        self._max_payload = max_payload
        self._max_bytes = max_bytes
        self._on_overflow = on_overflow
        #: Bytes queued or taken by the writer and not yet handed to the socket.
        self._pending_bytes = 0
        #: True once the cap was exceeded (the queue was dropped).
        self.overflowed = False
        self._queue: deque[bytes] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        #: Number of WebSocket messages sent so far.
        self.frames_sent = 0

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called (later messages are dropped)."""
        return self._closed

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def pending_bytes(self) -> int:
        """Bytes queued or being sent (what ``max_bytes`` limits)."""
        return self._pending_bytes

    def put(self, encoded: bytes) -> None:
        """Queue one encoded server message (past the cap: drop everything, see the module)."""
        if self._closed:
            return
        size = len(encoded)
        if self._pending_bytes and self._pending_bytes + size > self._max_bytes:
            self._overflow()
            return
        self._pending_bytes += size
        self._queue.append(encoded)
        self._idle.clear()
        self._wakeup.set()

    def _overflow(self) -> None:
        self.overflowed = True
        self._queue.clear()
        self.close()
        self._idle.set()  # nothing more will be sent: nobody should wait for it
        if self._on_overflow is not None:
            self._on_overflow()

    def put_many(self, encoded: Iterable[bytes]) -> None:
        """Queue several encoded server messages, in order."""
        for message in encoded:
            self.put(message)

    def close(self) -> None:
        """Accept nothing more; :meth:`run` returns once the queue is sent."""
        self._closed = True
        self._wakeup.set()

    async def flush(self) -> None:
        """Wait until everything queued so far has been handed to the socket."""
        await self._idle.wait()

    async def run(self) -> None:
        """The writer loop: send queued messages until closed and drained.

        A failing ``send`` (the socket went away) propagates, ending the loop.
        """
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            # Give deliveries already scheduled on the loop a chance to join this batch.
            await asyncio.sleep(0)
            while self._queue:
                batch = list(self._queue)
                self._queue.clear()
                for frame in self._frames(batch):
                    await self._send(frame)
                    self.frames_sent += 1
                    if self.overflowed:
                        return
                self._pending_bytes -= sum(map(len, batch))
            self._idle.set()
            if self._closed and not self._queue:
                return

    def _frames(self, batch: list[bytes]) -> list[bytes]:
        if self._coalesce:
            return join_server_messages(batch, self._compression, self._max_payload)
        return [compress_server_payload(message, self._compression) for message in batch]
