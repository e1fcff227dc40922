"""What a driver sees of its connection: the session boundary.

A driver (:mod:`~spacetimedb_sdk.sync.connection`, :mod:`~spacetimedb_sdk.asyncio.connection`,
:mod:`~spacetimedb_sdk.client.testing`) owns a socket and a callback thread and talks to its
connection only through a :class:`Session`:

* where and how to connect: ``url``, ``headers()``, ``SUBPROTOCOLS``, ``options``;
* what happened: ``opened(subprotocol)``, ``open_failed(error)`` / ``connect_failed(error)``,
  ``frame_received(frame)``, ``closed(error)``, ``waited(stopped)``;
* what to send: ``data_to_send()``.

The answers are the actions of :mod:`spacetimedb_sdk.core.lifecycle` (open, wait, serve, give
up), which the driver carries out; ``reconnecting(wait)`` and ``give_up(action)`` report them
on the callback thread. The helpers that turn WebSocket failures into the client's errors
(:func:`handshake_error`, :func:`close_error`) live here too, shared by both drivers.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from websockets.exceptions import InvalidStatus

from spacetimedb_sdk.client.call_future import CallFuture
from spacetimedb_sdk.client.errors import MessageProcessingError
from spacetimedb_sdk.client.events import ErrorContext
from spacetimedb_sdk.core.effects import Connected, ProtocolViolation
from spacetimedb_sdk.core.errors import ConnectError, DisconnectedError
from spacetimedb_sdk.core.lifecycle import ConnectionLifecycle, GiveUp, Open, Serve, Wait
from spacetimedb_sdk.errors import ProtocolError
from spacetimedb_sdk.frames import V2_BSATN_PROTOCOL, V3_BSATN_PROTOCOL

if TYPE_CHECKING:
    from spacetimedb_sdk.client.db_connection import ConnectionConfig, DbConnection
    from spacetimedb_sdk.client.dispatch import Dispatcher
    from spacetimedb_sdk.core.connection import ConnectionCore

__all__ = ["SUBPROTOCOLS", "Session", "SocketOptions", "close_error", "handshake_error"]

#: The subprotocols offered, in order (the server picks by its own preference: v3, then v2).
SUBPROTOCOLS = (V3_BSATN_PROTOCOL, V2_BSATN_PROTOCOL)


@dataclass(frozen=True)
class SocketOptions:
    """How to open the socket (seconds; None disables; ``max_message_size`` None: no limit)."""

    open_timeout: float | None
    ping_interval: float | None
    ping_timeout: float | None
    max_message_size: int | None


class Session:
    """One connection as its driver sees it (see the module docs)."""

    SUBPROTOCOLS = SUBPROTOCOLS

    def __init__(
        self,
        conn: DbConnection[Any, Any, Any],
        config: ConnectionConfig,
        core: ConnectionCore,
        dispatcher: Dispatcher,
    ) -> None:
        self._conn = conn
        self._config = config
        self._core = core
        self._dispatcher = dispatcher
        policy = config.reconnect
        self.lifecycle = ConnectionLifecycle(core, policy.delays if policy is not None else None)
        self.options = SocketOptions(
            config.open_timeout, config.ping_interval, config.ping_timeout, config.max_message_size
        )
        self._closed = threading.Event()
        self._connect_error: BaseException | None = None
        #: Completes once ``on_connect`` ran; fails on connect errors.
        self.connected_future: CallFuture[DbConnection[Any, Any, Any]] = CallFuture(conn, "connect")
        self.connected_future._observed = True
        dispatcher.on_connected = self._connected

    # ------------------------------------------------------------------------ where to connect
    @property
    def url(self) -> str:
        """The WebSocket URL."""
        return self._config.url()

    def headers(self) -> dict[str, str]:
        """The handshake's request headers (the current token, if any)."""
        return self._config.headers(self._core.token)

    # --------------------------------------------------------------------------- the socket
    def opened(self, subprotocol: str | None) -> Serve | GiveUp:
        """The socket opened with ``subprotocol``; raises ConnectError when it is not one we
        speak (close the socket then). ``GiveUp``: a close was requested meanwhile."""
        try:
            self._core.connection_opened(subprotocol or V2_BSATN_PROTOCOL)
        except ProtocolError as exc:
            raise ConnectError(str(exc)) from exc
        return self.lifecycle.opened()

    def data_to_send(self) -> list[bytes]:
        """The frames to write now, in order."""
        return self._core.data_to_send()

    def frame_received(self, frame: bytes | bytearray | memoryview | str) -> None:
        """Apply one received frame and run its callbacks (callback thread), one server
        message at a time: each message's callbacks see the cache right after that message."""
        dispatch = self._dispatcher.dispatch
        if isinstance(frame, str):
            dispatch([ProtocolViolation(ProtocolError("the server sent a text frame"))])
            return
        try:
            for effects in self._core.receive_frame_by_message(frame):
                dispatch(effects)
        except Exception as exc:  # a bug must not kill the callback thread or the loop
            self._processing_failed(exc)

    def _processing_failed(self, exc: Exception) -> None:
        """Applying a message raised: report it and close the connection with the error.

        The message may be half applied (the cache no longer trusted) and its answers lost, so
        continuing would leave calls waiting forever; closing fails them with
        DisconnectedError and hands the error to ``on_disconnect``.
        """
        error = MessageProcessingError(exc)
        self._dispatcher.log.error("%s", error, exc_info=exc)
        self._dispatcher.report_error(error, "processing a server message", logged=True)
        if self._connect_error is None:
            self._connect_error = error
        self._conn.disconnect()

    def close_error(
        self, code: int | None, reason: str, cause: BaseException | None = None
    ) -> DisconnectedError | None:
        """Why the socket closed (None for a clean close the client asked for)."""
        return close_error(code, reason, self.lifecycle.closing, cause)

    # ------------------------------------------------------------------------ the lifecycle
    @property
    def closing(self) -> bool:
        """True once ``disconnect()`` was called."""
        return self.lifecycle.closing

    @property
    def is_closed(self) -> bool:
        """True once closed for good (``on_disconnect`` / ``on_connect_error`` ran)."""
        return self._closed.is_set()

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Block until closed for good; False on timeout."""
        return self._closed.wait(timeout)

    def request_close(self) -> bool:
        """``disconnect()``: refuse new requests; False when already closing."""
        if not self.lifecycle.request_close():
            return False
        self._core.close()
        return True

    def connect_failed(self, error: ConnectError) -> None:
        """Connecting failed (callback thread, or the building thread)."""
        if self._closed.is_set():
            return
        self._connect_error = error
        dispatcher = self._dispatcher
        dispatcher.dispatch(self._core.connection_lost(error, will_reconnect=False))
        ctx = ErrorContext(self._conn, error)
        for cb in list(self._config.on_connect_error):
            dispatcher.invoke("on_connect_error", cb, ctx, error)
        if not self._config.on_connect_error:
            dispatcher.log.error("connecting failed: %s", error)
        self.connected_future._set_exception(ctx, error)
        self._closed.set()

    def closed(self, error: BaseException | None) -> Wait | GiveUp:
        """The socket closed (callback thread): a :class:`Wait` to start reconnecting, or the
        :class:`GiveUp` that was just reported."""
        action = self.lifecycle.socket_closed(error)
        if isinstance(action, Wait):
            self._dispatcher.dispatch(self._core.connection_lost(error, will_reconnect=True))
        else:
            self.give_up(action)
        return action

    def reconnecting(self, wait: Wait) -> None:
        """Run ``on_reconnecting`` for ``wait`` (callback thread)."""
        for cb in list(self._config.on_reconnecting):
            self._dispatcher.invoke(
                "on_reconnecting", cb, self._conn, wait.attempt, wait.delay, wait.error
            )

    def waited(self, stopped: bool) -> Open | GiveUp:
        """A reconnect wait ended (``stopped``: a close request ended it)."""
        return self.lifecycle.waited(stopped)

    def open_failed(self, error: ConnectError) -> Wait | GiveUp:
        """Opening a reconnect attempt's socket failed."""
        return self.lifecycle.open_failed(error)

    def give_up(self, action: GiveUp) -> None:
        """The connection is over (callback thread): report it."""
        error = action.error
        if not action.set_up:
            self.connect_failed(
                error
                if isinstance(error, ConnectError)
                else ConnectError(
                    "the connection closed before it was set up"
                    + (f": {error}" if error else " (the module may have refused the client)")
                )
            )
            return
        self._dispatcher.dispatch(self._core.connection_lost(error, will_reconnect=False))
        if self._closed.is_set():
            return
        reported = self._connect_error if error is None else error
        if self.lifecycle.closing and isinstance(reported, DisconnectedError):
            reported = None
        ctx = ErrorContext(self._conn, reported)
        for cb in list(self._config.on_disconnect):
            self._dispatcher.invoke("on_disconnect", cb, ctx, reported)
        self._dispatcher.log.info("disconnected%s", f": {reported}" if reported else "")
        self.connected_future._set_exception(ctx, DisconnectedError("the connection closed"))
        self._closed.set()

    def _connected(self, effect: Connected) -> None:
        error = self.lifecycle.connected(effect.identity, effect.reconnected)
        dispatcher = self._dispatcher
        if error is not None:
            dispatcher.report_error(error, "reconnect")
            self._connect_error = error
            self._conn.disconnect()
            return
        if effect.reconnected:
            for cb in list(self._config.on_reconnected):
                dispatcher.invoke("on_reconnected", cb, self._conn, effect.identity, effect.token)
            return
        for cb in list(self._config.on_connect):
            dispatcher.invoke("on_connect", cb, self._conn, effect.identity, effect.token)
        self.connected_future._set_result(None, self._conn)


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
