"""``row_limit``: owner-only, kept with the database, checked while queries run (HTTP and WS)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from spacetimedb_sdk.algebraic_type import U32
from spacetimedb_sdk.local_server.pytest_plugin import ServerFactory, spacetimedb_local_server
from spacetimedb_sdk.local_server.server import LocalServer
from spacetimedb_sdk.local_server.sql import (
    BoundQuery,
    BoundSelect,
    Query,
    RowBudget,
    RowLimitExceededError,
    SimpleCatalog,
    TableInfo,
    bind_query,
    bind_sql,
    parse_one_off_query,
    parse_sql,
)
from spacetimedb_sdk.messages import (
    OneOffQueryMsg,
    OneOffQueryResultMsg,
    QuerySetId,
    SubscribeAppliedMsg,
    SubscribeMsg,
    SubscriptionErrorMsg,
)
from spacetimedb_sdk.values import Err, Ok
from tests.local_server_support import GAME_MODULE, RawClient, http_request

__all__ = ["spacetimedb_local_server"]

NOT_AUTHORIZED = re.compile(r"Caller [0-9a-f]{64} is not authorized to run SQL DML statements")
OVER_LIMIT = "scans more than the row_limit of"


def sql(server: LocalServer, text: str, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else None
    status, _, body = http_request("POST", f"{server.url}/v1/database/game/sql", text, headers)
    return status, json.loads(body) if status == 200 else body.decode()


def add_players(server: LocalServer, count: int, level: int = 1) -> None:
    values = ", ".join(f"(0, 'p{i}', {level})" for i in range(count))
    status, body = sql(
        server, f"INSERT INTO player (id, name, level) VALUES {values}", server.owner_token
    )
    assert status == 200, body


# ================================================================================ who may set it


def test_only_the_owner_may_set_row_limit(spacetimedb_local_server: ServerFactory) -> None:
    server = spacetimedb_local_server({"game": GAME_MODULE})
    add_players(server, 3)
    status, body = sql(server, "SET row_limit = 0")  # an anonymous caller
    assert status == 400 and NOT_AUTHORIZED.fullmatch(body), body
    assert sql(server, "SHOW row_limit")[1][0]["rows"] == []  # unchanged: never set
    assert sql(server, "SELECT * FROM player")[1][0]["rows"] != []

    owner = server.owner_token
    assert sql(server, "SET row_limit = 2", owner)[0] == 200
    assert sql(server, "SHOW row_limit")[1][0]["rows"] == [[2]]
    # The owner's queries are never limited; everyone else's are.
    assert len(sql(server, "SELECT * FROM player", owner)[1][0]["rows"]) == 3
    status, body = sql(server, "SELECT * FROM player")
    assert status == 400 and f"{OVER_LIMIT} 2 rows" in body
    assert sql(server, "SELECT * FROM player LIMIT 1")[0] == 200  # scans one row only
    assert sql(server, "SET row_limit = 5", owner)[0] == 200
    assert len(sql(server, "SELECT * FROM player")[1][0]["rows"]) == 3


def test_row_limit_is_kept_with_the_database(
    spacetimedb_local_server: ServerFactory, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = spacetimedb_local_server({"game": GAME_MODULE}, data_dir=data)
    add_players(first, 3)
    assert sql(first, "SET row_limit = 1", first.owner_token)[0] == 200
    first.stop_thread()

    again = spacetimedb_local_server({"game": GAME_MODULE}, data_dir=data)
    assert sql(again, "SHOW row_limit")[1][0]["rows"] == [[1]]
    status, body = sql(again, "SELECT * FROM player")
    assert status == 400 and f"{OVER_LIMIT} 1 rows" in body


# ================================================================================ WebSocket


def test_row_limit_bounds_new_subscriptions_and_one_off_queries(
    spacetimedb_local_server: ServerFactory,
) -> None:
    server = spacetimedb_local_server({"game": GAME_MODULE})
    add_players(server, 4)
    assert sql(server, "SET row_limit = 3", server.owner_token)[0] == 200

    async def main() -> None:
        anonymous = await RawClient.connect(server.ws_url, "game")
        owner = await RawClient.connect(server.ws_url, "game", token=server.owner_token)
        try:
            await anonymous.send(SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM player"]))
            refused = await anonymous.expect(SubscriptionErrorMsg)
            assert f"{OVER_LIMIT} 3 rows" in refused.error
            # One budget covers the whole set: two queries of 2 rows each exceed 3.
            await anonymous.send(
                SubscribeMsg(
                    2,
                    QuerySetId(2),
                    ["SELECT * FROM player WHERE id < 3", "SELECT * FROM player WHERE id > 2"],
                )
            )
            assert OVER_LIMIT in (await anonymous.expect(SubscriptionErrorMsg)).error
            await anonymous.send(OneOffQueryMsg(7, "SELECT * FROM player"))
            answer = await anonymous.expect(OneOffQueryResultMsg)
            assert isinstance(answer.result, Err) and OVER_LIMIT in answer.result.error
            # The owner is not limited.
            await owner.send(SubscribeMsg(3, QuerySetId(3), ["SELECT * FROM player"]))
            applied = await owner.expect(SubscribeAppliedMsg)
            assert len(applied.rows.tables[0].rows) == 4
            await owner.send(OneOffQueryMsg(8, "SELECT * FROM player"))
            answer = await owner.expect(OneOffQueryResultMsg)
            assert isinstance(answer.result, Ok)
        finally:
            await anonymous.close()
            await owner.close()

    asyncio.run(main())


# ================================================================================ stopping early


def test_a_huge_self_join_is_stopped_as_soon_as_the_limit_is_passed(
    spacetimedb_local_server: ServerFactory,
) -> None:
    """1,500 players all on one level: the self-join has 2.25 million pairs. Evaluating them all
    takes seconds; with ``row_limit = 100`` the refusal must come back at once."""
    server = spacetimedb_local_server({"game": GAME_MODULE})
    add_players(server, 1500)
    assert sql(server, "SET row_limit = 100", server.owner_token)[0] == 200
    join = "SELECT a.* FROM player a JOIN player b ON a.level = b.level"
    started = time.perf_counter()
    status, body = sql(server, join)
    elapsed = time.perf_counter() - started
    assert status == 400 and f"{OVER_LIMIT} 100 rows" in body
    assert elapsed < 1.0, f"the limited self-join took {elapsed:.2f} s"


class _CountingScan:
    """A ``scan`` that counts the rows it hands out."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.handed_out = 0

    def __call__(self, _table: str) -> Iterator[dict[str, Any]]:
        for i in range(self.size):
            self.handed_out += 1
            yield {"x": i % 3}


CATALOG = SimpleCatalog([TableInfo.of("t", [("x", U32)], indexed_columns=frozenset({"x"}))])


@pytest.mark.parametrize(
    "text",
    [
        "SELECT a.* FROM t a JOIN t b ON a.x = b.x",  # hash join
        "SELECT a.* FROM t a CROSS JOIN t b WHERE a.x = b.x",  # nested loop
        "SELECT COUNT(*) AS n FROM t a JOIN t b ON a.x = b.x JOIN t c ON b.x = c.x",
    ],
)
def test_join_evaluation_stops_once_the_budget_is_spent(text: str) -> None:
    bound = bind_sql(parse_sql(text), CATALOG)
    assert isinstance(bound, BoundSelect)
    scan = _CountingScan(1000)  # a pairwise join alone would build ~333,000 combinations
    budget = RowBudget(2500)
    with pytest.raises(RowLimitExceededError, match="more than the row_limit of 2500 rows"):
        bound.execute(scan, budget)
    assert budget.used == 2501  # stopped at the first row past the limit
    assert scan.handed_out <= 2000  # at most the two scans, never more
    plain = bind_sql(parse_sql("SELECT * FROM t"), CATALOG)
    assert isinstance(plain, BoundSelect)
    assert len(plain.execute(_CountingScan(5))) == 5  # no budget, no limit


def test_query_evaluation_charges_scanned_rows() -> None:
    query = parse_one_off_query("SELECT * FROM t WHERE x = 7")
    assert isinstance(query, Query)
    bound = bind_query(query, CATALOG)
    assert isinstance(bound, BoundQuery)
    assert bound.evaluate(_CountingScan(10), RowBudget(10)) == []  # 10 scanned, none match
    with pytest.raises(RowLimitExceededError):
        bound.evaluate(_CountingScan(11), RowBudget(10))
    join = bind_query(parse_one_off_query("SELECT a.* FROM t a JOIN t b ON a.x = b.x"), CATALOG)
    with pytest.raises(RowLimitExceededError):
        join.evaluate(_CountingScan(100), RowBudget(500))
