"""Requests waiting for their answer, matched by ``request_id`` (reducers, procedures, queries).

The server echoes the client-chosen ``request_id`` in its response (docs/protocol.md#client-messages); ids come
from one per-connection counter and are never reused while outstanding.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from spacetimedb_sdk.bsatn import BsatnCodec

__all__ = ["PendingRequest", "PendingRequests", "RequestKind"]

RequestKind = Literal["reducer", "procedure", "one_off_query"]

_U32 = 1 << 32


@dataclass(slots=True)
class PendingRequest:
    """One request in flight."""

    request_id: int
    kind: RequestKind
    #: Reducer or procedure name, or the query text.
    name: str
    args: tuple[Any, ...] = ()
    #: The API object completed by the answer (a call or query future); opaque to the core.
    owner: Any = None
    #: Decodes the answer's payload (procedure return value).
    codec: BsatnCodec[Any] | None = None
    sent_at: float = field(default_factory=time.monotonic)


class PendingRequests:
    """The outstanding requests of one connection and the request-id counter."""

    __slots__ = ("_next", "_pending")

    def __init__(self) -> None:
        self._next = 0  # like the TypeScript SDK: ids count from 0
        self._pending: dict[int, PendingRequest] = {}

    def next_id(self) -> int:
        """A request id not in use by any outstanding request."""
        while True:
            rid = self._next
            self._next = (rid + 1) % _U32
            if rid not in self._pending:
                return rid

    def add(self, request: PendingRequest) -> None:
        """Start waiting for ``request``'s answer."""
        self._pending[request.request_id] = request

    def pop(self, request_id: int) -> PendingRequest | None:
        """Stop waiting for ``request_id``; None when it is unknown."""
        return self._pending.pop(request_id, None)

    def drain(self) -> list[PendingRequest]:
        """Every outstanding request (in request order); the table is emptied."""
        out = list(self._pending.values())
        self._pending.clear()
        return out

    def __len__(self) -> int:
        return len(self._pending)
