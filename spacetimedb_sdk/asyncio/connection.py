"""The asyncio driver (``await builder.build_async()``), over ``websockets.asyncio``.

One task per connection reads the socket and applies each message on the event loop, running
its callbacks there, in order; a writer task sends what the core queues (requests made in the
same loop iteration are coalesced into one v3 frame). Requests may also be made from other
threads: they wake the writer through the loop. ``await conn.run_async()`` waits until the
connection closes; auto-reconnect attempts run inside the reader task.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from spacetimedb_sdk.client.driver import Driver
from spacetimedb_sdk.core.effects import ProtocolViolation
from spacetimedb_sdk.core.errors import ConnectError, DisconnectedError
from spacetimedb_sdk.errors import ProtocolError
from spacetimedb_sdk.frames import V2_BSATN_PROTOCOL
from spacetimedb_sdk.redaction import sdk_logger, transport_logger
from spacetimedb_sdk.sync.connection import close_error, handshake_error

if TYPE_CHECKING:
    from spacetimedb_sdk.client.db_connection import DbConnection

__all__ = ["AsyncioDriver"]

_log = sdk_logger("spacetimedb_sdk.driver")


class AsyncioDriver(Driver):
    """Owns the socket of a connection built with ``build_async()``."""

    name = "asyncio"

    def __init__(self, conn: DbConnection[Any, Any, Any]) -> None:
        self._conn = conn
        conn._attach(self)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws: ClientConnection | None = None
        self._wakeup: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._closed: asyncio.Event | None = None
        self._session: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._loop_thread: int | None = None
        self._in_callback = False

    # ------------------------------------------------------------------------------ socket
    async def _open(self) -> ClientConnection:
        conn = self._conn
        config = conn._config
        from spacetimedb_sdk.client.db_connection import OFFERED_PROTOCOLS

        try:
            ws = await connect(
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
            )
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise handshake_error(exc) from exc
        try:
            conn._core.connection_opened(ws.subprotocol or V2_BSATN_PROTOCOL)
        except ProtocolError as exc:
            await ws.close()
            raise ConnectError(str(exc)) from exc
        return ws

    async def connect(self) -> None:
        """Open the socket and wait until ``on_connect`` has run; raise ConnectError if not."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wakeup = asyncio.Event()
        self._stop = asyncio.Event()
        self._closed = asyncio.Event()
        try:
            ws = await self._open()
        except ConnectError as exc:
            self._conn._connect_failed(exc)
            self._closed.set()
            raise
        self._ws = ws
        self._writer = self._loop.create_task(self._write(), name="spacetimedb-writer")
        self._session = self._loop.create_task(self._run(ws), name="spacetimedb-reader")
        await asyncio.wrap_future(self._conn._connected_future.future)

    async def _write(self) -> None:
        assert self._wakeup is not None
        wakeup = self._wakeup
        core = self._conn._core
        while True:
            await wakeup.wait()
            wakeup.clear()
            ws = self._ws
            if ws is None:
                continue
            for frame in core.data_to_send():
                try:
                    await ws.send(frame)
                except ConnectionClosed:
                    break  # the reader reports the close

    def wake(self) -> None:
        """Wake the writer (from any thread)."""
        loop, wakeup = self._loop, self._wakeup
        if loop is None or wakeup is None or loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            wakeup.set()
        else:
            loop.call_soon_threadsafe(wakeup.set)

    async def _read(self, ws: ClientConnection) -> BaseException | None:
        conn = self._conn
        cause: BaseException | None = None
        try:
            async for message in ws:
                self._in_callback = True
                try:
                    if isinstance(message, str):
                        conn._dispatch(
                            [ProtocolViolation(ProtocolError("the server sent a text frame"))]
                        )
                    else:
                        conn._process_frame(message)
                finally:
                    self._in_callback = False
        except ConnectionClosed as exc:
            cause = exc
        except Exception as exc:
            cause = exc
            _log.debug("reader stopped", exc_info=True)
        return close_error(ws.close_code, ws.close_reason or "", conn._closing, cause)

    async def _run(self, ws: ClientConnection | None) -> None:
        conn = self._conn
        try:
            while ws is not None:
                error = await self._read(ws)
                self._ws = None
                self._in_callback = True
                try:
                    reconnect = conn._socket_closed(error)
                finally:
                    self._in_callback = False
                if not reconnect:
                    break
                ws = await self._reconnect(error)
        finally:
            if self._writer is not None:
                self._writer.cancel()
            assert self._closed is not None
            self._closed.set()

    async def _reconnect(self, error: BaseException | None) -> ClientConnection | None:
        conn = self._conn
        policy = conn._config.reconnect
        assert policy is not None and self._stop is not None
        for attempt, delay in enumerate(policy.delays(), 1):
            conn._reconnecting(attempt, delay, error)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            if self._stop.is_set() or conn._is_closing():
                break
            try:
                conn._core.begin_reconnect()
                ws = await self._open()
            except ConnectError as exc:
                error = exc
                _log.info("reconnect attempt %d failed: %s", attempt, exc)
                continue
            except DisconnectedError:
                break
            if conn._is_closing():
                await ws.close()
                break
            self._ws = ws
            self.wake()
            return ws
        conn._give_up(None if conn._is_closing() else error)
        return None

    def request_close(self) -> None:
        """Close the socket (from any thread); the close is processed by the reader task."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def close() -> None:
            assert self._stop is not None
            self._stop.set()
            ws = self._ws
            if ws is not None:
                loop.create_task(ws.close())

        if threading.get_ident() == self._loop_thread:
            close()
        else:
            loop.call_soon_threadsafe(close)

    # ------------------------------------------------------------------------------ waiting
    def in_callback_thread(self) -> bool:
        return self._in_callback and threading.get_ident() == self._loop_thread

    def wait_for(self, future: concurrent.futures.Future[Any], timeout: float | None) -> None:
        if future.done():
            return
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError(
                "cannot block the event loop waiting for an answer: use `await` (or .then())"
            )
        concurrent.futures.wait([future], timeout=timeout)

    async def run_async(self) -> None:
        closed = self._closed
        if closed is None:
            return
        if asyncio.get_running_loop() is self._loop:
            await closed.wait()
        else:
            await asyncio.get_running_loop().run_in_executor(None, self._conn._closed.wait)

    def wait_closed(self, timeout: float | None = None) -> bool:
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError("cannot block the event loop: use `await conn.run_async()`")
        return self._conn._closed.wait(timeout)
