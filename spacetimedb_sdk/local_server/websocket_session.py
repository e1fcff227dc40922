"""One WebSocket client connection, from the upgrade to the disconnect (docs/protocol.md#connecting).

Life of a session:

1. ``client_connected`` runs; a rejection drops the socket without any message or close frame.
2. ``InitialConnection`` is queued first, then the session runs four tasks:

   * the **reader** receives frames, answers pings, notes every received frame for the idle
     timer and queues binary frames;
   * the **processor** decodes queued frames (v2: exactly one message; v3: messages back to back,
     yielding to the event loop every few hundred) and hands each request to the database,
     which answers in request order. Requests are counted one per *message*: when the frames
     waiting plus the requests decoded and not yet finished reach ``max_incoming_queue``, the
     session closes with 1013 ``too many requests`` (so one v3 frame packed with empty
     messages cannot queue unbounded work);
   * the **writer** (:class:`~spacetimedb_sdk.local_server.outbox.Outbox`) sends what the
     database delivers, coalescing and compressing for v3. More than ``max_outgoing_bytes``
     waiting for a client that does not read drops that client's TCP connection;
   * the **keep-alive** pings every ``ping_interval`` (only when the previous ping was answered)
     and drops the TCP connection after ``idle_timeout`` without any received frame.

3. A text frame, an undecodable or empty frame, or reusing an active query-set id closes with
   1011 and the error text; WebSocket-level violations close with aiohttp's codes (1002
   protocol error, 1009 too big); server shutdown closes with 1001 ``module exited``.
4. ``client_disconnected`` runs when the session ends, whatever the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from dataclasses import dataclass
from typing import Final

from aiohttp import WSMsgType, web

from spacetimedb_sdk.compression import Compression
from spacetimedb_sdk.errors import SpacetimeDBError
from spacetimedb_sdk.frames import V3_BSATN_PROTOCOL
from spacetimedb_sdk.identity import ConnectionId
from spacetimedb_sdk.local_server.database_runtime import ClientRequest, DatabaseRuntime
from spacetimedb_sdk.local_server.outbox import DEFAULT_MAX_OUTGOING_BYTES, Outbox
from spacetimedb_sdk.local_server.request_auth import Caller
from spacetimedb_sdk.local_server.subscriptions import QuerySetInUseError
from spacetimedb_sdk.messages import (
    InitialConnectionMsg,
    decode_client_message,
    decode_client_message_from,
    encode_server_message,
)

__all__ = [
    "CLOSE_GOING_AWAY",
    "CLOSE_INTERNAL_ERROR",
    "CLOSE_TRY_AGAIN_LATER",
    "DEFAULT_MAX_OUTGOING_BYTES",
    "MAX_CLIENT_MESSAGE_SIZE",
    "SessionConfig",
    "WebSocketSession",
]

log = logging.getLogger("spacetimedb_sdk.local_server")

CLOSE_GOING_AWAY: Final = 1001
CLOSE_INTERNAL_ERROR: Final = 1011
CLOSE_TRY_AGAIN_LATER: Final = 1013
#: Largest client message the server accepts (bigger ones drop the connection).
MAX_CLIENT_MESSAGE_SIZE: Final = 32 * 1024 * 1024
_MAX_CLOSE_REASON: Final = 123  # bytes; the WebSocket limit for a close frame's reason
#: v3 messages decoded between two yields to the event loop.
_DECODE_STEP: Final = 256


@dataclass(frozen=True)
class SessionConfig:
    """Timings and limits of WebSocket sessions (server defaults; tests shorten them)."""

    ping_interval: float = 15.0
    idle_timeout: float = 30.0
    max_message_size: int = MAX_CLIENT_MESSAGE_SIZE
    #: Requests (messages, not frames) waiting or in flight per connection.
    max_incoming_queue: int = 16384
    #: Encoded server messages waiting to be sent to one client; past it the client is dropped.
    max_outgoing_bytes: int = DEFAULT_MAX_OUTGOING_BYTES
    #: How long to wait for the client's Close after sending ours.
    close_timeout: float = 0.25
    #: How long a closing session waits for queued messages to be written.
    flush_timeout: float = 5.0


class _ProtocolViolationError(SpacetimeDBError):
    """The client broke the protocol; the session closes with ``code``."""

    def __init__(self, message: str, code: int = CLOSE_INTERNAL_ERROR) -> None:
        super().__init__(message)
        self.code = code


def _close_reason(text: str) -> bytes:
    data = text.encode()
    if len(data) <= _MAX_CLOSE_REASON:
        return data
    return data[: _MAX_CLOSE_REASON - 3].decode(errors="ignore").encode() + b"..."


def _decode_one(frame: bytes) -> ClientRequest:
    try:
        return decode_client_message(frame)
    except Exception as exc:  # whatever the decoder raises, the client sent bad bytes
        raise _ProtocolViolationError(f"invalid client message: {exc}") from None


def _decode_from(frame: bytes, offset: int) -> tuple[ClientRequest, int]:
    try:
        return decode_client_message_from(frame, offset)
    except Exception as exc:  # whatever the decoder raises, the client sent bad bytes
        raise _ProtocolViolationError(f"invalid client message: {exc}") from None


class WebSocketSession:
    """Serves one upgraded connection for one database."""

    def __init__(
        self,
        request: web.Request,
        ws: web.WebSocketResponse,
        runtime: DatabaseRuntime,
        caller: Caller,
        connection_id: ConnectionId,
        protocol: str,
        compression: Compression,
        config: SessionConfig,
    ) -> None:
        self._request = request
        self._ws = ws
        self._runtime = runtime
        self.caller = caller
        self.identity = caller.identity
        self.connection_id = connection_id
        self.protocol = protocol
        self._v3 = protocol == V3_BSATN_PROTOCOL
        self._config = config
        self.outbox = Outbox(
            ws.send_bytes,
            coalesce=self._v3,
            compression=compression,
            max_bytes=config.max_outgoing_bytes,
            on_overflow=self._drop_lagging,
        )
        self._incoming: asyncio.Queue[bytes] = asyncio.Queue()
        self._last_received = time.monotonic()
        self._awaiting_pong = False
        self._stop = asyncio.Event()
        self._close_code = CLOSE_INTERNAL_ERROR
        self._close_text = ""
        self._dropped = False
        self._in_flight = 0
        self._last_job: asyncio.Future[None] | None = None

    # ============================================================================ entry point
    async def run(self) -> None:
        """Serve the connection until it ends; ``client_disconnected`` has run on return."""
        refusal = await self._runtime.connect(
            self.identity, self.connection_id, self.deliver, self.caller.token
        )
        if refusal is not None:
            log.info("client_connected rejected %s: %s", self.identity, refusal)
            self._drop()
            return
        self.outbox.put(
            encode_server_message(
                InitialConnectionMsg(self.identity, self.connection_id, self.caller.token)
            )
        )
        writer = asyncio.ensure_future(self._write())
        processor = asyncio.ensure_future(self._process())
        keepalive = asyncio.ensure_future(self._keepalive())
        reader = asyncio.ensure_future(self._read())
        stopper = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if self._stop.is_set() and not self._dropped:
                await self._close_handshake(processor, keepalive, reader)
            else:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(reader, self._config.close_timeout + 1.0)
        finally:
            for task in (reader, stopper, processor, keepalive):
                task.cancel()
            self.outbox.close()
            writer.cancel()
            await asyncio.gather(
                reader, stopper, processor, keepalive, writer, return_exceptions=True
            )
            await self._runtime.disconnect(self.identity, self.connection_id)

    async def _close_handshake(
        self,
        processor: asyncio.Task[None],
        keepalive: asyncio.Task[None],
        reader: asyncio.Task[None],
    ) -> None:
        """Send what was accepted, then the Close frame; a peer that does not read is cut off
        (within ``flush_timeout`` plus ``close_timeout``, so server shutdown never hangs)."""
        processor.cancel()
        deadline = time.monotonic() + self._config.flush_timeout
        # Answers to requests already accepted go out before the Close frame.
        if self._last_job is not None:
            await asyncio.wait({self._last_job}, timeout=self._config.flush_timeout)
        await asyncio.sleep(0)  # let the last deliveries reach the outbox
        try:
            await asyncio.wait_for(self.outbox.flush(), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            self._abort("it does not read: its queued messages and Close frame cannot be sent")
            return
        # With our reader waiting in receive(), aiohttp's close() would cut the TCP connection
        # right after the Close frame; unread client bytes then make it a reset that can destroy
        # the Close frame on its way. Without a reader, close() reads (and discards) until the
        # client's Close or ``close_timeout``.
        keepalive.cancel()
        reader.cancel()
        await asyncio.gather(keepalive, reader, return_exceptions=True)
        try:
            await asyncio.wait_for(
                self._ws.close(code=self._close_code, message=_close_reason(self._close_text)),
                self._config.close_timeout + 1.0,
            )
        except Exception:  # the Close frame could not be written (the peer does not read)
            self._abort("its Close frame could not be sent")

    def deliver(self, messages: list[bytes]) -> None:
        """Queue encoded server messages (called on the event loop by the database runtime)."""
        self.outbox.put_many(messages)

    def shutdown(self, code: int = CLOSE_GOING_AWAY, reason: str = "module exited") -> None:
        """Close the connection from the server side (e.g. the server is stopping)."""
        self._request_close(code, reason)

    # ============================================================================ closing
    def _request_close(self, code: int, reason: str) -> None:
        if not self._stop.is_set():
            self._close_code, self._close_text = code, reason
            self._stop.set()

    def _drop(self) -> None:
        """Cut the TCP connection without a close frame (rejection, idle timeout)."""
        self._dropped = True
        transport = self._request.transport
        if transport is not None:
            transport.close()
        self._stop.set()

    def _drop_lagging(self) -> None:
        """The client stopped reading: abort the connection and free what waits for it."""
        self._abort(f"more than {self._config.max_outgoing_bytes} bytes wait to be sent to it")

    def _abort(self, why: str) -> None:
        log.warning("dropping %s: %s", self.connection_id, why)
        self._dropped = True
        transport = self._request.transport
        if transport is not None:
            transport.abort()  # close() would wait to flush to a peer that is not reading
        self._stop.set()

    # ============================================================================ tasks
    async def _write(self) -> None:
        try:
            await self.outbox.run()
        except (ConnectionError, RuntimeError) as exc:  # the peer went away mid-send
            log.debug("send to %s failed: %s", self.connection_id, exc)
            self._drop()

    async def _read(self) -> None:
        ws = self._ws
        while True:
            msg = await ws.receive()
            self._last_received = time.monotonic()
            kind = msg.type
            if kind is WSMsgType.BINARY:
                if self._incoming.qsize() + self._in_flight >= self._config.max_incoming_queue:
                    self._request_close(CLOSE_TRY_AGAIN_LATER, "too many requests")
                    return
                self._incoming.put_nowait(msg.data)
            elif kind is WSMsgType.TEXT:
                self._request_close(
                    CLOSE_INTERNAL_ERROR, "text messages are not supported by this protocol"
                )
                return
            elif kind is WSMsgType.PING:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.pong(msg.data)
            elif kind is WSMsgType.PONG:
                self._awaiting_pong = False
            else:  # CLOSE / CLOSING / CLOSED / ERROR: the connection is over
                return

    async def _process(self) -> None:
        try:
            while True:
                frame = await self._incoming.get()
                if self._v3:
                    await self._handle_v3_frame(frame)
                else:
                    self._handle_v2_frames(frame)
        except _ProtocolViolationError as exc:
            self._request_close(exc.code, str(exc))
        except Exception as exc:  # a bug must close this session, not leave it hanging
            log.exception("processing a frame of %s failed", self.connection_id)
            self._request_close(CLOSE_INTERNAL_ERROR, f"internal server error: {exc}")

    def _handle_v2_frames(self, frame: bytes) -> None:
        """One message per frame; frames already waiting go to the database as one batch."""
        batch: list[ClientRequest] = []
        try:
            while True:
                batch.append(_decode_one(frame))
                if len(batch) >= _DECODE_STEP or self._incoming.empty():
                    break
                frame = self._incoming.get_nowait()
        finally:
            self._dispatch(batch)  # the requests before a bad frame still run

    async def _handle_v3_frame(self, frame: bytes) -> None:
        """Messages back to back; decoded in steps, yielding to the event loop between them."""
        if not frame:
            raise _ProtocolViolationError(
                "empty v3 client frame: it must hold at least one message"
            )
        limit = self._config.max_incoming_queue
        offset = count = 0
        while offset < len(frame) and not self._stop.is_set():
            batch: list[ClientRequest] = []
            try:
                while offset < len(frame) and len(batch) < _DECODE_STEP:
                    # Every message counts, so one frame cannot queue unbounded work.
                    if count >= limit or self._incoming.qsize() + self._in_flight >= limit:
                        raise _ProtocolViolationError("too many requests", CLOSE_TRY_AGAIN_LATER)
                    message, offset = _decode_from(frame, offset)
                    batch.append(message)
                    count += 1
            finally:
                self._dispatch(batch)  # the requests before a bad message still run
            await asyncio.sleep(0)  # other clients and HTTP requests get their turn

    def _dispatch(self, batch: list[ClientRequest]) -> None:
        """Queue requests on the database thread; their answers arrive through :meth:`deliver`.

        Requests are not awaited: the database runs them in submission order and posts answers
        in that order, so several can be in flight (their count plus the frames waiting to be
        decoded is what ``max_incoming_queue`` limits).
        """
        if not batch:
            return
        job = self._runtime.submit_requests(self.identity, self.connection_id, batch)
        size = len(batch)
        self._in_flight += size
        self._last_job = job
        job.add_done_callback(functools.partial(self._job_done, size))

    def _job_done(self, size: int, job: asyncio.Future[None]) -> None:
        self._in_flight -= size
        if job.cancelled():
            return
        exc = job.exception()
        if isinstance(exc, QuerySetInUseError):
            self._request_close(CLOSE_INTERNAL_ERROR, str(exc))
        elif exc is not None:
            log.error("request of %s failed", self.connection_id, exc_info=exc)
            self._request_close(CLOSE_INTERNAL_ERROR, f"internal server error: {exc}")

    async def _keepalive(self) -> None:
        config = self._config
        next_ping = time.monotonic()  # the first ping goes out at once, like the server's
        while True:
            now = time.monotonic()
            idle_deadline = self._last_received + config.idle_timeout
            if now >= idle_deadline:
                log.info(
                    "dropping %s after %.1f s of silence", self.connection_id, config.idle_timeout
                )
                self._drop()
                return
            if now >= next_ping:
                if not self._awaiting_pong:
                    self._awaiting_pong = True
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await self._ws.ping()
                next_ping = now + config.ping_interval
            await asyncio.sleep(max(0.0, min(next_ping, idle_deadline) - time.monotonic()))
