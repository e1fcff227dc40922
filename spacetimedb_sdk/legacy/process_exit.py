"""How a 0.7 program ends: on Ctrl-C, and when its connection is lost for good.

0.7 programs (the quickstart's ``main.py``) run ``SpacetimeDBAsyncClient.run()`` on a background
thread and block the main thread in ``input()``. Left alone, Ctrl-C kills only the main thread
(a traceback, and the client stays connected until a second Ctrl-C), and a failed or lost
connection kills only the background thread (a traceback, and a prompt that no longer does
anything). So, while ``run()`` is active on another thread than the main one:

* **Ctrl-C** closes the connection (waiting up to the client's ``request_timeout``), then raises
  ``SystemExit(130)`` in the main thread: the program's ``finally`` blocks and ``atexit``
  handlers run, nothing is printed. A second Ctrl-C while closing ends the process at once.
* **A lost connection** (connecting failed, the server went away): the client prints one line
  to stderr, then raises ``SystemExit(1)`` in the main thread by sending it ``SIGINT`` (which
  interrupts a blocking ``input()``). If the process still runs a few seconds later (a program
  that catches ``SystemExit``), or the main thread cannot be interrupted this way, it is ended
  with ``os._exit(1)`` after flushing stdout and stderr.

The ``SIGINT`` handler is installed when a client is created on the main thread while Python's
default handler is in place; when no client's ``run()`` is active on another thread it behaves
exactly like the default (``KeyboardInterrupt``). Programs opt out with
``SpacetimeDBAsyncClient.exit_process = False`` (before creating the client: then no handler is
installed; ``run()`` raises ``SpacetimeDBException`` as in 0.7).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import NoReturn, Protocol

__all__ = ["CONNECTION_LOST_EXIT_CODE", "INTERRUPTED_EXIT_CODE", "ProcessExit", "process_exit"]

#: The exit code after Ctrl-C (the shell convention for SIGINT: 128 + 2).
INTERRUPTED_EXIT_CODE = 130
#: The exit code after a failed or lost connection.
CONNECTION_LOST_EXIT_CODE = 1
# How long the main thread gets to end after being told to, before os._exit.
_GRACE_SECONDS = 3.0


class Stoppable(Protocol):
    """What the handler needs of a running client."""

    exit_process: bool
    request_timeout: float

    def stop_for_exit(self, deadline: float) -> None:
        """Close the connection and wait until ``run()`` returned (or ``deadline``)."""


class ProcessExit:
    """The process-wide ``SIGINT`` handler and the clients whose ``run()`` it watches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: list[Stoppable] = []
        self._installed = False
        self._pending_code: int | None = None
        self._interrupted = False

    # ---------------------------------------------------------------------------- set-up
    def install(self) -> None:
        """Install the handler (main thread only, and only over Python's default one)."""
        if self._installed or threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return  # the program handles Ctrl-C itself
        signal.signal(signal.SIGINT, self._on_sigint)
        self._installed = True

    def running(self, client: Stoppable) -> Callable[[], None]:
        """Watch ``client`` while its ``run()`` is active; returns the function to call when
        it returns. Only runs off the main thread are watched."""
        if threading.current_thread() is threading.main_thread():
            return _nothing
        with self._lock:
            self._running.append(client)

        def done() -> None:
            with self._lock:
                if client in self._running:
                    self._running.remove(client)

        return done

    # --------------------------------------------------------------------------- endings
    def end_process(self, notice: str, code: int = CONNECTION_LOST_EXIT_CODE) -> None:
        """Print ``notice`` (one line, stderr) and make the process exit with ``code``.

        Called from the thread of ``run()``, which should then return.
        """
        _print_err(notice)
        main = threading.main_thread()
        with self._lock:
            if self._pending_code is None:
                self._pending_code = code
        if not (self._installed and main.is_alive() and hasattr(signal, "pthread_kill")):
            _hard_exit(code)
        threading.Thread(target=_watchdog, args=(code,), daemon=True).start()
        assert main.ident is not None
        signal.pthread_kill(main.ident, signal.SIGINT)

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        with self._lock:
            code = self._pending_code
            clients = [client for client in self._running if client.exit_process]
        if code is not None:
            raise SystemExit(code)  # end_process() asked for this interruption
        if not clients:
            signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt
        if self._interrupted:  # a second Ctrl-C while closing: stop waiting
            _hard_exit(INTERRUPTED_EXIT_CODE)
        self._interrupted = True
        deadline = time.monotonic() + max(client.request_timeout for client in clients)
        for client in clients:
            client.stop_for_exit(deadline)
        if sys.stderr is not None and sys.stderr.isatty():
            _print_err("")  # end the line the terminal's "^C" is on
        raise SystemExit(INTERRUPTED_EXIT_CODE)


def _nothing() -> None:
    return None


def _print_err(text: str) -> None:
    stream = sys.stderr
    if stream is None:
        return
    with contextlib.suppress(Exception):
        stream.write(text + "\n")
        stream.flush()


def _hard_exit(code: int) -> NoReturn:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.flush()
    os._exit(code)


def _watchdog(code: int) -> None:
    time.sleep(_GRACE_SECONDS)
    _hard_exit(code)


#: The one instance (signal handlers are per process).
process_exit = ProcessExit()
