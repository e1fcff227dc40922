"""The aiohttp application of the local server: routes, CORS, and the shared state.

HTTP routes and the WebSocket endpoint share one port. CORS allows any origin and method and
the headers ``Authorization``, ``Accept`` and ``Content-Type`` (docs/protocol.md#http-conventions); preflight
``OPTIONS`` requests are answered directly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import hdrs, web

from spacetimedb_sdk.local_server.http_routes import add_http_routes
from spacetimedb_sdk.local_server.server_state import STATE_KEY, ServerState
from spacetimedb_sdk.local_server.subscribe_route import add_subscribe_route

__all__ = ["MAX_HTTP_BODY", "build_app"]

#: Largest HTTP request body (bigger: 413), the real server's default for its SQL and call
#: routes; it also bounds the memory and time one request can spend parsing JSON.
MAX_HTTP_BODY: Final = 2 * 1024 * 1024

_CORS_HEADERS: Final = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "*",
    "Access-Control-Allow-Headers": "Authorization, Accept, Content-Type",
    "Access-Control-Expose-Headers": "*",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if (
        request.method == hdrs.METH_OPTIONS
        and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
    ):
        return web.Response(status=200, headers=_CORS_HEADERS)
    response = await handler(request)
    if not response.prepared:  # a WebSocket answer is already on the wire
        response.headers.update(_CORS_HEADERS)
    return response


def build_app(state: ServerState) -> web.Application:
    """The application serving ``state``'s databases."""
    app = web.Application(middlewares=[_cors], client_max_size=MAX_HTTP_BODY)
    app[STATE_KEY] = state
    add_http_routes(app)
    add_subscribe_route(app)
    return app
