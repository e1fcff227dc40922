"""The HTTP API of the local server (docs/protocol.md#http-api, docs/module-def.md#schema-endpoint).

Identity routes (``/v1/identity…``) and ``/v1/ping`` never mint identities and never add
``spacetime-identity*`` headers. Database routes run "anonymous auth": without credentials a
fresh identity is minted for the request, and every answer (errors included, once the caller is
known) carries ``spacetime-identity`` / ``spacetime-identity-token``. Error bodies are plain
text.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any, Final

from aiohttp import web

from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.local_server.auth import PUBLIC_KEY_CONTENT_TYPE, AuthError
from spacetimedb_sdk.local_server.database_address import (
    InvalidDatabaseAddressError,
    not_found_text,
    parse_database_address,
)
from spacetimedb_sdk.local_server.database_runtime import DatabaseRuntime, HttpAnswer
from spacetimedb_sdk.local_server.request_auth import (
    Caller,
    authenticate,
    caller_headers,
    presented_token,
)
from spacetimedb_sdk.local_server.server_state import STATE_KEY, ServerState

__all__ = ["add_http_routes"]

_HEX_IDENTITY: Final = re.compile(r"\A[0-9a-fA-F]{64}\Z")
#: JSON bodies up to this size are parsed on the event loop; bigger ones in a thread.
_PARSE_INLINE: Final = 64 * 1024
_JSON: Final = "application/json"


def _text(status: int, body: str = "", headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=body, content_type="text/plain", headers=headers)


def _json(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps(value, separators=(",", ":")),
        content_type=_JSON,
        headers=headers,
    )


def _state(request: web.Request) -> ServerState:
    return request.app[STATE_KEY]


def _auth_failure(exc: AuthError) -> web.Response:
    return _text(exc.status, str(exc))


# ================================================================================ identity


async def create_identity(request: web.Request) -> web.Response:
    """``POST /v1/identity``: a brand-new identity and its token (no auth, no body read)."""
    claims, token = _state(request).issuer.mint_anonymous()
    return _json({"identity": claims.identity.to_hex(), "token": token})


async def websocket_token(request: web.Request) -> web.Response:
    """``POST /v1/identity/websocket-token``: a 60-second token for the same identity."""
    issuer = _state(request).issuer
    try:
        token = presented_token(request.headers, request.query)
        if token is None:
            return _text(401, "Authorization required")
        claims = issuer.validate(token)
    except AuthError as exc:
        return _auth_failure(exc)
    return _json({"token": issuer.websocket_token(claims)})


async def public_key(request: web.Request) -> web.Response:
    """``GET /v1/identity/public-key``: the PEM of the token-signing key."""
    return web.Response(
        body=_state(request).issuer.public_key_pem,
        headers={"Content-Type": PUBLIC_KEY_CONTENT_TYPE},
    )


def _path_identity(request: web.Request) -> Identity | web.Response:
    text = request.match_info["identity"]
    if not _HEX_IDENTITY.match(text):
        return _text(400, f"Invalid identity: `{text}` (64 hex digits expected)")
    return Identity.from_hex(text)


async def verify_identity(request: web.Request) -> web.Response:
    """``GET /v1/identity/<identity>/verify``: 204 when the token belongs to ``<identity>``."""
    identity = _path_identity(request)
    if isinstance(identity, web.Response):
        return identity
    try:
        caller = authenticate(
            _state(request).issuer, request.headers, request.query, mint_anonymous=False
        )
    except AuthError as exc:
        return _auth_failure(exc)
    if caller is None:
        return _text(401, "Authorization required")
    if caller.identity != identity:
        return _text(400, "Identity does not match the token")
    return web.Response(status=204)


async def owned_databases(request: web.Request) -> web.Response:
    """``GET /v1/identity/<identity>/databases``: identities of the databases it owns."""
    identity = _path_identity(request)
    if isinstance(identity, web.Response):
        return identity
    owned = [
        db.identity.to_hex()
        for db in _state(request).databases.values()
        if db.owner_identity == identity
    ]
    return _json({"identities": owned})


async def ping(request: web.Request) -> web.Response:
    """``GET /v1/ping``: 200 with an empty body (a supplied token must be valid)."""
    try:
        authenticate(_state(request).issuer, request.headers, request.query, mint_anonymous=False)
    except AuthError as exc:
        return _auth_failure(exc)
    return web.Response(status=200)


# ================================================================================ databases


def _database_request(
    request: web.Request,
) -> tuple[Caller, DatabaseRuntime] | web.Response:
    state = _state(request)
    try:
        caller = authenticate(state.issuer, request.headers, request.query, mint_anonymous=True)
    except AuthError as exc:
        return _auth_failure(exc)
    assert caller is not None
    try:
        address = parse_database_address(request.match_info["database"])
    except InvalidDatabaseAddressError as exc:
        return _text(400, str(exc), caller_headers(caller))
    database = state.find_database(address)
    if database is None:
        return _text(404, not_found_text(address), caller_headers(caller))
    return caller, database


def _answer(answer: HttpAnswer, caller: Caller) -> web.Response:
    headers = {**caller_headers(caller), **answer.headers}
    return web.Response(
        status=answer.status,
        text=answer.body,
        headers={**headers, "Content-Type": answer.content_type},
    )


async def database_info(request: web.Request) -> web.Response:
    """``GET /v1/database/<db>``: identities, host type, module hash (SATS-JSON typed)."""
    found = _database_request(request)
    if isinstance(found, web.Response):
        return found
    caller, database = found
    return _json(database.info_json(), headers=caller_headers(caller))


async def database_identity(request: web.Request) -> web.Response:
    """``GET /v1/database/<db>/identity``: the database identity as 64 hex digits."""
    state = _state(request)
    try:
        caller = authenticate(state.issuer, request.headers, request.query, mint_anonymous=True)
    except AuthError as exc:
        return _auth_failure(exc)
    assert caller is not None
    try:
        address = parse_database_address(request.match_info["database"])
    except InvalidDatabaseAddressError as exc:
        return _text(400, str(exc), caller_headers(caller))
    if isinstance(address, Identity):  # echoed without checking that it exists
        return _text(200, address.to_hex(), caller_headers(caller))
    database = state.find_database(address)
    if database is None:
        return _text(404, not_found_text(address), caller_headers(caller))
    return _text(200, database.identity.to_hex(), caller_headers(caller))


async def database_names(request: web.Request) -> web.Response:
    """``GET /v1/database/<db>/names``: the names the database is registered under."""
    found = _database_request(request)
    if isinstance(found, web.Response):
        return found
    caller, database = found
    return _json({"names": [database.name]}, headers=caller_headers(caller))


async def database_schema(request: web.Request) -> web.Response:
    """``GET /v1/database/<db>/schema?version=9|10``: the canonical re-exported module def."""
    found = _database_request(request)
    if isinstance(found, web.Response):
        return found
    caller, database = found
    version = request.query.get("version")
    if version not in ("9", "10"):
        detail = "missing field `version`" if version is None else f"unknown version `{version}`"
        return _text(400, f"Failed to deserialize query string: {detail}", caller_headers(caller))
    return _json(database.schema_json(int(version)), headers=caller_headers(caller))


async def database_timestamp(request: web.Request) -> web.Response:
    """``GET /v1/database/<db>/unstable/timestamp``: the server clock."""
    found = _database_request(request)
    if isinstance(found, web.Response):
        return found
    caller, _ = found
    micros = time.time_ns() // 1000
    return _json({"__timestamp_micros_since_unix_epoch__": micros}, headers=caller_headers(caller))


async def database_sql(request: web.Request) -> web.Response:
    """``POST /v1/database/<db>/sql``: one SQL statement in the raw body."""
    found = _database_request(request)
    if isinstance(found, web.Response):
        return found
    caller, database = found
    raw = await request.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _text(400, "The request body is not valid UTF-8", caller_headers(caller))
    return _answer(await database.http_sql(caller.identity, text), caller)


async def database_call(request: web.Request) -> web.Response:
    """``POST /v1/database/<db>/call/<function>``: call a reducer or procedure with JSON args."""
    found = _database_request(request)
    if isinstance(found, web.Response):
        return found
    caller, database = found
    headers = caller_headers(caller)
    content_type = request.headers.get("Content-Type")
    if content_type is None:
        return _text(400, "Missing `Content-Type` header", headers)
    if content_type != _JSON:
        return _text(415, "Expected request with `Content-Type: application/json`", headers)
    raw = await request.read()
    try:
        if len(raw) > _PARSE_INLINE:  # up to the body limit: in a thread, the loop stays free
            body = await asyncio.to_thread(_parse_json, raw)
        else:
            body = _parse_json(raw)
    except UnicodeDecodeError:
        return _text(400, "The request body is not valid UTF-8", headers)
    except ValueError as exc:
        return _text(400, f"Failed to parse the request body as JSON: {exc}", headers)
    except RecursionError:
        return _text(400, "Failed to parse the request body as JSON: nested too deeply", headers)
    answer = await database.http_call(
        caller.identity, request.match_info["function"], body, caller.token
    )
    return _answer(answer, caller)


def _parse_json(raw: bytes) -> Any:
    return json.loads(raw.decode("utf-8"))


_U32_MAX: Final = 2**32 - 1


def _logs_query(query: Any) -> tuple[int | None, bool] | str:
    """``num_lines`` (a u32) and ``follow`` (``true``/``false``), or why they are invalid."""
    num_lines: int | None = None
    raw_lines = query.get("num_lines")
    if raw_lines is not None:
        if not raw_lines.isascii() or not raw_lines.isdigit():
            return "num_lines: invalid digit found in string"
        num_lines = int(raw_lines)
        if num_lines > _U32_MAX:
            return "num_lines: number too large to fit in target type"
    raw_follow = query.get("follow", "false")
    if raw_follow not in ("true", "false"):
        return "follow: provided string was not `true` or `false`"
    return num_lines, raw_follow == "true"


async def database_logs(request: web.Request) -> web.StreamResponse:
    """``GET /v1/database/<db>/logs?num_lines=N&follow=true``: the module's log as JSON lines
    (owner only, as on the real server); ``follow`` keeps the response open and streams every
    new line (after the last ``num_lines``, or only new ones without ``num_lines``)."""
    found = _database_request(request)
    if isinstance(found, web.Response):
        return found
    caller, database = found
    headers = caller_headers(caller)
    if caller.identity != database.owner_identity:
        return _text(
            403,
            f"{caller.identity.to_hex()} is not authorized to perform action on database "
            f"{database.identity.to_hex()}: view module logs",
            headers,
        )
    parsed = _logs_query(request.query)
    if isinstance(parsed, str):
        return _text(400, f"Failed to deserialize query string: {parsed}", headers)
    num_lines, follow = parsed
    log = database.database.module_log
    headers.update({"Content-Type": "application/x-ndjson", "Cache-Control": "no-cache"})
    if not follow:
        return web.Response(body="".join(log.tail(num_lines)).encode(), headers=headers)
    lines, queue = log.follow(num_lines)
    response = web.StreamResponse(headers=headers)
    try:
        await response.prepare(request)
        if lines:
            await response.write("".join(lines).encode())
        while (line := await queue.get()) is not None:  # None: the server is stopping
            await response.write(line.encode())
    except (ConnectionError, RuntimeError):  # the client went away
        pass
    finally:
        log.unfollow(queue)
    return response


def add_http_routes(app: web.Application) -> None:
    """Register every HTTP route (the WebSocket route is added separately)."""
    app.router.add_post("/v1/identity", create_identity)
    app.router.add_post("/v1/identity/websocket-token", websocket_token)
    app.router.add_get("/v1/identity/public-key", public_key)
    app.router.add_get("/v1/identity/{identity}/verify", verify_identity)
    app.router.add_get("/v1/identity/{identity}/databases", owned_databases)
    app.router.add_get("/v1/ping", ping)
    app.router.add_get("/v1/database/{database}", database_info)
    app.router.add_get("/v1/database/{database}/identity", database_identity)
    app.router.add_get("/v1/database/{database}/names", database_names)
    app.router.add_get("/v1/database/{database}/schema", database_schema)
    app.router.add_get("/v1/database/{database}/unstable/timestamp", database_timestamp)
    app.router.add_post("/v1/database/{database}/sql", database_sql)
    app.router.add_post("/v1/database/{database}/call/{function}", database_call)
    app.router.add_get("/v1/database/{database}/logs", database_logs)
