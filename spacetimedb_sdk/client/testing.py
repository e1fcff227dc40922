"""Testing a client without a server: a connection over an in-memory socket.

::

    conn, socket = DbConnection.builder().with_uri("ws://test").with_database_name("db") \\
        .with_module(schema).build_offline()
    handle = conn.subscription_builder().subscribe("SELECT * FROM user")
    socket.sent_messages()            # [Subscribe(request_id=1, query_set_id=QuerySetId(1), ...)]
    socket.deliver(InitialConnection(identity, connection_id, "token"))
    socket.deliver(SubscribeApplied(1, QuerySetId(1), rows))   # callbacks run right here
    socket.close()                    # as if the server dropped the connection

``deliver`` accepts decoded server messages (encoded for you) or raw frames (compression tag
included), and runs the resulting callbacks on the calling thread before returning.
"""

from __future__ import annotations

import concurrent.futures
from typing import TYPE_CHECKING, Any

from spacetimedb_sdk.client.driver import Driver
from spacetimedb_sdk.frames import V2_BSATN_PROTOCOL, V3_BSATN_PROTOCOL, split_client_payload
from spacetimedb_sdk.messages import (
    ClientMessage,
    ServerMessage,
    decode_client_message,
    encode_server_message,
)

if TYPE_CHECKING:
    from spacetimedb_sdk.client.db_connection import DbConnection

__all__ = ["OfflineSocket"]


class OfflineSocket(Driver):
    """An in-memory socket standing in for the server (see the module docs)."""

    name = "offline"

    def __init__(
        self, conn: DbConnection[Any, Any, Any], protocol: str = V2_BSATN_PROTOCOL
    ) -> None:
        self._conn = conn
        self.protocol = protocol
        #: Every frame the client wrote, in order.
        self.frames: list[bytes] = []
        self._taken = 0
        self._depth = 0
        self._close_pending = False
        self.open = True
        conn._attach(self)
        conn._core.connection_opened(protocol)

    # ------------------------------------------------------------------------------ client side
    def wake(self) -> None:
        if self.open:
            self.frames.extend(self._conn._core.data_to_send())

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
            self._run(lambda: self._conn._socket_closed(None))

    def in_callback_thread(self) -> bool:
        return self._depth > 0

    def wait_for(self, future: concurrent.futures.Future[Any], timeout: float | None) -> None:
        return  # nothing can arrive while the caller blocks: the test delivers messages

    def wait_closed(self, timeout: float | None = None) -> bool:
        return self._conn.is_closed

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
        self._run(lambda: self._conn._process_frame(frame))

    def deliver_v3(self, messages: list[ServerMessage]) -> None:
        """Several messages in one (uncompressed) v3 frame."""
        frame = b"\x00" + b"".join(encode_server_message(m) for m in messages)
        self._run(lambda: self._conn._process_frame(frame))

    def close(self, error: BaseException | None = None) -> bool:
        """The server side drops the socket; True when the client wants to reconnect."""
        self.open = False
        result: bool = self._run(lambda: self._conn._socket_closed(error))
        return result

    def reconnect(self) -> None:
        """Simulate a successful reconnect: the client replays its subscriptions."""
        core = self._conn._core
        core.begin_reconnect()
        core.connection_opened(self.protocol)
        self.open = True
        self.wake()

    def give_up(self, error: BaseException | None = None) -> None:
        """Simulate reconnecting failing for good."""
        self._run(lambda: self._conn._give_up(error))
