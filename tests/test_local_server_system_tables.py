"""The system tables over real sockets: ``st_table``, ``st_column``, ``st_index``,
``st_constraint``, ``st_sequence``, ``st_row_level_security``, ``st_scheduled``, ``st_var``,
``st_view``, ``st_event_table``, ``st_client``, ``st_module``, the view tables and the accessor
tables have the real server's columns and describe the served module; any client reads them
through ``/sql``, one-off queries and subscriptions; they are read-only and ``SELECT * FROM *``
leaves them out, as on the real server.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from spacetimedb_sdk.algebraic_type import Typespace
from spacetimedb_sdk.local_server.pytest_plugin import ServerFactory, spacetimedb_local_server
from spacetimedb_sdk.local_server.server import LocalServer
from spacetimedb_sdk.local_server.system_tables import SYSTEM_TABLES
from spacetimedb_sdk.messages import (
    OneOffQueryMsg,
    OneOffQueryResultMsg,
    PersistentTableRows,
    QuerySetId,
    SubscribeAppliedMsg,
    SubscribeMsg,
    TransactionUpdateMsg,
)
from spacetimedb_sdk.row_list import BsatnRowList
from spacetimedb_sdk.values import Ok
from tests.local_server_support import RawClient, decode_rows, http_request

__all__ = ["spacetimedb_local_server"]

MODULE = Path(__file__).resolve().parent / "local_server_modules" / "catalog_probe.py"
I128_MAX = (1 << 127) - 1


@pytest.fixture
def server(spacetimedb_local_server: ServerFactory) -> LocalServer:
    return spacetimedb_local_server({"t": MODULE})


def run(coro_fn: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro_fn(), 60))


def sql(server: LocalServer, text: str, token: str | None = None) -> dict[str, Any]:
    """One statement's answer (``schema`` and ``rows``) from ``/sql``."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    status, _, body = http_request("POST", f"{server.url}/v1/database/t/sql", text, headers)
    assert status == 200, body
    answer: dict[str, Any] = json.loads(body)[0]
    return answer


def sql_error(server: LocalServer, text: str, token: str) -> str:
    headers = {"Authorization": f"Bearer {token}"}
    status, _, body = http_request("POST", f"{server.url}/v1/database/t/sql", text, headers)
    assert status == 400, body
    return body.decode()


def columns(answer: dict[str, Any]) -> list[str]:
    return [e["name"]["some"] for e in answer["schema"]["elements"]]


def decoded(name: str, rows: BsatnRowList) -> list[Any]:
    return decode_rows(rows, SYSTEM_TABLES[name].row_type, Typespace(()))


def test_each_table_has_the_real_columns(server: LocalServer) -> None:
    expected = {
        "st_table": ["table_id", "table_name", "table_type", "table_access", "table_primary_key"],
        "st_column": ["table_id", "col_pos", "col_name", "col_type"],
        "st_index": ["index_id", "table_id", "index_name", "index_algorithm"],
        "st_constraint": ["constraint_id", "constraint_name", "table_id", "constraint_data"],
        "st_sequence": [
            "sequence_id",
            "sequence_name",
            "table_id",
            "col_pos",
            "increment",
            "start",
            "min_value",
            "max_value",
            "allocated",
        ],
        "st_row_level_security": ["table_id", "sql"],
        "st_scheduled": ["schedule_id", "table_id", "reducer_name", "schedule_name", "at_column"],
        "st_var": ["name", "value"],
        "st_view": ["view_id", "view_name", "table_id", "is_public", "is_anonymous"],
        "st_event_table": ["table_id"],
        "st_client": ["identity", "connection_id"],
    }
    for name, names in expected.items():
        # Anyone may read them (no token: a fresh identity, not the owner).
        assert columns(sql(server, f"SELECT * FROM {name}")) == names, name


def test_the_rows_describe_the_module(server: LocalServer) -> None:
    tables = {r[1]: r for r in sql(server, "SELECT * FROM st_table")["rows"]}
    # System tables keep the real fixed ids; the module's tables follow the reserved range.
    assert tables["st_table"] == [1, "st_table", "system", "public", [0, [0]]]
    assert tables["st_event_table"][0] == 17
    assert tables["note"] == [4097, "note", "user", "public", [0, [0]]]
    assert tables["secret"][2:4] == ["user", "private"]
    assert tables["ping"][4] == [1, []]  # no primary key: `none`
    note, ping, ticks = tables["note"][0], tables["ping"][0], tables["tick_schedule"][0]

    cols = sql(server, f"SELECT * FROM st_column WHERE table_id = {note}")["rows"]
    assert [(c[1], c[2]) for c in cols] == [(0, "id"), (1, "author"), (2, "slug"), (3, "topic")]
    # col_type is the column's type in BSATN: tag 13 (U64) for `id`, tag 4 (String) for `slug`.
    assert cols[0][3] == "0d" and cols[2][3] == "04"

    indexes = {r[2]: r for r in sql(server, "SELECT * FROM st_index")["rows"]}
    assert indexes["note_author_idx_btree"][1:] == [note, "note_author_idx_btree", [1, [[1]]]]
    assert indexes["note_topic_idx_hash"][3] == [3, [[3]]]  # Hash { columns: [3] }
    assert all(r[0] >= 4097 for r in indexes.values())

    constraints = {r[1]: r for r in sql(server, "SELECT * FROM st_constraint")["rows"]}
    assert constraints["note_slug_key"][2:] == [note, [0 + 1, [[2]]]]  # Unique { columns: [2] }

    sequences = sql(server, "SELECT * FROM st_sequence WHERE table_id = " + str(note))["rows"]
    assert sequences == [[sequences[0][0], "note_id_seq", note, 0, 1, 1, 1, I128_MAX, 1]]

    rls = sql(server, "SELECT * FROM st_row_level_security")["rows"]
    assert rls == [[note, "SELECT * FROM note WHERE author = :sender"]]

    [schedule] = sql(server, "SELECT * FROM st_scheduled")["rows"]
    assert schedule[1:3] == [ticks, "tick"] and schedule[4] == 1

    [view] = sql(server, "SELECT * FROM st_view")["rows"]
    assert view[1] == "all_secrets" and view[3:] == [True, True]

    assert sql(server, "SELECT * FROM st_event_table")["rows"] == [[ping]]
    # Joins between system tables work like any others.
    joined = "SELECT t.* FROM st_table t JOIN st_event_table e ON t.table_id = e.table_id"
    assert [r[1] for r in sql(server, joined)["rows"]] == ["ping"]


def test_st_var_follows_set(server: LocalServer) -> None:
    assert sql(server, "SELECT * FROM st_var")["rows"] == []
    sql(server, "SET row_limit = 50", server.owner_token)
    # StVarValue::U64 is variant 8.
    assert sql(server, "SELECT * FROM st_var")["rows"] == [["row_limit", [8, 50]]]
    assert sql(server, "SHOW row_limit", server.owner_token)["rows"] == [[50]]


def test_system_tables_are_read_only(server: LocalServer) -> None:
    for statement in ("DELETE FROM st_table", "UPDATE st_view SET is_public = false"):
        error = sql_error(server, statement, server.owner_token)
        assert "is a system table" in error, error
    assert len(sql(server, "SELECT * FROM st_view")["rows"]) == 1


def test_one_off_queries_and_subscriptions_read_them(server: LocalServer) -> None:
    async def body() -> None:
        alice = await RawClient.connect(server.ws_url, "t")
        await alice.send(OneOffQueryMsg(1, "SELECT * FROM st_index WHERE table_id = 4097"))
        answer = await alice.expect(OneOffQueryResultMsg)
        assert isinstance(answer.result, Ok)
        found = decoded("st_index", answer.result.value.tables[0].rows)
        assert sorted(r["index_name"] for r in found) == [
            "note_author_idx_btree",
            "note_id_idx_btree",
            "note_slug_idx_btree",
            "note_topic_idx_hash",
        ]

        await alice.send(SubscribeMsg(2, QuerySetId(1), ["SELECT * FROM st_table"]))
        applied = await alice.expect(SubscribeAppliedMsg)
        [rows] = applied.rows.tables
        assert rows.table == "st_table"
        names = {r["table_name"] for r in decoded("st_table", rows.rows)}
        assert {"note", "secret", "ping", "tick_schedule", "st_table", "st_client"} <= names

        # st_client is live: another connection shows up as an update.
        await alice.send(SubscribeMsg(3, QuerySetId(2), ["SELECT * FROM st_client"]))
        applied = await alice.expect(SubscribeAppliedMsg)
        assert alice.initial is not None
        me = alice.initial.identity.value
        assert [r["identity"] for r in decoded("st_client", applied.rows.tables[0].rows)] == [me]
        bob = await RawClient.connect(server.ws_url, "t")
        update = await alice.expect(TransactionUpdateMsg)
        [change] = update.query_sets[0].tables[0].rows
        assert isinstance(change, PersistentTableRows) and bob.initial is not None
        new = [r["identity"] for r in decoded("st_client", change.inserts)]
        assert new == [bob.initial.identity.value]
        await bob.close()
        await alice.close()

    run(body)


def test_select_all_tables_leaves_system_tables_out(server: LocalServer) -> None:
    async def body() -> None:
        owner = await RawClient.connect(server.ws_url, "t", token=server.owner_token)
        await owner.send(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM *"]))
        applied = await owner.expect(SubscribeAppliedMsg)
        names = {t.table for t in applied.rows.tables}
        assert names and not any(n.startswith("st_") for n in names), names
        await owner.close()

    run(body)


def test_set_updates_st_var_subscribers_and_later_reads(server: LocalServer) -> None:
    async def body() -> None:
        alice = await RawClient.connect(server.ws_url, "t")
        await alice.send(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM st_var"]))
        applied = await alice.expect(SubscribeAppliedMsg)
        assert decoded("st_var", applied.rows.tables[0].rows) == []
        sql(server, "SET row_limit = 7", server.owner_token)
        # As on the real server, where SET writes st_var in a transaction.
        update = await alice.expect(TransactionUpdateMsg)
        [change] = update.query_sets[0].tables[0].rows
        assert isinstance(change, PersistentTableRows)
        [row] = decoded("st_var", change.inserts)
        assert (row["name"], row["value"].value) == ("row_limit", 7)
        sql(server, "SET row_limit = 9", server.owner_token)
        update = await alice.expect(TransactionUpdateMsg)
        [change] = update.query_sets[0].tables[0].rows
        assert isinstance(change, PersistentTableRows)
        assert [r["value"].value for r in decoded("st_var", change.deletes)] == [7]
        assert [r["value"].value for r in decoded("st_var", change.inserts)] == [9]
        bob = await RawClient.connect(server.ws_url, "t")
        await bob.send(OneOffQueryMsg(2, "SELECT * FROM st_var"))
        answer = await bob.expect(OneOffQueryResultMsg)
        assert isinstance(answer.result, Ok)
        [row] = decoded("st_var", answer.result.value.tables[0].rows)
        assert (row["name"], row["value"].name, row["value"].value) == ("row_limit", "U64", 9)
        await bob.send(SubscribeMsg(3, QuerySetId(1), ["SELECT * FROM st_var"]))
        applied = await bob.expect(SubscribeAppliedMsg)
        assert len(decoded("st_var", applied.rows.tables[0].rows)) == 1
        await bob.close()
        await alice.close()

    run(body)


def test_the_module_view_and_accessor_tables_have_the_real_columns(server: LocalServer) -> None:
    expected = {
        "st_module": [
            "database_identity",
            "owner_identity",
            "program_kind",
            "program_hash",
            "program_bytes",
            "module_version",
        ],
        "st_view_param": ["view_id", "param_pos", "param_name", "param_type"],
        "st_view_column": ["view_id", "col_pos", "col_name", "col_type"],
        "st_view_sub": [
            "view_id",
            "arg_id",
            "identity",
            "num_subscribers",
            "has_subscribers",
            "last_called",
        ],
        "st_view_arg": ["id", "bytes"],
        "st_table_accessor": ["table_name", "accessor_name"],
        "st_index_accessor": ["index_name", "accessor_name"],
        "st_column_accessor": ["table_name", "col_name", "accessor_name"],
    }
    for name, names in expected.items():
        assert columns(sql(server, f"SELECT * FROM {name}")) == names, name
    # Their fixed ids, as listed in st_table.
    ids = {r[1]: r[0] for r in sql(server, "SELECT * FROM st_table")["rows"]}
    assert [ids[name] for name in expected] == [6, 13, 14, 15, 16, 18, 19, 20]


def test_st_module_describes_the_served_module(server: LocalServer) -> None:
    async def body() -> None:
        alice = await RawClient.connect(server.ws_url, "t")
        await alice.send(OneOffQueryMsg(1, "SELECT * FROM st_module"))
        answer = await alice.expect(OneOffQueryResultMsg)
        assert isinstance(answer.result, Ok)
        [row] = decoded("st_module", answer.result.value.tables[0].rows)
        runtime = server.runtime("t")
        assert row["database_identity"] == runtime.identity.value
        assert row["owner_identity"] == runtime.owner_identity.value
        assert row["program_kind"] == 2
        source = MODULE.read_bytes()
        assert bytes(row["program_bytes"]) == source
        digest = hashlib.sha3_256(source).digest()
        assert row["program_hash"] == int.from_bytes(digest, "little")
        assert row["module_version"] == "0.0.1"
        await alice.close()

    run(body)


def test_view_tables_describe_views_and_keep_no_subscriptions(server: LocalServer) -> None:
    async def body() -> None:
        # A subscriber to the view: the real server tracks it in memory, not in st_view_sub.
        alice = await RawClient.connect(server.ws_url, "t")
        await alice.send(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM all_secrets"]))
        await alice.expect(SubscribeAppliedMsg)
        joined = (
            "SELECT c.* FROM st_view_column c JOIN st_view v ON c.view_id = v.view_id"
            " WHERE v.view_name = 'all_secrets'"
        )
        [view] = sql(server, "SELECT * FROM st_view")["rows"]
        # One column `id: u32` (BSATN type tag 11).
        assert sql(server, joined)["rows"] == [[view[0], 0, "id", "0b"]]
        for empty in ("st_view_param", "st_view_sub", "st_view_arg"):
            assert sql(server, f"SELECT * FROM {empty}")["rows"] == [], empty
        await alice.close()

    run(body)


def test_accessor_tables_map_canonical_names_to_source_names(server: LocalServer) -> None:
    tables = sql(server, "SELECT * FROM st_table_accessor")["rows"]
    assert ["player_scores", "playerScores"] in tables
    assert ["note", "note"] in tables and ["all_secrets", "all_secrets"] in tables
    assert len(tables) == 6  # five tables and one view
    cols = sql(server, "SELECT * FROM st_column_accessor WHERE table_name = 'player_scores'")
    assert cols["rows"] == [
        ["player_scores", "player_name", "playerName"],
        ["player_scores", "high_score", "highScore"],
    ]
    indexes = {r[0]: r[1] for r in sql(server, "SELECT * FROM st_index_accessor")["rows"]}
    assert indexes["player_scores_player_name_idx_btree"] == "playerScores_playerName_idx_btree"
    assert indexes["note_author_idx_btree"] == "note_author_idx_btree"


def test_st_connection_credentials_is_hidden_like_a_private_table(server: LocalServer) -> None:
    # For a non-owner a private table does not exist; st_connection_credentials answers the same.
    token = server.issuer.mint("someone-else")[1]
    hidden = sql_error(server, "SELECT * FROM st_connection_credentials", token)
    private = sql_error(server, "SELECT * FROM secret", token)
    assert hidden.replace("st_connection_credentials", "secret") == private
