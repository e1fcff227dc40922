"""Ctrl-C and SIGTERM for a server running in the foreground, in a way that cannot lose them.

``loop.add_signal_handler`` learns of a signal through the event loop's self-pipe: the C-level
handler writes the signal number there and the loop reads it back. Under load that pipe is
also full of ``call_soon_threadsafe`` wake-ups (every answer a database thread posts), and when
it is full the byte is dropped ("Exception ignored when trying to write to the signal wakeup
fd") and the signal with it.

:class:`StopSignals` uses a plain Python-level handler instead: CPython records the signal in a
flag that nothing can overflow and runs the handler in the main thread, which only sets
:attr:`StopSignals.received`. :meth:`StopSignals.wait` polls that attribute, so the loop also
wakes up when the signal was delivered to another thread. A second signal exits at once
(``os._exit``); every acknowledged commit is already on disk (each one is fsync'd before its
caller hears of it), so forcing is safe. If a clean stop takes longer than ``grace`` seconds
the process is forced out the same way.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable, Sequence
from types import FrameType, TracebackType
from typing import Any, Final

__all__ = ["DEFAULT_GRACE", "StopSignals"]

#: Seconds a clean stop may take after the first signal before the process is forced out.
DEFAULT_GRACE: Final = 15.0

_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class StopSignals:
    """``with StopSignals() as signals: await signals.wait()`` returns the first signal's number.

    Installed only in the main thread (elsewhere it does nothing and :meth:`wait` waits
    forever, as signals are the main thread's business). ``exit`` replaces ``os._exit`` in tests.
    """

    def __init__(
        self,
        signals: Sequence[signal.Signals] = (signal.SIGINT, signal.SIGTERM),
        *,
        poll_interval: float = 0.1,
        grace: float = DEFAULT_GRACE,
        exit: Callable[[int], object] = os._exit,
    ) -> None:
        self._signals = tuple(signals)
        self._poll_interval = poll_interval
        self._grace = grace
        self._exit = exit
        self._previous: dict[signal.Signals, _Handler] = {}
        self._watchdog: threading.Timer | None = None
        #: The first signal received (None until then).
        self.received: int | None = None

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in self._signals:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
            return
        self._force(signum, "second signal")

    def _force(self, signum: int, why: str) -> None:
        name = signal.Signals(signum).name
        # os.write: a signal handler must not use sys.stderr's buffered writer (re-entrancy).
        os.write(2, f"spacetimedb-sdk serve: {why} ({name}): exiting now\n".encode())
        self._exit(128 + signum)

    async def wait(self) -> int:
        """Wait for the first signal; from then on the process leaves within ``grace`` s."""
        while self.received is None:
            await asyncio.sleep(self._poll_interval)
        signum = self.received
        self._watchdog = threading.Timer(
            self._grace, self._force, (signum, f"not stopped after {self._grace:g} s")
        )
        self._watchdog.daemon = True
        self._watchdog.start()
        return signum
