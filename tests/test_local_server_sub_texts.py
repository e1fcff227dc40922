"""Subscription texts and ordering over real sockets, as the real server words and orders them.

* a query that cannot be compiled is reported with `, executing: `<query>`` appended;
* parse errors are plain sentences (no parser token dumps);
* unsubscribing an unknown set answers `Subscription not found: …`;
* a view that fails to refresh fails its transaction (the reducer reports the view's error);
* a query set that dies during a transaction is reported before that transaction's updates;
* the public system table `st_client` can be read and subscribed to.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from spacetimedb_sdk.local_server.pytest_plugin import ServerFactory, spacetimedb_local_server
from spacetimedb_sdk.local_server.server import LocalServer
from spacetimedb_sdk.local_server.subscriptions import SubscribedQuery, _Evaluator
from spacetimedb_sdk.messages import (
    CallReducerMsg,
    InternalErrorOutcome,
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
    UnsubscribeFlags,
    UnsubscribeMsg,
)
from spacetimedb_sdk.values import Err, Ok
from tests.local_server_support import GAME_MODULE, RawClient, encode_args, http_request

__all__ = ["spacetimedb_local_server"]

FAULTS = Path(__file__).resolve().parent / "local_server_modules" / "view_faults.py"


@pytest.fixture
def server(spacetimedb_local_server: ServerFactory) -> LocalServer:
    return spacetimedb_local_server({"game": GAME_MODULE, "faults": FAULTS})


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro_fn(), 60))


async def subscription_error(client: RawClient, set_id: int, *queries: str) -> str:
    await client.send(SubscribeMsg(set_id, QuerySetId(set_id), list(queries)))
    error = await client.expect(SubscriptionErrorMsg)
    assert error.request_id == set_id and error.query_set_id == QuerySetId(set_id)
    return error.error


def test_compile_errors_quote_the_query(server: LocalServer) -> None:
    async def body() -> None:
        client = await RawClient.connect(server.ws_url, "game")
        text = await subscription_error(client, 1, "  SELECT * FROM nope  ")
        assert text == (
            "no such table: `nope`. If the table exists, it may be marked private., "
            "executing: `SELECT * FROM nope`"
        )
        text = await subscription_error(
            client, 2, "SELECT item.* FROM item JOIN player ON item.name = player.name"
        )
        assert text == (
            "Subscriptions require indexes on join columns, executing: "
            "`SELECT item.* FROM item JOIN player ON item.name = player.name`"
        )
        # The failing query of several is the one quoted.
        text = await subscription_error(client, 3, "SELECT * FROM item", "SELECT * FROM")
        assert text.endswith(", executing: `SELECT * FROM`")
        # One-off queries are answered without the quote, as on the real server.
        await client.send(OneOffQueryMsg(4, "SELECT * FROM nope"))
        answer = await client.expect(OneOffQueryResultMsg)
        assert isinstance(answer.result, Err) and "executing" not in answer.result.error
        await client.close()

    run(body)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT * FROM", "expected a table name after `FROM`, found the end of the query"),
        ("SELECT * FROM item WHERE", "expected a condition after WHERE"),
        ("SELECT * FROM item WHERE (id = 1", "expected `)`"),
        ("SELECT * FROM item WHERE name = 'x", "unterminated quoted string or identifier"),
        ("SELECT * FROM item WHERE id = 1 1", "unexpected `1`"),
    ],
)
def test_parse_errors_are_sentences(server: LocalServer, sql: str, expected: str) -> None:
    async def body() -> None:
        client = await RawClient.connect(server.ws_url, "game")
        text = await subscription_error(client, 1, sql)
        assert text.startswith("sql parser error: ") and expected in text, text
        assert "<" not in text and "Token" not in text and "class" not in text, text
        await client.close()

    run(body)
    status, _, body_bytes = http_request("POST", f"{server.url}/v1/database/game/sql", sql)
    assert status == 400 and expected in body_bytes.decode()


def test_unsubscribing_an_unknown_set(server: LocalServer) -> None:
    async def body() -> None:
        client = await RawClient.connect(server.ws_url, "game")
        assert client.initial is not None
        await client.send(UnsubscribeMsg(7, QuerySetId(9), UnsubscribeFlags.DEFAULT))
        error = await client.expect(SubscriptionErrorMsg)
        assert (error.request_id, error.query_set_id) == (7, QuerySetId(9))
        identity = client.initial.identity.to_hex()
        connection = client.initial.connection_id.to_hex()
        assert error.error == (
            f"Subscription not found: ((Identity({identity}), ConnectionId({connection})), "
            "QuerySetId { id: 9 })"
        )
        await client.close()

    run(body)


def test_a_view_failing_to_refresh_fails_the_transaction(server: LocalServer) -> None:
    """Views are refreshed inside the transaction: one that raises makes the reducer fail
    (with the view's error) and nothing is committed or sent."""
    schema = server.runtime("faults").database.schema

    def args(reducer: str, *values: Any) -> bytes:
        return encode_args(schema, reducer, *values)

    async def body() -> None:
        caller = await RawClient.connect(server.ws_url, "faults")
        observer = await RawClient.connect(server.ws_url, "faults")
        await caller.send(CallReducerMsg(1, 0, "add_switch", args("add_switch", 1)))
        assert isinstance((await caller.expect(ReducerResultMsg)).result, ReducerOk)
        for set_id, query in ((1, "SELECT * FROM fragile"), (2, "SELECT * FROM note")):
            await observer.send(SubscribeMsg(set_id, QuerySetId(set_id), [query]))
            await observer.expect(SubscribeAppliedMsg)
        await caller.send(
            CallReducerMsg(2, 0, "break_switch_and_note", args("break_switch_and_note", 1))
        )
        failed = (await caller.expect(ReducerResultMsg)).result
        assert isinstance(failed, InternalErrorOutcome)
        assert failed.message == (
            "Error materializing view `fragile`: RuntimeError: a switch is broken"
        )
        await observer.assert_silent()
        await observer.send(OneOffQueryMsg(3, "SELECT * FROM note"))
        answer = await observer.expect(OneOffQueryResultMsg)
        assert isinstance(answer.result, Ok) and len(answer.result.value.tables[0].rows) == 0
        await caller.close()
        await observer.close()

    run(body)


def test_a_view_raising_system_exit_fails_only_its_transaction(server: LocalServer) -> None:
    schema = server.runtime("faults").database.schema

    async def body() -> None:
        client = await RawClient.connect(server.ws_url, "faults")
        await client.send(CallReducerMsg(1, 0, "add_switch", encode_args(schema, "add_switch", 99)))
        await client.expect(ReducerResultMsg)
        await client.send(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM fragile"]))
        await client.expect(SubscribeAppliedMsg)
        breaking = encode_args(schema, "break_switch_and_note", 99)
        await client.send(CallReducerMsg(2, 0, "break_switch_and_note", breaking))
        failed = (await client.expect(ReducerResultMsg)).result
        assert isinstance(failed, InternalErrorOutcome)
        assert failed.message == "Error materializing view `fragile`: SystemExit: 3"
        await client.send(CallReducerMsg(3, 0, "add_switch", encode_args(schema, "add_switch", 5)))
        assert isinstance(
            (await client.expect(ReducerResultMsg)).result, ReducerOk
        )  # still serving
        await client.close()

    run(body)


def test_a_query_view_is_compiled_like_a_subscription(server: LocalServer) -> None:
    """The real server compiles a query view's SQL as a subscription: its join rule applies."""

    async def body() -> None:
        client = await RawClient.connect(server.ws_url, "faults")
        text = await subscription_error(client, 1, "SELECT * FROM unindexed")
        assert text == (
            "Error materializing view `unindexed`: Subscriptions require indexes on join columns"
        )
        await client.close()

    run(body)


def test_a_dying_set_is_reported_before_the_transactions_updates(
    server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query that cannot be brought up to date (simulated: evaluating ``switch`` raises)
    kills its set, and the client hears so before the same transaction's updates."""
    schema = server.runtime("faults").database.schema
    real = _Evaluator.table_update_rows

    def failing(self: _Evaluator, query: SubscribedQuery) -> Any:
        if query.table == "switch":
            raise RuntimeError("boom")
        return real(self, query)

    monkeypatch.setattr(_Evaluator, "table_update_rows", failing)

    async def body() -> None:
        caller = await RawClient.connect(server.ws_url, "faults")
        observer = await RawClient.connect(server.ws_url, "faults")
        for set_id, query in ((1, "SELECT * FROM switch"), (2, "SELECT * FROM note")):
            await observer.send(SubscribeMsg(set_id, QuerySetId(set_id), [query]))
            await observer.expect(SubscribeAppliedMsg)
        await caller.send(CallReducerMsg(1, 0, "add_switch", encode_args(schema, "add_switch", 1)))
        await caller.expect(ReducerResultMsg)
        await caller.send(
            CallReducerMsg(
                2, 0, "break_switch_and_note", encode_args(schema, "break_switch_and_note", 1)
            )
        )
        await caller.expect(ReducerResultMsg)
        first = await observer.expect(SubscriptionErrorMsg)
        assert (first.request_id, first.query_set_id) == (None, QuerySetId(1))
        assert first.error == "RuntimeError: boom, executing: `SELECT * FROM switch`"
        second = await observer.expect(TransactionUpdateMsg)
        assert [qs.query_set_id for qs in second.query_sets] == [QuerySetId(2)]
        await caller.close()
        await observer.close()

    run(body)


def test_st_client_is_public(server: LocalServer) -> None:
    async def body() -> None:
        watcher = await RawClient.connect(server.ws_url, "game")
        assert watcher.initial is not None
        await watcher.send(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM st_client"]))
        applied = await watcher.expect(SubscribeAppliedMsg)
        assert [t.table for t in applied.rows.tables] == ["st_client"]
        assert len(applied.rows.tables[0].rows) == 1  # the watcher itself
        other = await RawClient.connect(server.ws_url, "game")
        update = await watcher.expect(TransactionUpdateMsg)
        [table] = update.query_sets[0].tables
        [rows] = table.rows
        assert table.table_name == "st_client" and isinstance(rows, PersistentTableRows)
        assert len(rows.inserts) == 1 and len(rows.deletes) == 0
        status, _, answer = http_request(
            "POST", f"{server.url}/v1/database/game/sql", "SELECT COUNT(*) AS n FROM st_client"
        )
        # two sockets plus the SQL request's own short-lived connection
        assert status == 200 and json.loads(answer)[0]["rows"] == [[3]]
        for inserted, deleted in ((1, 0), (0, 1)):  # the SQL request's connection came and went
            update = await watcher.expect(TransactionUpdateMsg)
            [rows] = update.query_sets[0].tables[0].rows
            assert isinstance(rows, PersistentTableRows)
            assert (len(rows.inserts), len(rows.deletes)) == (inserted, deleted)
        await other.close()
        update = await watcher.expect(TransactionUpdateMsg)
        [rows] = update.query_sets[0].tables[0].rows
        assert isinstance(rows, PersistentTableRows) and len(rows.deletes) == 1
        await watcher.close()

    run(body)
