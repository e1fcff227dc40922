"""A token store compatible with the Rust SDK's ``credentials::File``.

``File(key)`` keeps one token at ``~/.spacetimedb_client_credentials/<key>`` as the BSATN of the
product ``{token: String}`` (a u32 little-endian length, then UTF-8), which is exactly what the
Rust SDK writes, so both SDKs can share a saved identity. Files are written atomically (a
temporary file in the same directory, flushed, then renamed over the old one) with permissions
0600 in a 0700 directory.

Save the token ``on_connect`` hands you: it is the long-lived one (a short-lived websocket token
is never handed out in its place).
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
from pathlib import Path

from spacetimedb_sdk.errors import BsatnDecodeError

__all__ = ["CREDENTIALS_DIR_NAME", "CredentialsFile", "File", "decode_token", "encode_token"]

#: The directory under the home directory the Rust SDK uses.
CREDENTIALS_DIR_NAME = ".spacetimedb_client_credentials"
_LEN = struct.Struct("<I")


def encode_token(token: str) -> bytes:
    """The BSATN of ``{token: String}``."""
    data = token.encode("utf-8")
    return _LEN.pack(len(data)) + data


def decode_token(data: bytes) -> str:
    """Read the BSATN of ``{token: String}`` (strict)."""
    if len(data) < 4:
        raise BsatnDecodeError("credentials file is truncated", len(data))
    (length,) = _LEN.unpack_from(data)
    if len(data) != 4 + length:
        raise BsatnDecodeError(
            f"credentials file holds {len(data) - 4} byte(s) after the length prefix, "
            f"expected {length}",
            4,
        )
    try:
        return data[4:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BsatnDecodeError(f"credentials file token is not UTF-8: {exc}", 4) from None


class File:
    """One saved token, named by ``key`` (use a different key per server or database)."""

    def __init__(self, key: str, directory: str | os.PathLike[str] | None = None) -> None:
        if not key or "/" in key or "\\" in key or key in (".", ".."):
            raise ValueError(f"invalid credentials key {key!r}")
        self.key = key
        base = Path(directory) if directory is not None else Path.home() / CREDENTIALS_DIR_NAME
        #: Where the token is stored.
        self.path = base / key

    def save(self, token: str) -> None:
        """Store ``token``, replacing any previous one atomically (mode 0600)."""
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.key}.", dir=directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(encode_token(token))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with contextlib.suppress(OSError):  # make the rename durable where directories sync
            dir_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def load(self) -> str | None:
        """The stored token, or None when nothing was saved (a corrupt file raises)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        return decode_token(data)

    def clear(self) -> None:
        """Forget the stored token (no error when there is none)."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __repr__(self) -> str:
        return f"credentials.File({self.key!r}, path={str(self.path)!r})"


#: A descriptive alias of :class:`File`.
CredentialsFile = File
