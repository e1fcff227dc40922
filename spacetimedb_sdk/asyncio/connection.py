"""The asyncio driver (``await builder.build_async()``), over ``websockets.asyncio``.

Each message is applied, and its callbacks run, on the event loop as soon as the socket has
delivered it, in order: the connection hands every whole binary message to the driver as the
protocol parses it, not through a queue read by a task (a loop iteration per message). One task
per connection waits for the socket's close (and reads the rare message that does not arrive in
one binary frame, keeping the order behind it).

A request made on the loop is written to the socket at once, unless one was just written that
way and neither a message has arrived nor the writer task has run since: the requests of a burst
after its first, and requests made from other threads (which wake it through the loop), are
sent by the writer task, coalesced into v3 frames. ``await
conn.run_async()`` waits until the connection closes; auto-reconnect attempts run inside the
reader task.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.frames import Frame, Opcode

from spacetimedb_sdk.client.driver import Driver
from spacetimedb_sdk.client.session import handshake_error
from spacetimedb_sdk.core.errors import ConnectError
from spacetimedb_sdk.core.lifecycle import GiveUp, Open, Serve, Wait
from spacetimedb_sdk.redaction import sdk_logger, transport_logger

if TYPE_CHECKING:
    from spacetimedb_sdk.client.session import Session

__all__ = ["AsyncioDriver"]

_log = sdk_logger("spacetimedb_sdk.driver")


async def _finish(coroutine: Coroutine[Any, Any, None], step: Any) -> None:
    """Go on running ``coroutine``, driven by hand so far, which has just yielded ``step`` (what
    it waits for: an asyncio future, or None to let the loop run once)."""
    while True:
        try:
            if step is None:
                await asyncio.sleep(0)
            else:
                # What a task does with a future its coroutine yields; awaiting it again
                # would otherwise refuse it as already awaited.
                step._asyncio_future_blocking = False
                await step
        except BaseException as exc:  # the coroutine's to handle, a cancellation too
            try:
                step = coroutine.throw(exc)
            except StopIteration:
                return
            continue
        try:
            step = coroutine.send(None)
        except StopIteration:
            return


class _DirectDeliveryConnection(ClientConnection):
    """A client connection that hands each message that arrives as one binary frame to the
    driver from the protocol callback, as soon as it is parsed.

    Until the driver arms it, such messages are held (the server speaks right after the
    handshake, before the session knows the subprotocol). A text or fragmented message goes to
    websockets' queue as usual, and so does every message after it, so the order never changes.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deliver: Callable[[bytes], None] | None = None
        self._held: list[bytes] = []
        self._direct = True

    def arm(self, deliver: Callable[[bytes], None]) -> None:
        """Hand messages to ``deliver`` from now on, those held so far first."""
        self._deliver = deliver
        held, self._held = self._held, []
        for data in held:
            deliver(data)

    def process_event(self, event: Any) -> None:
        if self._direct and type(event) is Frame:
            if event.opcode is Opcode.BINARY and event.fin:
                data = event.data if type(event.data) is bytes else bytes(event.data)
                deliver = self._deliver
                if deliver is None:
                    self._held.append(data)
                else:
                    deliver(data)
                return
            if event.opcode in (Opcode.TEXT, Opcode.CONT, Opcode.BINARY):
                self._direct = False  # queued: everything after it must queue behind it
        super().process_event(event)


class AsyncioDriver(Driver):
    """Owns the socket of a connection built with ``build_async()``."""

    name = "asyncio"

    def __init__(self) -> None:
        self._session: Session | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ws: ClientConnection | None = None
        self._wakeup: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._closed: asyncio.Event | None = None
        self._session_task: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._loop_thread: int | None = None
        self._in_callback = False
        #: The writer task is sending (later frames must wait for it).
        self._writing = False
        #: A request was written at once, and neither the writer has run nor a message has
        #: arrived since: the requests after it (a burst) go to the writer, coalesced. (Both
        #: reset it: cheaper than a callback per request at the end of the loop iteration.)
        self._burst = False
        #: A send begun by _send_now that must wait: (the coroutine, what it awaits, the frames
        #: after it), finished by the writer.
        self._blocked: tuple[Coroutine[Any, Any, None], Any, list[bytes]] | None = None

    # ------------------------------------------------------------------------------ socket
    async def _open(self, session: Session) -> tuple[ClientConnection, Serve | GiveUp]:
        """Open a socket and hand it to the session; raises ConnectError."""
        options = session.options
        try:
            ws = await connect(
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
                create_connection=_DirectDeliveryConnection,
            )
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise handshake_error(exc) from exc
        try:
            return ws, session.opened(ws.subprotocol)
        except ConnectError:
            await ws.close()
            raise

    async def connect_async(self, session: Session) -> None:
        """Open the socket and wait until ``on_connect`` has run; raise ConnectError if not."""
        self._session = session
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wakeup = asyncio.Event()
        self._stop = asyncio.Event()
        self._closed = asyncio.Event()
        try:
            ws, _ = await self._open(session)  # the first socket is always served
        except ConnectError as exc:
            session.connect_failed(exc)
            self._closed.set()
            raise
        self._ws = ws
        self._writer = self._loop.create_task(self._write(), name="spacetimedb-writer")
        self._session_task = self._loop.create_task(self._run(ws), name="spacetimedb-reader")
        await asyncio.wrap_future(session.connected_future.future)

    async def _write(self) -> None:
        assert self._wakeup is not None and self._session is not None
        wakeup = self._wakeup
        session = self._session
        while True:
            await wakeup.wait()
            wakeup.clear()
            self._writing = True
            self._burst = False
            try:
                frames: list[bytes] = []
                blocked, self._blocked = self._blocked, None
                if blocked is not None:  # a send started by _send_now that had to wait
                    send, step, frames = blocked
                    try:
                        await _finish(send, step)
                    except ConnectionClosed:
                        continue  # the reader reports the close
                ws = self._ws
                if ws is None:
                    continue
                for frame in frames + session.data_to_send():
                    try:
                        await ws.send(frame)
                    except ConnectionClosed:
                        break  # the reader reports the close
            finally:
                self._writing = False

    def wake(self) -> None:
        """Send what the core queued (from any thread): right away on the loop's thread when
        the writer has nothing in hand, else through the writer."""
        loop, wakeup = self._loop, self._wakeup
        if loop is None or wakeup is None or loop.is_closed():
            return
        if threading.get_ident() != self._loop_thread:
            loop.call_soon_threadsafe(wakeup.set)
        elif self._writing or self._blocked is not None or self._ws is None or self._burst:
            # Behind what the writer holds (or once a socket is there); after a request sent
            # at once in this loop iteration, the rest of a burst shares the writer's frames.
            wakeup.set()
        else:
            self._burst = True  # until the writer runs or a message arrives
            self._send_now(self._ws)

    def _send_now(self, ws: ClientConnection) -> None:
        """Write the queued frames from the caller (a reducer call in a coroutine, a callback):
        a frame reaches the socket before the caller even awaits its answer, instead of a loop
        iteration later in the writer task. ``ws.send`` is driven by hand: it completes without
        waiting unless the write buffer is full or the connection is closing; then the writer
        finishes it and sends the rest, and later frames queue behind them."""
        assert self._session is not None and self._wakeup is not None
        frames = self._session.data_to_send()
        for i, frame in enumerate(frames):
            send = ws.send(frame)
            try:
                step = send.send(None)
            except StopIteration:
                continue
            except ConnectionClosed:
                return  # the reader reports the close
            except Exception:
                _log.exception("send failed")
                return
            self._blocked = (send, step, frames[i + 1 :])
            self._wakeup.set()
            return

    async def _read(self, session: Session, ws: ClientConnection) -> BaseException | None:
        def deliver(message: bytes | str) -> None:
            self._burst = False
            self._in_callback = True
            try:
                session.frame_received(message)
            finally:
                self._in_callback = False

        cause: BaseException | None = None
        try:
            if isinstance(ws, _DirectDeliveryConnection):
                ws.arm(deliver)
            async for message in ws:  # the messages not delivered directly; then the close
                deliver(message)
        except ConnectionClosed as exc:
            cause = exc
        except Exception as exc:
            cause = exc
            _log.debug("reader stopped", exc_info=True)
        return session.close_error(ws.close_code, ws.close_reason or "", cause)

    async def _run(self, ws: ClientConnection | None) -> None:
        session = self._session
        assert session is not None
        try:
            while ws is not None:
                error = await self._read(session, ws)
                self._ws = None
                self._in_callback = True
                try:
                    action = session.closed(error)
                finally:
                    self._in_callback = False
                if not isinstance(action, Wait):
                    break
                ws = await self._reconnect(session, action)
        finally:
            if self._writer is not None:
                self._writer.cancel()
            blocked, self._blocked = self._blocked, None
            if blocked is not None:  # a send the writer never took up: end it with the socket
                with contextlib.suppress(RuntimeError):
                    blocked[0].close()
            assert self._closed is not None
            self._closed.set()

    async def _reconnect(
        self, session: Session, action: Wait | Open | GiveUp
    ) -> ClientConnection | None:
        """Carry out the session's reconnect actions; the new socket, or None once it gave up."""
        assert self._stop is not None
        while not isinstance(action, GiveUp):
            if isinstance(action, Wait):
                session.reconnecting(action)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), action.delay)
                action = session.waited(self._stop.is_set())
                continue
            try:
                ws, opened = await self._open(session)
            except ConnectError as exc:
                action = session.open_failed(exc)
                continue
            if isinstance(opened, GiveUp):  # disconnect() was called meanwhile
                await ws.close()
                action = opened
                continue
            self._ws = ws
            self.wake()
            return ws
        session.give_up(action)
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
            session = self._session
            assert session is not None
            await asyncio.get_running_loop().run_in_executor(None, session.wait_closed)

    def wait_closed(self, timeout: float | None = None) -> bool:
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError("cannot block the event loop: use `await conn.run_async()`")
        session = self._session
        return session is not None and session.wait_closed(timeout)
