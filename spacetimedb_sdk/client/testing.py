"""Testing a client without a server: a connection over an in-memory socket.

::

    builder = DbConnection.builder().with_uri("ws://test").with_database_name("db") \\
        .with_module(schema)
    conn, socket = build_offline(builder)     # or: builder.build(OfflineSocket())
    handle = conn.subscription_builder().subscribe("SELECT * FROM user")
    socket.sent_messages()            # [SubscribeMsg(request_id=1, query_set_id=QuerySetId(1), ...)]
    socket.deliver(InitialConnectionMsg(identity, connection_id, "token"))
    socket.deliver(SubscribeAppliedMsg(1, QuerySetId(1), rows))   # callbacks run right here
    socket.close()                    # as if the server dropped the connection

``deliver`` accepts decoded server messages (encoded for you) or raw frames (compression tag
included), and runs the resulting callbacks on the calling thread before returning.
"""

from __future__ import annotations

import concurrent.futures
from typing import TYPE_CHECKING, Any, TypeVar

from spacetimedb_sdk.client.driver import Driver
from spacetimedb_sdk.core.lifecycle import GiveUp, Wait
from spacetimedb_sdk.frames import V2_BSATN_PROTOCOL, V3_BSATN_PROTOCOL, split_client_payload
from spacetimedb_sdk.messages import (
    ClientMessage,
    ServerMessage,
    decode_client_message,
    encode_server_message,
)

if TYPE_CHECKING:
    from spacetimedb_sdk.client.db_connection import DbConnection, DbConnectionBuilder
    from spacetimedb_sdk.client.session import Session

__all__ = ["OfflineSocket", "build_offline"]

C = TypeVar("C", bound="DbConnection[Any, Any, Any]")


def build_offline(
    builder: DbConnectionBuilder[C], protocol: str = V2_BSATN_PROTOCOL
) -> tuple[C, Any]:
    """Build ``builder``'s connection over a new :class:`OfflineSocket`: ``(conn, socket)``
    (the socket typed loosely, so a test reads the fields of the messages it took directly)."""
    socket = OfflineSocket(protocol)
    return builder.build(socket), socket


class OfflineSocket(Driver):
    """An in-memory socket standing in for the server (see the module docs)."""

    name = "offline"

    def __init__(self, protocol: str = V2_BSATN_PROTOCOL) -> None:
        self._session: Session | None = None
        self.protocol = protocol
        #: Every frame the client wrote, in order.
        self.frames: list[bytes] = []
        self._taken = 0
        self._depth = 0
        self._close_pending = False
        self.open = False

    @property
    def session(self) -> Session:
        """The session this socket drives (once built)."""
        if self._session is None:
            raise RuntimeError("the socket is not connected: build(OfflineSocket()) first")
        return self._session

    def connect(self, session: Session) -> None:
        """The socket "opens" at once with :attr:`protocol`."""
        self._session = session
        self.open = True
        session.opened(self.protocol)

    # ------------------------------------------------------------------------------ client side
    def wake(self) -> None:
        if self.open and self._session is not None:
            self.frames.extend(self._session.data_to_send())

    def sent_messages(self) -> list[ClientMessage]:
        """Every client message sent so far, decoded."""
        out: list[ClientMessage] = []
        for frame in self.frames:
            if self.protocol == V3_BSATN_PROTOCOL:
                out.extend(split_client_payload(frame))
            else:
                out.append(decode_client_message(frame))
        return out

    def take_sent(self) -> list[ClientMessage]:
        """The client messages sent since the last ``take_sent``."""
        messages = self.sent_messages()
        new = messages[self._taken :]
        self._taken = len(messages)
        return new

    def request_close(self) -> None:
        self._close_pending = True
        if not self._depth:
            self._finish_close()

    def _finish_close(self) -> None:
        if self._close_pending and self.open:
            self._close_pending = False
            self.open = False
            self._run(lambda: self.session.closed(None))

    def in_callback_thread(self) -> bool:
        return self._depth > 0

    def wait_for(self, future: concurrent.futures.Future[Any], timeout: float | None) -> None:
        return  # nothing can arrive while the caller blocks: the test delivers messages

    def wait_closed(self, timeout: float | None = None) -> bool:
        return self.session.is_closed

    # ------------------------------------------------------------------------------ server side
    def _run(self, action: Any) -> Any:
        self._depth += 1
        try:
            return action()
        finally:
            self._depth -= 1
            if not self._depth:
                self._finish_close()

    def deliver(self, message: ServerMessage | bytes | bytearray) -> None:
        """Hand the client one server message (or raw frame); its callbacks run now."""
        if isinstance(message, (bytes, bytearray)):
            frame = bytes(message)
        else:
            frame = b"\x00" + encode_server_message(message)
        self._run(lambda: self.session.frame_received(frame))

    def deliver_v3(self, messages: list[ServerMessage]) -> None:
        """Several messages in one (uncompressed) v3 frame."""
        frame = b"\x00" + b"".join(encode_server_message(m) for m in messages)
        self._run(lambda: self.session.frame_received(frame))

    def close(self, error: BaseException | None = None) -> bool:
        """The server side drops the socket; True when the client wants to reconnect."""
        self.open = False
        action = self._run(lambda: self.session.closed(error))
        return isinstance(action, Wait)

    def reconnect(self) -> None:
        """Simulate a successful reconnect: the client replays its subscriptions."""
        session = self.session
        session.waited(False)  # the wait is over: the session prepares the replay
        session.opened(self.protocol)
        self.open = True
        self.wake()

    def give_up(self, error: BaseException | None = None) -> None:
        """Simulate reconnecting failing for good."""
        self._run(lambda: self.session.give_up(GiveUp(error)))
