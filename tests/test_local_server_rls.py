"""Row-level security over real sockets: the ported official ``sdk_test`` module declares
``SELECT * FROM users WHERE identity = :sender``, so every client but the owner sees only its
own ``users`` row, in subscriptions (initial rows and updates), one-off queries, ``/sql`` and
joins; the owner sees every row. The planner rule for joins applies to the filtered table.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.local_server.pytest_plugin import ServerFactory, spacetimedb_local_server
from spacetimedb_sdk.local_server.server import LocalServer
from spacetimedb_sdk.local_server.sql import SqlError
from spacetimedb_sdk.messages import (
    CallReducerMsg,
    OneOffQueryMsg,
    OneOffQueryResultMsg,
    PersistentTableRows,
    QuerySetId,
    ReducerOk,
    ReducerResultMsg,
    SubscribeAppliedMsg,
    SubscribeMsg,
    SubscriptionErrorMsg,
    TransactionUpdateMsg,
)
from spacetimedb_sdk.row_list import BsatnRowList
from spacetimedb_sdk.values import Ok
from tests.local_server_support import RawClient, decode_rows, encode_args, http_request

__all__ = ["spacetimedb_local_server"]

MODULE = Path(__file__).resolve().parent / "sdk_suite" / "modules" / "sdk_test.py"


@pytest.fixture
def server(spacetimedb_local_server: ServerFactory) -> LocalServer:
    return spacetimedb_local_server({"t": MODULE})


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro_fn(), 60))


def users(server: LocalServer, rows: BsatnRowList) -> list[tuple[Identity, str]]:
    schema = server.runtime("t").database.schema
    row_type = schema.typespace.types[schema.table("users").product_type_ref]
    return sorted((r["identity"], r["name"]) for r in decode_rows(rows, row_type, schema.typespace))


async def call(client: RawClient, server: LocalServer, reducer: str, *values: Any) -> ReducerOk:
    schema = server.runtime("t").database.schema
    await client.send(CallReducerMsg(9, 0, reducer, encode_args(schema, reducer, *values)))
    while True:
        message = await client.recv()
        if isinstance(message, ReducerResultMsg):
            assert isinstance(message.result, ReducerOk), message
            return message.result
        assert isinstance(message, TransactionUpdateMsg), message


async def subscribe(client: RawClient, *queries: str) -> SubscribeAppliedMsg | SubscriptionErrorMsg:
    await client.send(SubscribeMsg(1, QuerySetId(1), list(queries)))
    message = await client.recv()
    assert isinstance(message, (SubscribeAppliedMsg, SubscriptionErrorMsg)), message
    return message


def me(client: RawClient) -> Identity:
    assert client.initial is not None
    return client.initial.identity


def sql(server: LocalServer, text: str, token: str | None) -> list[Any]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    status, _, body = http_request("POST", f"{server.url}/v1/database/t/sql", text, headers)
    assert status == 200, body
    rows: list[Any] = json.loads(body)[0]["rows"]
    return rows


def test_each_client_sees_only_its_own_rows(server: LocalServer) -> None:
    async def body() -> None:
        alice = await RawClient.connect(server.ws_url, "t")
        bob = await RawClient.connect(server.ws_url, "t")
        owner = await RawClient.connect(server.ws_url, "t", token=server.owner_token)
        await call(owner, server, "insert_user", "alice", me(alice))

        applied = await subscribe(alice, "SELECT * FROM users")
        assert isinstance(applied, SubscribeAppliedMsg)
        assert users(server, applied.rows.tables[0].rows) == [(me(alice), "alice")]
        applied = await subscribe(bob, "SELECT * FROM users")
        assert isinstance(applied, SubscribeAppliedMsg)
        assert users(server, applied.rows.tables[0].rows) == []
        applied = await subscribe(owner, "SELECT * FROM users")
        assert isinstance(applied, SubscribeAppliedMsg)
        assert users(server, applied.rows.tables[0].rows) == [(me(alice), "alice")]

        # Bob's row reaches Bob and the owner, never Alice.
        ok = await call(owner, server, "insert_user", "bob", me(bob))
        [qs] = ok.transaction_update.query_sets
        [rows] = qs.tables[0].rows
        assert isinstance(rows, PersistentTableRows)
        assert users(server, rows.inserts) == [(me(bob), "bob")]
        update = await bob.expect(TransactionUpdateMsg)
        [rows] = update.query_sets[0].tables[0].rows
        assert isinstance(rows, PersistentTableRows)
        assert users(server, rows.inserts) == [(me(bob), "bob")]
        await alice.assert_silent()

        # One-off queries and /sql go through the same filter; the owner is never filtered.
        await alice.send(OneOffQueryMsg(3, "SELECT * FROM users WHERE name = 'bob'"))
        answer = await alice.expect(OneOffQueryResultMsg)
        assert isinstance(answer.result, Ok)
        assert users(server, answer.result.value.tables[0].rows) == []
        assert alice.initial is not None
        assert [r[1] for r in sql(server, "SELECT * FROM users", alice.initial.token)] == ["alice"]
        assert sql(server, "SELECT COUNT(*) AS n FROM users", alice.initial.token) == [[1]]
        assert sorted(r[1] for r in sql(server, "SELECT * FROM users", server.owner_token)) == [
            "alice",
            "bob",
        ]
        for client in (alice, bob, owner):
            await client.close()

    run(body)


def test_joins_read_the_filtered_table(server: LocalServer) -> None:
    query = "SELECT x.* FROM unique_identity x JOIN users u ON x.i = u.identity"

    async def body() -> None:
        alice = await RawClient.connect(server.ws_url, "t")
        bob = await RawClient.connect(server.ws_url, "t")
        owner = await RawClient.connect(server.ws_url, "t", token=server.owner_token)
        for client, name in ((alice, "alice"), (bob, "bob")):
            await call(owner, server, "insert_user", name, me(client))
            await call(client, server, "insert_caller_unique_identity", 7)
        for client, expected in ((alice, [me(alice)]), (owner, [me(alice), me(bob)])):
            await client.send(OneOffQueryMsg(1, query))
            answer = await client.expect(OneOffQueryResultMsg)
            assert isinstance(answer.result, Ok)
            schema = server.runtime("t").database.schema
            ref = schema.table("unique_identity").product_type_ref
            found = decode_rows(
                answer.result.value.tables[0].rows, schema.typespace.types[ref], schema.typespace
            )
            assert sorted(r["i"] for r in found) == sorted(expected)
        applied = await subscribe(alice, query)
        assert isinstance(applied, SubscribeAppliedMsg), applied
        for client in (alice, bob, owner):
            await client.close()

    run(body)


def test_the_join_rule_sees_the_filter(server: LocalServer) -> None:
    """``one_identity`` has no index. Probing ``users`` by its key works for the owner; for
    anyone else ``users`` carries its filter, the planner swaps the sides and would have to
    probe ``one_identity``, so the real server refuses the subscription."""
    query = "SELECT o.* FROM one_identity o JOIN users u ON o.i = u.identity"

    async def body() -> None:
        alice = await RawClient.connect(server.ws_url, "t")
        owner = await RawClient.connect(server.ws_url, "t", token=server.owner_token)
        assert isinstance(await subscribe(owner, query), SubscribeAppliedMsg)
        refused = await subscribe(alice, query)
        assert isinstance(refused, SubscriptionErrorMsg)
        assert refused.error.startswith("Subscriptions require indexes on join columns")
        await alice.close()
        await owner.close()

    run(body)


def test_a_broken_filter_is_refused_when_the_module_is_served(tmp_path: Path) -> None:
    module = tmp_path / "bad_filter.py"
    module.write_text(
        "from spacetimedb_sdk.module import Identity, client_visibility_filter, primary_key, table\n"
        "F = client_visibility_filter('SELECT * FROM note WHERE nobody = :sender')\n"
        "@table(public=True)\n"
        "class Note:\n"
        "    author: Identity = primary_key()\n"
    )
    refused = pytest.raises(SqlError, match=r"client visibility filter .* does not have a field")
    with refused, LocalServer({"bad": module}, port=0):
        pass


TEAMS = Path(__file__).resolve().parent / "local_server_modules" / "team_filters.py"


def test_a_join_filter_is_planned_into_the_clients_query(
    spacetimedb_local_server: ServerFactory,
) -> None:
    server = spacetimedb_local_server({"teams": TEAMS})
    schema = server.runtime("teams").database.schema

    async def body() -> None:
        alice = await RawClient.connect(server.ws_url, "teams")
        owner = await RawClient.connect(server.ws_url, "teams", token=server.owner_token)
        refused = await subscribe(alice, "SELECT * FROM doc")
        assert isinstance(refused, SubscriptionErrorMsg)
        assert refused.error == (
            "Subscriptions require indexes on join columns, executing: `SELECT * FROM doc`"
        )
        assert isinstance(await subscribe(owner, "SELECT * FROM doc"), SubscribeAppliedMsg)
        await alice.send(SubscribeMsg(2, QuerySetId(2), ["SELECT * FROM page"]))
        assert isinstance(await alice.recv(), SubscribeAppliedMsg)
        for reducer, values in (("join_team", (1,)), ("add_page", (10, 1)), ("add_page", (20, 2))):
            await alice.send(CallReducerMsg(5, 0, reducer, encode_args(schema, reducer, *values)))
            assert isinstance((await alice.expect(ReducerResultMsg)).result, ReducerOk)
        await alice.send(OneOffQueryMsg(6, "SELECT * FROM page"))
        answer = await alice.expect(OneOffQueryResultMsg)
        assert isinstance(answer.result, Ok)
        assert len(answer.result.value.tables[0].rows) == 1  # page 10 only: alice is in team 1
        await alice.close()
        await owner.close()

    run(body)
