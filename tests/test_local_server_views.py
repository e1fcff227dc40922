"""Views over real sockets: the ported official view modules (tests/sdk_suite/modules) hosted by
the local server, subscribed to, queried once and through ``/sql``, and kept up to date.

What is checked follows the official view test clients: a per-client view gives each identity
its own rows and its own updates; an anonymous view is shared; a view of a struct works like one
of a table row; a view with a primary key sends a changed row as a delete and an insert in the
same table update (which clients pair into an update); semijoins over views are accepted and
maintained; one identity disconnecting never stops another identity's view updates.
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
from spacetimedb_sdk.messages import (
    CallReducerMsg,
    OneOffQueryMsg,
    OneOffQueryResultMsg,
    PersistentTableRows,
    QuerySetId,
    QuerySetUpdate,
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

MODULES = Path(__file__).resolve().parent / "sdk_suite" / "modules"


@pytest.fixture
def server(spacetimedb_local_server: ServerFactory) -> LocalServer:
    return spacetimedb_local_server(
        {
            "view": MODULES / "sdk_test_view.py",
            "view-pk": MODULES / "sdk_test_view_pk.py",
            "proc-view-pk": MODULES / "sdk_test_procedural_view_pk.py",
            "case-conversion": MODULES / "sdk_test_case_conversion.py",
        }
    )


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro_fn(), 60))


class Db:
    """One hosted database's schema helpers: reducer arguments and view rows."""

    def __init__(self, server: LocalServer, name: str) -> None:
        self.name = name
        self.schema = server.runtime(name).database.schema

    def args(self, reducer: str, *values: Any) -> bytes:
        return encode_args(self.schema, reducer, *values)

    def rows(self, relation: str, rows: BsatnRowList) -> list[Any]:
        view = next((v for v in self.schema.views if v.name == relation), None)
        if view is not None:
            return decode_rows(rows, view.row_type, self.schema.typespace)
        table = self.schema.table(relation)
        row_type = self.schema.typespace.types[table.product_type_ref]
        return decode_rows(rows, row_type, self.schema.typespace)


async def call(client: RawClient, reducer: str, args: bytes, request_id: int = 100) -> ReducerOk:
    """Call a reducer and return its (committed) outcome; skips TransactionUpdates before it."""
    await client.send(CallReducerMsg(request_id, 0, reducer, args))
    while True:
        message = await client.recv()
        if isinstance(message, ReducerResultMsg):
            assert isinstance(message.result, ReducerOk), message
            return message.result
        assert isinstance(message, TransactionUpdateMsg), message


def changes(db: Db, sets: list[QuerySetUpdate]) -> dict[str, tuple[list[Any], list[Any]]]:
    """Per relation name: (inserted rows, deleted rows) of a transaction's query-set updates."""
    out: dict[str, tuple[list[Any], list[Any]]] = {}
    for qs in sets:
        for table in qs.tables:
            ins, dels = out.setdefault(table.table_name, ([], []))
            for rows in table.rows:
                assert isinstance(rows, PersistentTableRows)
                ins += db.rows(table.table_name, rows.inserts)
                dels += db.rows(table.table_name, rows.deletes)
    return out


async def subscribe(client: RawClient, set_id: int, *queries: str) -> SubscribeAppliedMsg:
    await client.send(SubscribeMsg(set_id, QuerySetId(set_id), list(queries)))
    message = await client.recv()
    assert isinstance(message, SubscribeAppliedMsg), message
    return message


def ident(client: RawClient) -> Identity:
    assert client.initial is not None
    return client.initial.identity


def test_sender_view_rows_and_updates_are_per_identity(server: LocalServer) -> None:
    db = Db(server, "view")

    async def body() -> None:
        alice = await RawClient.connect(server.ws_url, "view")
        bob = await RawClient.connect(server.ws_url, "view")
        for client in (alice, bob):
            applied = await subscribe(client, 1, "SELECT * FROM my_player")
            assert [t.table for t in applied.rows.tables] == ["my_player"]
            assert db.rows("my_player", applied.rows.tables[0].rows) == []

        ok = await call(alice, "insert_player", db.args("insert_player", ident(alice), 0))
        mine = changes(db, ok.transaction_update.query_sets)
        assert [r["identity"] for r in mine["my_player"][0]] == [ident(alice)]
        await bob.assert_silent()  # Bob's view did not change

        ok = await call(alice, "insert_player", db.args("insert_player", ident(bob), 3))
        assert ok.transaction_update.query_sets == []  # Alice's view did not change
        update = await bob.expect(TransactionUpdateMsg)
        theirs = changes(db, update.query_sets)
        assert [r["identity"] for r in theirs["my_player"][0]] == [ident(bob)]

        # Bob leaves; Alice's per-client view keeps being maintained.
        await bob.close()
        await asyncio.sleep(0.2)
        ok = await call(alice, "delete_player", db.args("delete_player", ident(alice)))
        gone = changes(db, ok.transaction_update.query_sets)
        assert [r["identity"] for r in gone["my_player"][1]] == [ident(alice)]
        await alice.close()

    run(body)


def test_anonymous_view_is_shared_and_struct_views_work(server: LocalServer) -> None:
    db = Db(server, "view")

    async def body() -> None:
        alice = await RawClient.connect(server.ws_url, "view")
        bob = await RawClient.connect(server.ws_url, "view")
        await subscribe(
            alice, 1, "SELECT * FROM players_at_level_0", "SELECT * FROM my_player_and_level"
        )
        await subscribe(bob, 1, "SELECT * FROM players_at_level_0")

        ok = await call(alice, "insert_player", db.args("insert_player", ident(alice), 0))
        mine = changes(db, ok.transaction_update.query_sets)
        assert [r["identity"] for r in mine["players_at_level_0"][0]] == [ident(alice)]
        assert [(r["identity"], r["level"]) for r in mine["my_player_and_level"][0]] == [
            (ident(alice), 0)
        ]
        update = await bob.expect(TransactionUpdateMsg)
        assert [r["identity"] for r in changes(db, update.query_sets)["players_at_level_0"][0]] == [
            ident(alice)
        ]
        # A level-3 player is in nobody's level-0 view: no update for Bob.
        await call(alice, "insert_player", db.args("insert_player", ident(bob), 3))
        await bob.assert_silent()
        await alice.close()
        await bob.close()

    run(body)


def test_view_of_changing_rows_sends_the_difference(server: LocalServer) -> None:
    """``nearby_players`` (the official subscription-update test): rows enter and leave."""
    db = Db(server, "view")

    async def body() -> None:
        zero = await RawClient.connect(server.ws_url, "view")
        one = await RawClient.connect(server.ws_url, "view")
        await subscribe(zero, 1, "SELECT * FROM nearby_players")
        await subscribe(one, 1, "SELECT * FROM nearby_players")
        await call(zero, "move_player", db.args("move_player", 0, 0))
        ok = await call(one, "move_player", db.args("move_player", 2, 2))
        seen_by_one = changes(db, ok.transaction_update.query_sets)["nearby_players"]
        assert [(r["x"], r["y"]) for r in seen_by_one[0]] == [(0, 0)]
        seen_by_zero = changes(db, (await zero.expect(TransactionUpdateMsg)).query_sets)
        assert [(r["x"], r["y"]) for r in seen_by_zero["nearby_players"][0]] == [(2, 2)]

        ok = await call(one, "move_player", db.args("move_player", 3, 3))  # now at (5, 5)
        seen_by_one = changes(db, ok.transaction_update.query_sets)["nearby_players"]
        assert [(r["x"], r["y"]) for r in seen_by_one[1]] == [(0, 0)]
        assert seen_by_one[0] == []
        seen_by_zero = changes(db, (await zero.expect(TransactionUpdateMsg)).query_sets)
        assert [(r["x"], r["y"]) for r in seen_by_zero["nearby_players"][1]] == [(2, 2)]
        await zero.close()
        await one.close()

    run(body)


def test_one_off_query_and_sql_read_the_callers_view(server: LocalServer) -> None:
    db = Db(server, "view")

    async def body() -> None:
        alice = await RawClient.connect(server.ws_url, "view")
        await call(alice, "insert_player", db.args("insert_player", ident(alice), 0))
        await alice.send(OneOffQueryMsg(5, "SELECT * FROM my_player"))
        answer = await alice.expect(OneOffQueryResultMsg)
        assert isinstance(answer.result, Ok)
        [table] = answer.result.value.tables
        assert table.table == "my_player"
        assert [r["identity"] for r in db.rows("my_player", table.rows)] == [ident(alice)]

        assert alice.initial is not None
        status, _, body_bytes = http_request(
            "POST",
            f"{server.url}/v1/database/view/sql",
            "SELECT * FROM my_player_and_level",
            {"Authorization": f"Bearer {alice.initial.token}"},
        )
        assert status == 200, body_bytes
        [result] = json.loads(body_bytes)
        assert [e["name"]["some"] for e in result["schema"]["elements"]] == [
            "entity_id",
            "identity",
            "level",
        ]
        assert len(result["rows"]) == 1 and result["rows"][0][2] == 0
        # Another caller's per-client view is computed for that caller: empty here.
        status, _, body_bytes = http_request(
            "POST", f"{server.url}/v1/database/view/sql", "SELECT * FROM my_player"
        )
        assert status == 200 and json.loads(body_bytes)[0]["rows"] == []
        await alice.close()

    run(body)


def test_query_view_with_primary_key_sends_delete_and_insert_together(server: LocalServer) -> None:
    db = Db(server, "view-pk")

    async def body() -> None:
        client = await RawClient.connect(server.ws_url, "view-pk")
        await subscribe(client, 1, "SELECT * FROM all_view_pk_players")
        await call(client, "insert_view_pk_player", db.args("insert_view_pk_player", 1, "before"))
        ok = await call(
            client, "update_view_pk_player", db.args("update_view_pk_player", 1, "after")
        )
        [qs] = ok.transaction_update.query_sets
        [table] = qs.tables
        assert table.table_name == "all_view_pk_players"
        ins, dels = changes(db, [qs])["all_view_pk_players"]
        assert [(r["id"], r["name"]) for r in dels] == [(1, "before")]
        assert [(r["id"], r["name"]) for r in ins] == [(1, "after")]
        await client.close()

    run(body)


@pytest.mark.parametrize(
    "query",
    [
        # view-pk-join-query-builder: a table semijoined with a view
        "SELECT p.* FROM view_pk_membership m JOIN all_view_pk_players p ON m.player_id = p.id",
        # view-pk-semijoin-two-sender-views-query-builder: two per-client views on their key
        "SELECT b.* FROM sender_view_pk_players_a a JOIN sender_view_pk_players_b b ON a.id = b.id",
    ],
)
def test_semijoins_over_views_are_maintained(server: LocalServer, query: str) -> None:
    db = Db(server, "view-pk")
    name = "all_view_pk_players" if "all_view" in query else "sender_view_pk_players_b"

    async def body() -> None:
        client = await RawClient.connect(server.ws_url, "view-pk")
        applied = await subscribe(client, 1, query)
        assert [t.table for t in applied.rows.tables] == [name]
        await call(client, "insert_view_pk_player", db.args("insert_view_pk_player", 1, "before"))
        ok = await call(
            client, "insert_view_pk_membership", db.args("insert_view_pk_membership", 1, 1)
        )
        if name == "sender_view_pk_players_b":
            assert ok.transaction_update.query_sets == []  # view b has no row yet
            ok = await call(
                client,
                "insert_view_pk_membership_secondary",
                db.args("insert_view_pk_membership_secondary", 1, 1),
            )
        ins, dels = changes(db, ok.transaction_update.query_sets)[name]
        assert [(r["id"], r["name"]) for r in ins] == [(1, "before")] and dels == []
        ok = await call(
            client, "update_view_pk_player", db.args("update_view_pk_player", 1, "after")
        )
        ins, dels = changes(db, ok.transaction_update.query_sets)[name]
        assert [(r["id"], r["name"]) for r in dels] == [(1, "before")]
        assert [(r["id"], r["name"]) for r in ins] == [(1, "after")]
        await client.close()

    run(body)


def test_procedural_view_semijoin_with_filters_on_both_sides(server: LocalServer) -> None:
    """The official view-pk-left-semijoin test: two per-client views joined on their key."""
    db = Db(server, "proc-view-pk")
    query = (
        "SELECT l.* FROM sender_right_view r JOIN sender_left_view l ON r.id = l.id "
        "WHERE r.filter = 300 AND l.filter = 100"
    )

    async def body() -> None:
        client = await RawClient.connect(server.ws_url, "proc-view-pk")
        await subscribe(client, 1, query)
        inserted: list[Any] = []
        for reducer, row_id, value in [
            ("insert_left", 10, 100),
            ("insert_left", 20, 200),
            ("insert_right", 10, 300),
            ("insert_right", 20, 400),
        ]:
            ok = await call(client, reducer, db.args(reducer, row_id, value))
            inserted += changes(db, ok.transaction_update.query_sets).get(
                "sender_left_view", ([], [])
            )[0]
        assert [(r["id"], r["filter"]) for r in inserted] == [(10, 100)]
        ok = await call(client, "update_left", db.args("update_left", 10, 101))
        ins, dels = changes(db, ok.transaction_update.query_sets)["sender_left_view"]
        assert (ins, [(r["id"], r["filter"]) for r in dels]) == ([], [(10, 100)])
        await client.close()

    run(body)


def test_case_conversion_query_view_with_semijoin(server: LocalServer) -> None:
    """An explicitly named query view (``Level2Person``) that semijoins two tables."""
    db = Db(server, "case-conversion")

    async def body() -> None:
        client = await RawClient.connect(server.ws_url, "case-conversion")
        applied = await subscribe(client, 1, "SELECT * FROM Level2Person")
        assert [t.table for t in applied.rows.tables] == ["Level2Person"]
        await call(client, "create_player_1", db.args("create_player_1", "Alice", 2))  # id 1
        await call(client, "create_player_1", db.args("create_player_1", "Bob", 1))  # id 2
        ok = await call(client, "add_person_2", db.args("add_person_2", "Carol", 1, 30, 5))
        ins, _ = changes(db, ok.transaction_update.query_sets)["Level2Person"]
        assert [p["first_name"] for p in ins] == ["Carol"]
        ok = await call(client, "add_person_2", db.args("add_person_2", "Dave", 2, 40, 6))
        assert ok.transaction_update.query_sets == []  # Bob is not at level 2
        await client.close()

    run(body)


def test_private_view_is_unknown_to_others_and_failing_subscribe_is_an_error(
    server: LocalServer,
) -> None:
    async def body() -> None:
        client = await RawClient.connect(server.ws_url, "view")
        await client.send(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM no_such_view"]))
        error = await client.expect(SubscriptionErrorMsg)
        assert "no_such_view" in error.error
        await client.close()

    run(body)


def test_one_identity_on_two_connections_keeps_its_view_when_one_leaves(
    server: LocalServer,
) -> None:
    db = Db(server, "view")

    async def body() -> None:
        first = await RawClient.connect(server.ws_url, "view")
        assert first.initial is not None
        second = await RawClient.connect(server.ws_url, "view", token=first.initial.token)
        for client in (first, second):
            await subscribe(client, 1, "SELECT * FROM my_player")
        await first.close()
        await asyncio.sleep(0.2)
        ok = await call(second, "insert_player", db.args("insert_player", ident(second), 0))
        mine = changes(db, ok.transaction_update.query_sets)
        assert [r["identity"] for r in mine["my_player"][0]] == [ident(second)]
        await second.close()

    run(body)
