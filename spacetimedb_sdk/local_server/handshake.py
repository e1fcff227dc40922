"""Before the WebSocket upgrade: query parameters and subprotocol choice (docs/protocol.md#connecting).

Pure functions, so the rules are testable without sockets:

* :func:`parse_subscribe_params` decodes ``compression`` / ``light`` / ``confirmed`` /
  ``connection_id`` together, as the server's single query-string decoder does: one bad value
  rejects the handshake with 400 and a text naming the failure. Unknown parameters are ignored;
  values are case-sensitive.
* :func:`select_subprotocol` walks the *server's* preference order (v3, v2) and takes the first
  protocol the client offered, whatever the client's own order. None offered gives 400
  ``no valid protocol selected``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from spacetimedb_sdk.compression import Compression
from spacetimedb_sdk.errors import SpacetimeDBError
from spacetimedb_sdk.frames import V2_BSATN_PROTOCOL, V3_BSATN_PROTOCOL
from spacetimedb_sdk.identity import ConnectionId

__all__ = [
    "NO_VALID_PROTOCOL",
    "SERVER_PROTOCOL_PREFERENCE",
    "ZERO_CONNECTION_ID_TEXT",
    "HandshakeError",
    "SubscribeParams",
    "offered_subprotocols",
    "parse_subscribe_params",
    "select_subprotocol",
]

#: The subprotocols this server speaks, most preferred first (v1 is not implemented).
SERVER_PROTOCOL_PREFERENCE: Final = (V3_BSATN_PROTOCOL, V2_BSATN_PROTOCOL)
#: Body of the 400 answer when no offered subprotocol is supported.
NO_VALID_PROTOCOL: Final = "no valid protocol selected"
#: Body of the 400 answer for ``connection_id=000…0``.
ZERO_CONNECTION_ID_TEXT: Final = "Invalid connection ID: the all-zeros ConnectionId is reserved."

_BOOL_VALUES: Final = {"true": True, "false": False}
_CONNECTION_ID: Final = re.compile(r"\A[0-9a-fA-F]{32}\Z")


class HandshakeError(SpacetimeDBError):
    """The upgrade request is refused with HTTP ``status`` and the plain-text body ``str(e)``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class SubscribeParams:
    """The decoded query parameters of ``/subscribe``.

    ``confirmed`` is None when absent (v2/v3 then default to confirmed reads, which this
    server always provides: every commit is durable before anyone hears of it).
    ``connection_id`` is None when absent (the server picks a random one). It may be zero here;
    the caller rejects zero later, in the order the real server checks things.
    """

    compression: Compression = Compression.BROTLI
    light: bool = False
    confirmed: bool | None = None
    connection_id: ConnectionId | None = None


def _query_error(detail: str) -> HandshakeError:
    return HandshakeError(f"Failed to deserialize query string: {detail}")


def _parse_bool(name: str, value: str) -> bool:
    try:
        return _BOOL_VALUES[value]
    except KeyError:
        raise _query_error(
            f"{name}: provided string was not `true` or `false` (got `{value}`)"
        ) from None


def parse_subscribe_params(query: Mapping[str, str]) -> SubscribeParams:
    """Decode the handshake's query parameters (raises :class:`HandshakeError`, status 400)."""
    compression = Compression.BROTLI
    raw = query.get("compression")
    if raw is not None:
        try:
            compression = Compression(raw)
        except ValueError:
            raise _query_error(
                f"compression: unknown variant `{raw}`, expected one of `None`, `Brotli`, `Gzip`"
            ) from None
    light = _parse_bool("light", query["light"]) if "light" in query else False
    confirmed = _parse_bool("confirmed", query["confirmed"]) if "confirmed" in query else None
    connection_id = None
    raw = query.get("connection_id")
    if raw is not None:
        if not _CONNECTION_ID.match(raw):
            raise _query_error(f"connection_id: invalid connection id `{raw}` (32 hex digits)")
        connection_id = ConnectionId.from_hex(raw)
    return SubscribeParams(compression, light, confirmed, connection_id)


def offered_subprotocols(headers: Iterable[str]) -> list[str]:
    """The protocols listed in every ``Sec-WebSocket-Protocol`` header value, in order."""
    offered: list[str] = []
    for value in headers:
        offered.extend(p.strip() for p in value.split(",") if p.strip())
    return offered


def select_subprotocol(
    offered: Iterable[str], supported: Iterable[str] = SERVER_PROTOCOL_PREFERENCE
) -> str:
    """The first protocol of ``supported`` (server order) that the client offered."""
    offered_set = set(offered)
    for protocol in supported:
        if protocol in offered_set:
            return protocol
    raise HandshakeError(NO_VALID_PROTOCOL)
