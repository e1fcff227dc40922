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

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from spacetimedb_sdk.client.driver import Driver
from spacetimedb_sdk.core.effects import ProtocolViolation
from spacetimedb_sdk.core.errors import ConnectError, DisconnectedError
from spacetimedb_sdk.errors import ProtocolError
from spacetimedb_sdk.frames import V2_BSATN_PROTOCOL
from spacetimedb_sdk.redaction import sdk_logger, transport_logger

if TYPE_CHECKING:
    from spacetimedb_sdk.client.db_connection import DbConnection

__all__ = ["ThreadedDriver", "close_error", "handshake_error"]

_log = sdk_logger("spacetimedb_sdk.driver")
_POLL = 0.02  # seconds between checks while another thread processes messages
_LEGACY: dict[str, Any] = (
    {"legacy": True} if "legacy" in inspect.signature(connect).parameters else {}
)


@dataclass(frozen=True)
class _Closed:
    """The socket closed; ``error`` is why (None for a clean close we asked for)."""

    error: BaseException | None


@dataclass(frozen=True)
class _GiveUp:
    """Reconnecting failed for good."""

    error: BaseException | None


def handshake_error(exc: BaseException) -> ConnectError:
    """A ConnectError describing a failed WebSocket handshake (HTTP status and body if any)."""
    if isinstance(exc, InvalidStatus):
        response = exc.response
        body = bytes(response.body or b"").decode("utf-8", "replace").strip()
        reason = f": {body}" if body else ""
        return ConnectError(
            f"the server refused the connection (HTTP {response.status_code}){reason}"
            + _rejected_token_hint(response.status_code, body),
            response.status_code,
            body,
        )
    return ConnectError(f"cannot connect: {exc}")


def _rejected_token_hint(status: int, body: str) -> str:
    # A bare "401 InvalidSignature" hides the usual cause: a token saved from another server.
    if status != 401:
        return ""
    why = (
        "The token was issued by a different server (or this server's keys changed)"
        if "InvalidSignature" in body
        else "The server does not accept this token"
    )
    return (
        f". {why}: to start fresh with a new identity, connect without it (with_token(None))"
        " and delete the saved token (e.g. credentials.File(key).clear())"
    )


def close_error(
    code: int | None, reason: str, requested: bool, cause: BaseException | None = None
) -> DisconnectedError | None:
    """Why a socket closed, or None for a clean close the client asked for."""
    if requested and code in (1000, 1001, None):
        return None
    detail = f"code {code}" if code is not None else "no close frame"
    if reason:
        detail += f": {reason}"
    error = DisconnectedError(f"the connection closed ({detail})")
    if cause is not None:
        error.__cause__ = cause
    return error


class ThreadedDriver(Driver):
    """Owns the socket of a connection built with ``build()``."""

    name = "threaded"

    def __init__(self, conn: DbConnection[Any, Any, Any]) -> None:
        self._conn = conn
        conn._attach(self)
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._ws: ClientConnection | None = None
        self._send_lock = threading.Lock()
        self._process_lock = threading.RLock()
        self._processing: int | None = None
        self._runner: threading.Thread | None = None
        self._stop = threading.Event()
        self._done = False

    # ------------------------------------------------------------------------------ socket
    def _open(self) -> ClientConnection:
        conn = self._conn
        config = conn._config
        from spacetimedb_sdk.client.db_connection import OFFERED_PROTOCOLS

        try:
            ws = connect(
                config.url(),
                subprotocols=list(OFFERED_PROTOCOLS),  # type: ignore[arg-type]
                additional_headers=config.headers(conn._core.token),
                compression=None,
                open_timeout=config.open_timeout,
                ping_interval=config.ping_interval,
                ping_timeout=config.ping_timeout,
                max_size=config.max_message_size,
                max_queue=None,
                logger=transport_logger(),  # it logs the Authorization header at DEBUG
                **_LEGACY,
            )
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise handshake_error(exc) from exc
        try:
            conn._core.connection_opened(ws.subprotocol or V2_BSATN_PROTOCOL)
        except ProtocolError as exc:
            ws.close()
            raise ConnectError(str(exc)) from exc
        return ws

    def connect(self) -> None:
        """Open the socket (blocking); on failure run ``on_connect_error`` and raise."""
        try:
            ws = self._open()
        except ConnectError as exc:
            self._conn._connect_failed(exc)
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
                if isinstance(message, str):
                    self._inbox.put(
                        ProtocolViolation(ProtocolError("the server sent a text frame"))
                    )
                else:
                    self._inbox.put(message)
        except ConnectionClosed as exc:
            cause = exc
        except Exception as exc:  # a bug or an I/O error: report it as the close reason
            cause = exc
            _log.debug("reader stopped", exc_info=True)
        code = ws.close_code
        reason = ws.close_reason or ""
        self._inbox.put(_Closed(close_error(code, reason, self._conn._closing, cause)))

    def wake(self) -> None:
        """Write whatever the core has queued (from any thread)."""
        ws = self._ws
        if ws is None:
            return
        with self._send_lock:
            for frame in self._conn._core.data_to_send():
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
        conn = self._conn
        if isinstance(item, (bytes, bytearray, memoryview)):
            conn._process_frame(item)
        elif isinstance(item, _Closed):
            self._ws = None
            if conn._socket_closed(item.error):
                threading.Thread(
                    target=self._reconnect,
                    args=(item.error,),
                    name="spacetimedb-reconnect",
                    daemon=True,
                ).start()
            else:
                self._done = True
        elif isinstance(item, _GiveUp):
            conn._give_up(item.error)
            self._done = True
        elif isinstance(item, ProtocolViolation):
            conn._dispatch([item])
        elif callable(item):
            item()

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
            self._process_one(0.25, block=True)

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
        closed = self._conn._closed
        if self._someone_else_processes():
            return closed.wait(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not closed.is_set():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._pump(0.25 if remaining is None else min(remaining, 0.25), closed.wait)
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
    def _reconnect(self, error: BaseException | None) -> None:
        conn = self._conn
        policy = conn._config.reconnect
        assert policy is not None
        for attempt, delay in enumerate(policy.delays(), 1):
            last = error
            self._inbox.put(lambda a=attempt, d=delay, e=last: conn._reconnecting(a, d, e))
            if self._stop.wait(delay) or conn._is_closing():
                break
            try:
                conn._core.begin_reconnect()
                ws = self._open()
            except ConnectError as exc:
                error = exc
                _log.info("reconnect attempt %d failed: %s", attempt, exc)
                continue
            except DisconnectedError:
                break
            if conn._is_closing():
                ws.close()
                break
            self._start(ws)
            return
        self._inbox.put(_GiveUp(None if conn._is_closing() else error))
