"""The HTTP API over real sockets: identity routes, database routes, SQL and calls."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
from typing import Any

import pytest

from spacetimedb_sdk.local_server.auth import decode_payload_unverified
from spacetimedb_sdk.local_server.pytest_plugin import ServerFactory, spacetimedb_local_server
from spacetimedb_sdk.local_server.server import LocalServer
from spacetimedb_sdk.messages import (
    PersistentTableRows,
    QuerySetId,
    SubscribeAppliedMsg,
    SubscribeMsg,
    TransactionUpdateMsg,
)
from spacetimedb_sdk.raw_module_def import raw_module_def_from_json
from spacetimedb_sdk.schema import ModuleSchema
from tests.local_server_support import CHAT_MODULE, GAME_MODULE, RawClient, http_json, http_request

__all__ = ["spacetimedb_local_server"]

FATAL = "The instance encountered a fatal error."


@pytest.fixture
def server(spacetimedb_local_server: ServerFactory) -> LocalServer:
    return spacetimedb_local_server({"chat": CHAT_MODULE, "game": GAME_MODULE})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sql(server: LocalServer, db: str, text: str, token: str | None = None) -> tuple[int, Any]:
    status, headers, body = http_request(
        "POST", f"{server.url}/v1/database/{db}/sql", text, _bearer(token) if token else None
    )
    if status == 200:
        assert headers["content-type"].startswith("application/json")
        return status, json.loads(body)
    return status, body.decode()


def call(
    server: LocalServer,
    db: str,
    function: str,
    args: Any,
    token: str | None = None,
    content_type: str | None = "application/json",
) -> tuple[int, dict[str, str], str]:
    headers = _bearer(token) if token else {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    body = args if isinstance(args, (bytes, str)) else json.dumps(args)
    status, got, data = http_request(
        "POST", f"{server.url}/v1/database/{db}/call/{function}", body, headers
    )
    return status, got, data.decode()


# ================================================================================ identity


def test_identity_routes(server: LocalServer) -> None:
    status, headers, body = http_request("POST", f"{server.url}/v1/identity")
    assert status == 200
    created = json.loads(body)
    assert len(created["identity"]) == 64
    assert decode_payload_unverified(created["token"])["hex_identity"] == created["identity"]
    assert "spacetime-identity" not in headers

    status, _, body = http_request("POST", f"{server.url}/v1/identity/websocket-token")
    assert (status, body) == (401, b"Authorization required")
    short = http_json("POST", f"{server.url}/v1/identity/websocket-token", token=created["token"])
    claims = decode_payload_unverified(short["token"])
    assert claims["hex_identity"] == created["identity"]
    assert claims["exp"] == claims["iat"] + 60

    status, headers, body = http_request("GET", f"{server.url}/v1/identity/public-key")
    assert status == 200
    assert headers["content-type"] == "application/pem-certificate-chain"
    assert body.startswith(b"-----BEGIN PUBLIC KEY-----")

    identity = created["identity"]
    verify = f"{server.url}/v1/identity/{identity}/verify"
    assert http_request("GET", verify, headers=_bearer(created["token"]))[0] == 204
    assert http_request("GET", verify)[0] == 401
    other = http_json("POST", f"{server.url}/v1/identity")
    assert http_request("GET", verify, headers=_bearer(other["token"]))[0] == 400
    assert http_request("GET", f"{server.url}/v1/identity/xyz/verify")[0] == 400

    owned = http_json("GET", f"{server.url}/v1/identity/{server.owner_identity.to_hex()}/databases")
    assert len(owned["identities"]) == 2


def test_ping_checks_a_supplied_token(server: LocalServer) -> None:
    assert http_request("GET", f"{server.url}/v1/ping")[:2][0] == 200
    status, _, body = http_request("GET", f"{server.url}/v1/ping", headers=_bearer("a.b.c"))
    assert status == 401 and body.startswith(b"Invalid token")
    status, _, body = http_request(
        "GET", f"{server.url}/v1/ping", headers={"Authorization": "Basic x"}
    )
    assert (status, body) == (400, b"Authorization is invalid: malformed token")


def test_cors_preflight(server: LocalServer) -> None:
    status, headers, _ = http_request(
        "OPTIONS",
        f"{server.url}/v1/database/chat/sql",
        headers={"Origin": "http://x", "Access-Control-Request-Method": "POST"},
    )
    assert status == 200
    assert headers["access-control-allow-origin"] == "*"


# ================================================================================ database routes


def test_anonymous_auth_headers_on_database_routes(server: LocalServer) -> None:
    first = http_request("GET", f"{server.url}/v1/database/chat/identity")
    second = http_request("GET", f"{server.url}/v1/database/chat/identity")
    assert first[0] == second[0] == 200
    assert first[1]["spacetime-identity"] != second[1]["spacetime-identity"]  # minted per request
    token = first[1]["spacetime-identity-token"]
    third = http_request("GET", f"{server.url}/v1/database/chat/identity", headers=_bearer(token))
    assert third[1]["spacetime-identity"] == first[1]["spacetime-identity"]
    assert third[1]["spacetime-identity-token"] == token
    missing = http_request("GET", f"{server.url}/v1/database/nope/identity")
    assert (missing[0], missing[2]) == (404, b"`nope` not found")
    assert "spacetime-identity" in missing[1]
    bad = http_request("GET", f"{server.url}/v1/database/chat/identity", headers=_bearer("x.y.z"))
    assert bad[0] == 401 and "spacetime-identity" not in bad[1]


def test_database_identity_info_and_names(server: LocalServer) -> None:
    status, headers, body = http_request("GET", f"{server.url}/v1/database/chat/identity")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    identity = body.decode()
    assert len(identity) == 64 and identity == server.runtime("chat").identity.to_hex()
    echoed = http_request("GET", f"{server.url}/v1/database/0x{'ab' * 32}/identity")
    assert echoed[2].decode() == "ab" * 32

    info = http_json("GET", f"{server.url}/v1/database/{identity}")
    assert info["database_identity"] == {"__identity__": f"0x{int(identity, 16):x}"}
    assert info["owner_identity"]["__identity__"] == f"0x{server.owner_identity.value:x}"
    assert info["host_type"] == {"Wasm": []}
    assert info["initial_program"].startswith("0x")
    assert http_json("GET", f"{server.url}/v1/database/chat/names") == {"names": ["chat"]}
    assert (
        http_request("GET", f"{server.url}/v1/database/c200{'0' * 60}")[2] == b"No such database."
    )
    assert http_request("GET", f"{server.url}/v1/database/Bad_Name")[0] == 400


def test_schema_endpoint(server: LocalServer) -> None:
    v10 = http_json("GET", f"{server.url}/v1/database/chat/schema?version=10")
    assert list(v10) == ["sections"]
    assert list(v10["sections"][0]) == ["Typespace"]
    assert list(v10["sections"][-1]) == ["ExplicitNames"]
    v9 = http_json("GET", f"{server.url}/v1/database/chat/schema?version=9")
    assert sorted(t["name"] for t in v9["tables"]) == ["message", "user"]
    for doc in (v9, v10):
        schema = ModuleSchema.from_raw(raw_module_def_from_json(doc), canonical=True)
        assert {t.name for t in schema.tables} == {"message", "user"}
        assert schema.reducer("set_name").params[0].name == "name"
    events = http_json("GET", f"{server.url}/v1/database/game/schema?version=10")
    tables = next(s["Tables"] for s in events["sections"] if "Tables" in s)
    assert {t["source_name"]: t["is_event"] for t in tables}["damage"] is True
    for query in ("", "?version=8", "?version=nine"):
        status, _, body = http_request("GET", f"{server.url}/v1/database/chat/schema{query}")
        assert status == 400, body


# ================================================================================ SQL


def test_sql_select_result_format(server: LocalServer) -> None:
    status, headers, body = http_request(
        "POST", f"{server.url}/v1/database/chat/sql", "SELECT * FROM user"
    )
    assert status == 200
    assert "spacetime-execution-duration-micros" in headers
    (result,) = json.loads(body)
    assert list(result) == ["schema", "rows", "total_duration_micros", "stats"]
    assert [e["name"] for e in result["schema"]["elements"]] == [
        {"some": "identity"},
        {"some": "name"},
        {"some": "online"},
    ]
    assert result["stats"] == {"rows_inserted": 0, "rows_deleted": 0, "rows_updated": 0}
    # The request itself ran inside a connection: its own user row exists and is online.
    (row,) = result["rows"]
    identity_json, name_json, online = row
    assert identity_json == [f"0x{int(headers['spacetime-identity'], 16):x}"]
    assert name_json == [1, []]
    assert online is True
    status, count = sql(server, "chat", "SELECT COUNT(*) AS n FROM user")
    assert count[0]["rows"] == [[2]]  # the earlier caller (offline now) and this one


def test_sql_errors_and_private_tables(server: LocalServer) -> None:
    for text in ("SELECT * FROM nope", "SELEC 1", "SELECT * FROM secret", "DELETE FROM player"):
        status, body = sql(server, "game", text)
        assert status == 400, (text, body)
    status, body = sql(server, "game", "DELETE FROM player")
    assert status == 400  # the real server's words, naming the (fresh anonymous) caller
    assert re.fullmatch(r"Caller [0-9a-f]{64} is not authorized to run SQL DML statements", body)
    status, _, raw = http_request("POST", f"{server.url}/v1/database/game/sql", b"SELECT \xff")
    assert b"UTF-8" in raw
    assert status == 400
    owner = server.owner_token
    assert sql(server, "game", "SELECT * FROM secret", owner)[0] == 200


def test_sql_dml_by_the_owner_reaches_subscribers(server: LocalServer) -> None:
    async def main() -> None:
        client = await RawClient.connect(server.ws_url, "game")
        await client.send(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM player"]))
        await client.expect(SubscribeAppliedMsg)
        loop = asyncio.get_running_loop()

        def insert() -> tuple[int, Any]:
            return sql(
                server,
                "game",
                "INSERT INTO player (id, name, level) VALUES (0, 'ann', 3)",
                server.owner_token,
            )

        status, result = await loop.run_in_executor(None, insert)
        assert status == 200 and result[0]["stats"]["rows_inserted"] == 1
        update = await client.expect(TransactionUpdateMsg)
        (rows,) = update.query_sets[0].tables[0].rows
        assert isinstance(rows, PersistentTableRows) and len(rows.inserts) == 1

        def bump() -> tuple[int, Any]:
            return sql(
                server, "game", "UPDATE player SET level = 9 WHERE name = 'ann'", server.owner_token
            )

        status, result = await loop.run_in_executor(None, bump)
        assert result[0]["stats"]["rows_updated"] == 1
        update = await client.expect(TransactionUpdateMsg)
        (rows,) = update.query_sets[0].tables[0].rows
        assert isinstance(rows, PersistentTableRows)
        assert (len(rows.inserts), len(rows.deletes)) == (1, 1)
        await client.close()

    asyncio.run(main())
    status, result = sql(server, "game", "SELECT name, level FROM player")
    assert (status, result[0]["rows"]) == (200, [["ann", 9]])
    status, result = sql(server, "game", "DELETE FROM player WHERE level > 5", server.owner_token)
    assert (status, result[0]["stats"]["rows_deleted"]) == (200, 1)


# ================================================================================ calls


def test_call_reducer_status_codes(server: LocalServer) -> None:
    created = http_json("POST", f"{server.url}/v1/identity")
    token = created["token"]
    status, headers, body = call(server, "chat", "set_name", ["Ann"], token)
    assert (status, body) == (200, "")
    assert headers["spacetime-energy-used"] == "0"
    assert "spacetime-execution-duration-micros" in headers
    assert headers["spacetime-identity"] == created["identity"]
    assert call(server, "chat", "set_name", {"name": "Bea"}, token)[0] == 200
    assert call(server, "chat", "set_name", [""], token)[::2] == (530, "Names must not be empty")
    assert call(server, "game", "crash", [])[::2] == (530, FATAL)
    assert call(server, "chat", "nope", [])[::2] == (404, "No such procedure")
    assert (
        call(
            server,
            "game",
            "tick",
            [{"scheduled_id": 1, "scheduled_at": {"Interval": {"__time_duration_micros__": 1}}}],
        )[0]
        == 404
    )
    assert call(server, "chat", "on_connect", [])[0] == 400
    assert call(server, "chat", "set_name", [1, 2])[0] == 400
    assert call(server, "chat", "set_name", "{not json")[0] == 400
    assert call(server, "chat", "set_name", ["x"], content_type="text/plain")[0] == 415
    assert (
        call(server, "chat", "set_name", ["x"], content_type="application/json; charset=utf-8")[0]
        == 415
    )
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("POST", "/v1/database/chat/call/set_name", body=b'["x"]')  # no type
    assert connection.getresponse().status == 400
    connection.close()
    assert call(server, "nope", "set_name", ["x"])[0] == 404
    # connect/disconnect ran around each call: the named user exists and is offline again.
    status, result = sql(server, "chat", "SELECT * FROM user WHERE online = false")
    names = [row[1] for row in result[0]["rows"]]
    assert [0, "Bea"] in names


def test_call_procedures(server: LocalServer) -> None:
    status, _, body = call(server, "game", "double", [21])
    assert (status, json.loads(body)) == (200, 42)
    status, _, body = call(server, "game", "add_player_proc", {"name": "zed"})
    assert (status, json.loads(body)) == (200, 1)
    assert call(server, "game", "double", ["x"])[0] == 400
    status, result = sql(server, "game", "SELECT name FROM player")
    assert result[0]["rows"] == [["zed"]]


def test_client_connected_rejection_is_403(server: LocalServer) -> None:
    created = http_json("POST", f"{server.url}/v1/identity")
    identity = created["identity"]
    assert call(server, "game", "ban", [[f"0x{identity}"]], server.owner_token)[0] == 200
    status, _, body = call(server, "game", "add_player", ["x", 1], created["token"])
    assert (status, body) == (403, "you are banned")
    assert sql(server, "game", "SELECT * FROM player", created["token"])[0] == 403


def test_overlong_database_names_are_a_clear_400(server: LocalServer) -> None:
    for route, method in (("sql", "POST"), ("schema?version=9", "GET"), ("", "GET")):
        url = f"{server.url}/v1/database/{'a' * 300}/{route}".rstrip("/")
        body_text = "SELECT * FROM user" if method == "POST" else None
        status, _, body = http_request(method, url, body_text)
        assert status == 400, (route, body)
        assert "at most 64 characters (this one has 300)" in body.decode()
    # 64 characters is a valid name, just not hosted here.
    status, _, body = http_request("GET", f"{server.url}/v1/database/{'z' * 64}")
    assert (status, body.decode()) == (404, f"`{'z' * 64}` not found")


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deeply_nested_json_bodies_are_a_400(server: LocalServer, depth: int) -> None:
    for body in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        status, _, text = call(server, "chat", "send_message", body)
        assert status == 400, text
        assert "nested too deeply" in text
    assert call(server, "chat", "send_message", ["fine"])[0] == 200


def test_bodies_past_2_mib_are_a_413_like_the_real_servers(server: LocalServer) -> None:
    big = "[" + "1," * (1024 * 1024 + 10) + "1]"  # a little over 2 MiB
    assert call(server, "chat", "send_message", big)[0] == 413
    status, _, _ = http_request("POST", f"{server.url}/v1/database/chat/sql", "-" * (3 << 20))
    assert status == 413
    # Just under the limit: parsed (off the event loop) and refused as the wrong arguments.
    status, _, text = call(server, "chat", "send_message", "[" + "1," * (1000 * 1000) + "1]")
    assert status == 400, text
    assert call(server, "chat", "send_message", ["fine"])[0] == 200
