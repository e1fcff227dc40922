"""The threaded driver: plain scripts and game loops, over ``websockets.sync``.

The ``websockets`` connection's own thread reads the socket (answering pings) and puts each
message straight into the connection's queue; nothing is applied there. Messages are applied,
and their callbacks run, by whichever thread processes that queue -- only one at a time, in
order, with no thread in between (each hand-over costs a thread wake-up per message):

* ``conn.run_threaded()`` starts a background thread that does it until the connection closes;
* ``conn.frame_tick()`` processes what has arrived so far (call it every frame of a game loop);
  ``advance_one_message()`` / ``advance_one_message_blocking(timeout)`` process one message;
* ``call.result()`` on a connection nobody else is processing pumps the queue itself.

Sends (reducer calls, subscriptions) are written immediately from the calling thread, under a
lock. Auto-reconnect attempts run on their own thread; what they report (a wait, giving up) is
queued like messages.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import inspect
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.frames import Frame, Opcode
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
class _Queued:
    """The next message of ``ws`` waits in websockets' own queue (it did not arrive in one
    binary frame): take it from there."""

    ws: ClientConnection


@dataclass(frozen=True)
class _Ended:
    """``ws`` stopped receiving (closed, or failed): nothing of it follows."""

    ws: ClientConnection


class _QueueingConnection(ClientConnection):
    """A client connection whose reading thread puts each message that arrives in one binary
    frame straight into the driver's queue, as soon as it is parsed, and reports its end there.

    Until the driver arms it (once the session knows the subprotocol), such messages are held.
    A text or fragmented message goes to websockets' queue as usual, announced by a ``_Queued``
    in the driver's queue at its place, so the order never changes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Set before the base class starts the reading thread.
        self._put: Callable[[Any], None] | None = None
        self._held: list[Any] = []
        self._arm_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def arm(self, put: Callable[[Any], None]) -> None:
        """Put messages with ``put`` from now on, those held so far first."""
        with self._arm_lock:
            for item in self._held:
                put(item)
            self._held = []
            self._put = put

    def _hand_over(self, item: Any) -> None:
        put = self._put
        if put is None:
            with self._arm_lock:
                put = self._put
                if put is None:
                    self._held.append(item)
                    return
        put(item)

    def process_event(self, event: Any) -> None:
        if type(event) is Frame and event.opcode in _DATA:
            if event.opcode is Opcode.BINARY and event.fin:
                data = event.data
                self._hand_over(data if type(data) is bytes else bytes(data))
                return
            # Data frames of two messages never interleave: the _Queued put once the message
            # is whole keeps its place among the others.
            super().process_event(event)
            if event.fin:
                self._hand_over(_Queued(self))
            return
        super().process_event(event)

    def recv_events(self) -> None:
        try:
            super().recv_events()
        finally:
            self._hand_over(_Ended(self))


_DATA = (Opcode.BINARY, Opcode.TEXT, Opcode.CONT)


def _wait_done(future: concurrent.futures.Future[Any], timeout: float | None) -> None:
    """Block until ``future`` is done or ``timeout`` passes. Waits on the future's own
    condition: ``concurrent.futures.wait`` builds and installs a waiter object per call."""
    with contextlib.suppress(concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
        future.exception(timeout)


class ThreadedDriver(Driver):
    """Owns the socket of a connection built with ``build()``."""

    name = "threaded"

    def __init__(self) -> None:
        self._session: Session | None = None
        #: Messages (bytes), _Queued and _Ended from the socket; Wait and GiveUp from the
        #: reconnect thread.
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        #: The socket sends go to (None while there is none).
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
                create_connection=_QueueingConnection,
                **_LEGACY,
            )
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise handshake_error(exc) from exc
        try:
            opened = session.opened(ws.subprotocol)
        except ConnectError:
            ws.close()
            raise
        if isinstance(opened, Serve) and isinstance(ws, _QueueingConnection):
            ws.arm(self._inbox.put)  # the session can read its messages now
        return ws, opened

    def connect(self, session: Session) -> None:
        """Open the socket (blocking); on failure run ``on_connect_error`` and raise."""
        self._session = session
        try:
            ws, _ = self._open(session)  # the first socket is always served
        except ConnectError as exc:
            session.connect_failed(exc)
            self._done = True
            raise
        self._ws = ws
        self.wake()

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

    def _finished(self) -> bool:
        """Nothing more can arrive or be processed."""
        return self._done and self._inbox.empty()

    def _socket_ended(self, ws: ClientConnection) -> None:
        session = self._session
        assert session is not None
        if self._ws is ws:
            self._ws = None
        cause: BaseException | None = None
        try:
            ws.recv()  # its reading thread has ended: this raises why (ConnectionClosed) at once
        except Exception as exc:
            cause = exc
        if not isinstance(cause, ConnectionClosed):
            # A bug or an I/O error stopped the reading thread: let the socket go (a reconnect
            # must not leave it open behind).
            _log.debug("receiving stopped", exc_info=cause)
            threading.Thread(target=ws.close, name="spacetimedb-close", daemon=True).start()
        error = session.close_error(ws.close_code, ws.close_reason or "", cause)
        action = session.closed(error)
        if isinstance(action, Wait):
            threading.Thread(
                target=self._reconnect,
                args=(session, action),
                name="spacetimedb-reconnect",
                daemon=True,
            ).start()
        else:
            self._done = True

    def _process(self, item: Any) -> None:
        session = self._session
        assert session is not None
        if isinstance(item, _Queued):
            try:
                message = item.ws.recv()  # complete already (a text message, or fragments)
            except Exception:  # pragma: no cover - websockets fails the socket first
                _log.debug("receiving a queued message failed", exc_info=True)
                return  # its _Ended follows
            session.frame_received(message)  # a text frame too: the session reports it
        elif isinstance(item, _Ended):
            self._socket_ended(item.ws)
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
            if self._finished():
                return False
            try:
                item = self._inbox.get(block, timeout) if block else self._inbox.get_nowait()
            except queue.Empty:
                return False
            session = self._session
            assert session is not None
            self._processing = threading.get_ident()
            try:
                if type(item) is bytes:
                    session.frame_received(item)
                else:
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
        while not self._finished():
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
            _wait_done(future, timeout)
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        while not future.done():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            step = 0.25 if remaining is None else min(remaining, 0.25)
            if not self._pump(step, lambda wait: _wait_done(future, wait)):
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
        return processed or not self._finished()

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
            self._ws = ws
            self.wake()
            return
        self._inbox.put(action)  # reported on the callback thread
