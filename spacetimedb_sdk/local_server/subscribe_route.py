"""``GET /v1/database/<name_or_identity>/subscribe``: the WebSocket upgrade (docs/protocol.md#connecting).

Checks run in the real server's order, the first failure answering with a plain-text HTTP error
instead of the upgrade: credentials (401/400), the path segment (400), the query parameters
(400), the upgrade headers (400), an all-zero ``connection_id`` (400), the database (404), the
subprotocol (400 ``no valid protocol selected``). The subprotocol is chosen by the server's
preference (v3, then v2), not the client's order; no extension (permessage-deflate) is
negotiated. The 101 answer carries ``spacetime-identity`` / ``spacetime-identity-token``.
"""

from __future__ import annotations

from aiohttp import hdrs, web

from spacetimedb_sdk.identity import ConnectionId
from spacetimedb_sdk.local_server.auth import AuthError
from spacetimedb_sdk.local_server.database_address import (
    InvalidDatabaseAddressError,
    not_found_text,
    parse_database_address,
)
from spacetimedb_sdk.local_server.handshake import (
    ZERO_CONNECTION_ID_TEXT,
    HandshakeError,
    offered_subprotocols,
    parse_subscribe_params,
    select_subprotocol,
)
from spacetimedb_sdk.local_server.request_auth import authenticate, caller_headers
from spacetimedb_sdk.local_server.server_state import STATE_KEY
from spacetimedb_sdk.local_server.websocket_session import WebSocketSession

__all__ = ["add_subscribe_route", "subscribe"]


def _refuse(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain")


async def subscribe(request: web.Request) -> web.StreamResponse:
    """Validate the handshake, upgrade, and serve the session until it ends."""
    state = request.app[STATE_KEY]
    try:
        caller = authenticate(state.issuer, request.headers, request.query, mint_anonymous=True)
    except AuthError as exc:
        return _refuse(exc.status, str(exc))
    assert caller is not None
    try:
        address = parse_database_address(request.match_info["database"])
        params = parse_subscribe_params(request.query)
    except (InvalidDatabaseAddressError, HandshakeError) as exc:
        return _refuse(400, str(exc))
    offered = offered_subprotocols(request.headers.getall(hdrs.SEC_WEBSOCKET_PROTOCOL, ()))
    probe = web.WebSocketResponse(compress=False, protocols=offered)
    if not probe.can_prepare(request).ok:
        return _refuse(400, "Expected a WebSocket upgrade request")
    if params.connection_id is not None and params.connection_id.is_zero():
        return _refuse(400, ZERO_CONNECTION_ID_TEXT)
    runtime = state.find_database(address)
    if runtime is None:
        return _refuse(404, not_found_text(address))
    try:
        protocol = select_subprotocol(offered)
    except HandshakeError as exc:
        return _refuse(exc.status, str(exc))
    if state.stopping:
        return _refuse(503, "the server is shutting down")

    config = state.session_config
    # Offer aiohttp only the protocol we chose, so the client's order cannot override ours.
    ws = web.WebSocketResponse(
        protocols=(protocol,),
        compress=False,
        autoping=False,
        max_msg_size=config.max_message_size + 1,  # aiohttp refuses sizes >= its limit
        timeout=config.close_timeout,
        decode_text=False,  # a text frame is refused (1011) whatever its encoding
    )
    ws.headers.update(caller_headers(caller))
    await ws.prepare(request)
    connection_id = params.connection_id or ConnectionId.random()
    session = WebSocketSession(
        request, ws, runtime, caller, connection_id, protocol, params.compression, config
    )
    state.sessions.add(session)
    try:
        await session.run()
    finally:
        state.sessions.discard(session)
    return ws


def add_subscribe_route(app: web.Application) -> None:
    """Register the WebSocket endpoint."""
    app.router.add_get("/v1/database/{database}/subscribe", subscribe)
