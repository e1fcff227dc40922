"""A WebSocket client on a bare socket, for tests that must misbehave: never read, send broken
frames, or look at exactly which bytes (and close frame) the server sends back."""

from __future__ import annotations

import base64
import os
import socket
import struct
from dataclasses import dataclass

from tests.local_server_support import V3

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def frame(payload: bytes, opcode: int = OP_BINARY, *, fin: bool = True, rsv: int = 0) -> bytes:
    """One client frame (masked, as RFC 6455 requires of clients)."""
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = os.urandom(4)
    masked = (
        bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else _mask(payload, mask)
    )
    return head + mask + masked


def _mask(payload: bytes, mask: bytes) -> bytes:
    key = int.from_bytes((mask * (len(payload) // 4 + 1))[: len(payload)], "big")
    return (int.from_bytes(payload, "big") ^ key).to_bytes(len(payload), "big")


@dataclass
class ServerFrame:
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        """The status code of a close frame (None if it has none)."""
        if self.opcode != OP_CLOSE or len(self.payload) < 2:
            return None
        code: int = struct.unpack("!H", self.payload[:2])[0]
        return code


class RawSocketClient:
    """A socket that did the WebSocket upgrade and does nothing else unless told."""

    def __init__(self, sock: socket.socket, leftover: bytes) -> None:
        self.sock = sock
        self._buffer = leftover

    @classmethod
    def connect(
        cls,
        port: int,
        path: str = "/v1/database/chat/subscribe?compression=None",
        protocol: str = V3,
        *,
        receive_buffer: int | None = None,
        timeout: float = 10.0,
    ) -> RawSocketClient:
        """Upgrade a fresh connection (``receive_buffer`` shrinks SO_RCVBUF before connecting)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: Upgrade\r\n"
            f"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Protocol: {protocol}\r\n\r\n"
        )
        sock.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"no upgrade answer: {data!r}")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"upgrade refused: {head!r}")
        return cls(sock, rest)

    def send(self, payload: bytes, opcode: int = OP_BINARY) -> None:
        """Send one masked frame."""
        self.sock.sendall(frame(payload, opcode))

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are."""
        self.sock.sendall(data)

    def _read_exact(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the server closed the TCP connection")
            self._buffer += chunk
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return out

    def receive(self) -> ServerFrame:
        """The next frame from the server (EOFError when the TCP connection ends)."""
        b0, b1 = self._read_exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read_exact(8))[0]
        return ServerFrame(b0 & 0x0F, self._read_exact(n))

    def read_until_close(self, answer_pings: bool = True) -> ServerFrame | None:
        """Read frames until the server's close frame (returned) or the end of TCP (None)."""
        while True:
            try:
                got = self.receive()
            except (EOFError, ConnectionResetError):
                return None
            if got.opcode == OP_CLOSE:
                return got
            if got.opcode == OP_PING and answer_pings:
                self.send(got.payload, OP_PONG)

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()
