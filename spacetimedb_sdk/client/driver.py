"""What a connection needs from the code that owns its socket (the asyncio or threaded driver).

A driver opens the WebSocket, feeds every received frame to its
:class:`~spacetimedb_sdk.client.session.Session` on the callback thread, writes what the session
has to send whenever it is woken, reports the socket's close and carries out the actions the
session answers with (wait, reopen, give up). It never sees the connection itself. The builder
takes the driver (``build(driver)`` / ``build_async(driver)``), so other I/O plugs in from
outside, as :mod:`spacetimedb_sdk.client.testing` does. Run-loop methods that make no sense for
a driver raise ``RuntimeError`` with a hint.
"""

from __future__ import annotations

import concurrent.futures
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spacetimedb_sdk.client.session import Session

__all__ = ["Driver"]


class Driver:
    """Base class of the drivers."""

    #: Short name for reprs and errors ("threaded", "asyncio", "offline").
    name = "driver"

    def connect(self, session: Session) -> None:
        """Open the socket (blocking); on failure report ``session.connect_failed`` and raise
        ConnectError."""
        raise RuntimeError(f"{self.name} drivers connect with build_async(), not build()")

    async def connect_async(self, session: Session) -> None:
        """Open the socket and wait until ``on_connect`` ran; raise ConnectError if not."""
        raise RuntimeError(f"{self.name} drivers connect with build(), not build_async()")

    def wake(self) -> None:
        """The core has data to send (called from any thread)."""
        raise NotImplementedError

    def request_close(self) -> None:
        """Start closing the socket (called from any thread); the close is reported later."""
        raise NotImplementedError

    def wait_for(self, future: concurrent.futures.Future[Any], timeout: float | None) -> None:
        """Block the calling thread until ``future`` is done or ``timeout`` passes."""
        concurrent.futures.wait([future], timeout=timeout)

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Block until the connection is closed for good; False on timeout."""
        raise NotImplementedError

    def in_callback_thread(self) -> bool:
        """True when called from the thread that runs callbacks, while it runs one."""
        return False

    # ---------------------------------------------------------------- run loops (threaded)
    def frame_tick(self) -> int:
        """Process every message received so far; return how many."""
        raise RuntimeError(f"frame_tick() is for threaded connections, not {self.name} ones")

    def advance_one_message(self) -> bool:
        """Process one received message if there is one."""
        raise RuntimeError(
            f"advance_one_message() is for threaded connections, not {self.name} ones"
        )

    def advance_one_message_blocking(self, timeout: float | None = None) -> bool:
        """Wait for one message and process it; False on timeout or once closed."""
        raise RuntimeError(
            f"advance_one_message_blocking() is for threaded connections, not {self.name} ones"
        )

    def run_threaded(self) -> threading.Thread:
        """Process messages on a background thread until the connection closes."""
        raise RuntimeError(f"run_threaded() is for threaded connections, not {self.name} ones")

    async def run_async(self) -> None:
        """Wait (asynchronously) until the connection closes."""
        raise RuntimeError(f"run_async() is for asyncio connections, not {self.name} ones")
