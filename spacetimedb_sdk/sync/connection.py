"""The threaded driver: plain scripts and game loops, over ``websockets.sync``.

A reader thread receives WebSocket messages into a queue; nothing is applied there. Messages
are applied, and callbacks run, by whichever thread processes the queue -- only one at a time,
in order:

* ``conn.run_threaded()`` starts a background thread that does it until the connection closes;
* ``conn.frame_tick()`` processes what has arrived so far (call it every frame of a game loop);
  ``advance_one_message()`` / ``advance_one_message_blocking(timeout)`` process one message;
* ``call.result()`` on a connection nobody else is processing pumps the queue itself.

Sends (reducer calls, subscriptions) are written immediately from the calling thread, under a
lock. Auto-reconnect attempts run on their own thread; their callbacks are queued like messages.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import ClientConnection, connect

from spacetimedb_sdk.client.driver import Driver
from spacetimedb_sdk.client.session import handshake_error
from spacetimedb_sdk.core.errors import ConnectError
from spacetimedb_sdk.core.lifecycle import GiveUp, Open, Serve, Wait
from spacetimedb_sdk.redaction import sdk_logger, transport_logger

if TYPE_CHECKING:
    from spacetimedb_sdk.client.session import Session

__all__ = ["ThreadedDriver"]

_log = sdk_logger("spacetimedb_sdk.driver")
_POLL = 0.02  # seconds between checks while another thread processes messages
_LEGACY: dict[str, Any] = (
    {"legacy": True} if "legacy" in inspect.signature(connect).parameters else {}
)


@dataclass(frozen=True)
class _Closed:
    """The socket closed; ``error`` is why (None for a clean close we asked for)."""

    error: BaseException | None


class ThreadedDriver(Driver):
    """Owns the socket of a connection built with ``build()``."""

    name = "threaded"

    def __init__(self) -> None:
        self._session: Session | None = None
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._ws: ClientConnection | None = None
        self._send_lock = threading.Lock()
        self._process_lock = threading.RLock()
        self._processing: int | None = None
        self._runner: threading.Thread | None = None
        self._stop = threading.Event()
        self._done = False

    # ------------------------------------------------------------------------------ socket
    def _open(self, session: Session) -> tuple[ClientConnection, Serve | GiveUp]:
        """Open a socket and hand it to the session; raises ConnectError."""
        options = session.options
        try:
            ws = connect(
                session.url,
                subprotocols=list(session.SUBPROTOCOLS),  # type: ignore[arg-type]
                additional_headers=session.headers(),
                compression=None,
                open_timeout=options.open_timeout,
                ping_interval=options.ping_interval,
                ping_timeout=options.ping_timeout,
                max_size=options.max_message_size,
                max_queue=None,
                logger=transport_logger(),  # it logs the Authorization header at DEBUG
                **_LEGACY,
            )
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise handshake_error(exc) from exc
        try:
            return ws, session.opened(ws.subprotocol)
        except ConnectError:
            ws.close()
            raise

    def connect(self, session: Session) -> None:
        """Open the socket (blocking); on failure run ``on_connect_error`` and raise."""
        self._session = session
        try:
            ws, _ = self._open(session)  # the first socket is always served
        except ConnectError as exc:
            session.connect_failed(exc)
            self._done = True
            raise
        self._start(ws)

    def _start(self, ws: ClientConnection) -> None:
        self._ws = ws
        threading.Thread(
            target=self._read, args=(ws,), name="spacetimedb-reader", daemon=True
        ).start()
        self.wake()

    def _read(self, ws: ClientConnection) -> None:
        cause: BaseException | None = None
        try:
            while True:
                message = ws.recv()
                self._inbox.put(message)  # a text frame too: the session reports it
        except ConnectionClosed as exc:
            cause = exc
        except Exception as exc:  # a bug or an I/O error: report it as the close reason
            cause = exc
            _log.debug("reader stopped", exc_info=True)
        assert self._session is not None
        error = self._session.close_error(ws.close_code, ws.close_reason or "", cause)
        self._inbox.put(_Closed(error))

    def wake(self) -> None:
        """Write whatever the core has queued (from any thread)."""
        ws, session = self._ws, self._session
        if ws is None or session is None:
            return
        with self._send_lock:
            for frame in session.data_to_send():
                try:
                    ws.send(frame)
                except ConnectionClosed:
                    return  # the reader reports the close
                except Exception:
                    _log.exception("send failed")
                    return

    def request_close(self) -> None:
        """Close the socket without blocking the caller; the close is processed as a message."""
        self._stop.set()
        ws = self._ws
        if ws is not None:
            threading.Thread(target=ws.close, name="spacetimedb-close", daemon=True).start()
        # Without a socket a reconnect is in progress: it sees the stop and gives up.

    # ------------------------------------------------------------------------------ processing
    def in_callback_thread(self) -> bool:
        return self._processing == threading.get_ident()

    def _process(self, item: Any) -> None:
        session = self._session
        assert session is not None
        if isinstance(item, (bytes, bytearray, memoryview, str)):
            session.frame_received(item)
        elif isinstance(item, _Closed):
            self._ws = None
            action = session.closed(item.error)
            if isinstance(action, Wait):
                threading.Thread(
                    target=self._reconnect,
                    args=(session, action),
                    name="spacetimedb-reconnect",
                    daemon=True,
                ).start()
            else:
                self._done = True
        elif isinstance(item, Wait):
            session.reconnecting(item)
        elif isinstance(item, GiveUp):
            session.give_up(item)
            self._done = True

    def _process_one(self, timeout: float | None, block: bool) -> bool:
        if self.in_callback_thread():
            raise RuntimeError(
                "messages cannot be processed from inside a callback (it would run later "
                "messages' callbacks before this one returns); use .then() or another thread"
            )
        with self._process_lock:
            if self._done and self._inbox.empty():
                return False
            try:
                item = self._inbox.get(block, timeout) if block else self._inbox.get_nowait()
            except queue.Empty:
                return False
            self._processing = threading.get_ident()
            try:
                self._process(item)
            finally:
                self._processing = None
            return True

    def _check_manual(self, what: str) -> None:
        if self._someone_else_processes():
            raise RuntimeError(
                f"{what}() cannot be used while run_threaded() processes messages: callbacks "
                "would run on two threads"
            )

    def frame_tick(self) -> int:
        self._check_manual("frame_tick")
        count = 0
        while self._process_one(None, block=False):
            count += 1
        return count

    def advance_one_message(self) -> bool:
        self._check_manual("advance_one_message")
        return self._process_one(None, block=False)

    def advance_one_message_blocking(self, timeout: float | None = None) -> bool:
        self._check_manual("advance_one_message_blocking")
        return self._process_one(timeout, block=True)

    def run_threaded(self) -> threading.Thread:
        runner = self._runner
        if runner is not None and runner.is_alive():
            return runner
        runner = self._runner = threading.Thread(
            target=self._run, name="spacetimedb-callbacks", daemon=True
        )
        runner.start()
        return runner

    def _run(self) -> None:
        while not (self._done and self._inbox.empty()):
            try:
                self._process_one(0.25, block=True)
            except Exception:  # the session reports message failures; this is a last resort
                _log.exception("processing an event of the connection failed")

    def _someone_else_processes(self) -> bool:
        runner = self._runner
        return runner is not None and runner.is_alive() and runner is not threading.current_thread()

    def wait_for(self, future: concurrent.futures.Future[Any], timeout: float | None) -> None:
        if future.done():
            return
        if self.in_callback_thread():
            raise RuntimeError(
                "cannot block on a result inside a callback (its answer is processed after the "
                "callback returns); use .then(callback) instead"
            )
        if self._someone_else_processes():
            concurrent.futures.wait([future], timeout=timeout)
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        while not future.done():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            step = 0.25 if remaining is None else min(remaining, 0.25)
            if not self._pump(step, lambda wait: concurrent.futures.wait([future], wait)):
                return

    def wait_closed(self, timeout: float | None = None) -> bool:
        if self.in_callback_thread():
            raise RuntimeError("cannot wait for the close inside a callback")
        session = self._session
        assert session is not None
        if self._someone_else_processes():
            return session.wait_closed(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not session.is_closed:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._pump(0.25 if remaining is None else min(remaining, 0.25), session.wait_closed)
        return True

    def _pump(self, step: float, wait: Callable[[float], object]) -> bool:
        """Process one message (waiting up to ``step``) for a thread blocked on a result;
        False once nothing more can arrive. While another thread processes, only ``wait`` for
        what it may complete, in short steps: waiting for the processing lock could overrun
        the caller's timeout by a whole step."""
        if not self._process_lock.acquire(blocking=False):
            wait(min(step, _POLL))
            return True
        try:
            processed = self._process_one(step, block=True)
        finally:
            self._process_lock.release()
        return processed or not (self._done and self._inbox.empty())

    # ------------------------------------------------------------------------------ reconnect
    def _reconnect(self, session: Session, action: Wait | Open | GiveUp) -> None:
        """Carry out the session's reconnect actions (on a thread of its own); callbacks are
        queued for the callback thread like messages."""
        while not isinstance(action, GiveUp):
            if isinstance(action, Wait):
                self._inbox.put(action)  # on_reconnecting runs on the callback thread
                action = session.waited(self._stop.wait(action.delay))
                continue
            try:
                ws, opened = self._open(session)
            except ConnectError as exc:
                action = session.open_failed(exc)
                continue
            if isinstance(opened, GiveUp):  # disconnect() was called meanwhile
                ws.close()
                action = opened
                continue
            self._start(ws)
            return
        self._inbox.put(action)  # reported on the callback thread
