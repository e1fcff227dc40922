"""Subscription evaluation without sockets: initial rows, incremental deltas, joins, refcounts.

The join tests check the incremental evaluation against a full re-evaluation after every
transaction of a random workload: applying the deltas to the subscribed bag must always give
exactly the rows a fresh query returns.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest

from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.local_server.auth import identity_from_claims
from spacetimedb_sdk.local_server.host import Database
from spacetimedb_sdk.local_server.outcomes import CallStatus, CommitInfo
from spacetimedb_sdk.local_server.subscriptions import (
    ClientKey,
    QuerySetInUseError,
    SubscriptionManager,
)
from spacetimedb_sdk.messages import (
    EventTableRows,
    OneOffQueryMsg,
    PersistentTableRows,
    QuerySetId,
    QuerySetUpdate,
    SubscribeAppliedMsg,
    SubscribeMsg,
    SubscriptionErrorMsg,
    UnsubscribeAppliedMsg,
    UnsubscribeFlags,
    UnsubscribeMsg,
)
from spacetimedb_sdk.values import Err, Ok
from tests.local_server_support import GAME_MODULE, encode_args

OWNER = identity_from_claims("localhost", "owner")
ALICE = identity_from_claims("localhost", "alice")
BOB = identity_from_claims("localhost", "bob")


class Harness:
    """A game database, a subscription manager and the updates of every commit."""

    def __init__(self) -> None:
        self.db = Database.open("game", GAME_MODULE, owner=OWNER)
        self.subs = SubscriptionManager(self.db)
        self.updates: list[dict[ClientKey, list[QuerySetUpdate]]] = []
        self.db.add_commit_listener(self._on_commit)
        self.conns: dict[str, ConnectionId] = {}

    def _on_commit(self, info: CommitInfo) -> None:
        self.updates.append(self.subs.transaction_updates(info.delta).updates)

    def client(self, name: str, identity: Identity) -> ConnectionId:
        conn = ConnectionId.random()
        self.conns[name] = conn
        self.subs.add_client(conn, identity)
        return conn

    def call(self, reducer: str, *args: Any, caller: Identity = OWNER) -> None:
        assert self.try_call(reducer, *args, caller=caller), reducer

    def try_call(self, reducer: str, *args: Any, caller: Identity = OWNER) -> bool:
        """Call a reducer; True if it committed (a user error is allowed)."""
        commits = len(self.updates)
        outcome = self.db.call_reducer(reducer, encode_args(self.db.schema, reducer, *args), caller)
        assert outcome.status in (CallStatus.OK, CallStatus.USER_ERROR), outcome
        assert len(self.updates) == commits + (outcome.status is CallStatus.OK)
        return outcome.status is CallStatus.OK

    def subscribe(self, conn: ConnectionId, set_id: int, *queries: str) -> SubscribeAppliedMsg:
        result = self.subs.subscribe(conn, SubscribeMsg(set_id, QuerySetId(set_id), list(queries)))
        assert isinstance(result, SubscribeAppliedMsg), result
        return result

    def last_update(self, conn: ConnectionId) -> list[QuerySetUpdate]:
        return self.updates[-1].get(conn, [])


@pytest.fixture
def h() -> Harness:
    return Harness()


def _rows_per_table(update: list[QuerySetUpdate]) -> dict[tuple[int, str], list[Any]]:
    out: dict[tuple[int, str], list[Any]] = {}
    for qs in update:
        for table in qs.tables:
            out.setdefault((qs.query_set_id.id, table.table_name), []).extend(table.rows)
    return out


def test_single_table_predicate_filters_the_delta(h: Harness) -> None:
    conn = h.client("a", ALICE)
    applied = h.subscribe(conn, 1, "SELECT * FROM player WHERE level > 5")
    assert [len(t.rows) for t in applied.rows.tables] == [0]
    h.call("add_player", "low", 3)
    assert h.last_update(conn) == []  # nothing matched: no update at all
    h.call("add_player", "high", 7)
    (update,) = h.last_update(conn)
    (table,) = update.tables
    (rows,) = table.rows
    assert isinstance(rows, PersistentTableRows)
    assert (len(rows.inserts), len(rows.deletes)) == (1, 0)
    h.call("set_level", 2, 2)  # leaves the result
    (rows,) = h.last_update(conn)[0].tables[0].rows
    assert isinstance(rows, PersistentTableRows)
    assert (len(rows.inserts), len(rows.deletes)) == (0, 1)
    h.call("set_level", 1, 9)  # enters the result
    (rows,) = h.last_update(conn)[0].tables[0].rows
    assert isinstance(rows, PersistentTableRows)
    assert (len(rows.inserts), len(rows.deletes)) == (1, 0)


def test_rows_are_delivered_once_per_matching_set_and_query(h: Harness) -> None:
    h.call("add_player", "p", 10)
    conn = h.client("a", ALICE)
    # Two different queries matching the same row in one set, a duplicate that is dropped,
    # and a second set with the same query.
    applied = h.subscribe(
        conn,
        1,
        "SELECT * FROM player",
        "SELECT * FROM player WHERE level = 10",
        "SELECT * FROM player",
    )
    assert [(t.table, len(t.rows)) for t in applied.rows.tables] == [("player", 1), ("player", 1)]
    h.subscribe(conn, 2, "SELECT * FROM player")
    h.call("set_level", 1, 10 + 0)  # no change: nothing
    assert h.last_update(conn) == []
    h.call("add_player", "q", 10)
    per = _rows_per_table(h.last_update(conn))
    assert [len(r.inserts) for r in per[(1, "player")] if isinstance(r, PersistentTableRows)] == [
        1,
        1,
    ]
    assert len(per[(2, "player")]) == 1


def test_subscribe_all_tables_skips_event_and_private_tables(h: Harness) -> None:
    public = h.subscribe(h.client("a", ALICE), 1, "select  *  from  *")
    assert sorted(t.table for t in public.rows.tables) == ["counter", "item", "player"]
    owned = h.subscribe(h.client("o", OWNER), 1, "SELECT * FROM *")
    assert sorted(t.table for t in owned.rows.tables) == [
        "banned",
        "counter",
        "item",
        "player",
        "secret",
        "tick_schedule",
    ]


def test_private_tables_are_unknown_to_other_identities(h: Harness) -> None:
    conn = h.client("a", ALICE)
    result = h.subs.subscribe(conn, SubscribeMsg(1, QuerySetId(1), ["SELECT * FROM secret"]))
    assert isinstance(result, SubscriptionErrorMsg)
    assert result.request_id == 1
    assert "no such table" in result.error
    one_off = h.subs.one_off_query(ALICE, OneOffQueryMsg(2, "SELECT * FROM secret"))
    assert isinstance(one_off.result, Err)
    h.call("add_secret", 1, "s")
    owner_view = h.subs.one_off_query(OWNER, OneOffQueryMsg(3, "SELECT * FROM secret"))
    assert isinstance(owner_view.result, Ok)
    assert len(owner_view.result.value.tables[0].rows) == 1


def test_event_tables_have_no_initial_rows_and_publish_inserts(h: Harness) -> None:
    conn = h.client("a", ALICE)
    applied = h.subscribe(conn, 1, "SELECT * FROM damage WHERE amount > 1")
    assert len(applied.rows.tables[0].rows) == 0
    h.call("hit", 1, 1)
    assert h.last_update(conn) == []
    h.call("hit", 1, 5)
    (rows,) = h.last_update(conn)[0].tables[0].rows
    assert isinstance(rows, EventTableRows)
    assert len(rows.events) == 1
    again = h.subs.one_off_query(ALICE, OneOffQueryMsg(9, "SELECT * FROM damage"))
    assert isinstance(again.result, Ok)
    assert len(again.result.value.tables[0].rows) == 0


def test_sender_parameter_is_bound_per_subscriber(h: Harness) -> None:
    h.call("ban", ALICE)
    alice, owner = h.client("a", ALICE), h.client("o", OWNER)
    mine = h.subscribe(owner, 1, "SELECT * FROM banned WHERE identity = :sender")
    assert len(mine.rows.tables[0].rows) == 0
    h.call("ban", OWNER)
    (update,) = h.last_update(owner)
    assert len(update.tables[0].rows) == 1
    assert h.last_update(alice) == []


def test_query_set_ids_and_unsubscribe(h: Harness) -> None:
    h.call("add_player", "p", 1)
    conn = h.client("a", ALICE)
    h.subscribe(conn, 4, "SELECT * FROM player")
    with pytest.raises(QuerySetInUseError):
        h.subs.subscribe(conn, SubscribeMsg(2, QuerySetId(4), ["SELECT * FROM item"]))
    dropped = h.subs.unsubscribe(
        conn, UnsubscribeMsg(3, QuerySetId(4), UnsubscribeFlags.SEND_DROPPED_ROWS)
    )
    assert isinstance(dropped, UnsubscribeAppliedMsg)
    assert dropped.rows is not None
    assert len(dropped.rows.tables[0].rows) == 1
    unknown = h.subs.unsubscribe(conn, UnsubscribeMsg(5, QuerySetId(4), UnsubscribeFlags.DEFAULT))
    assert isinstance(unknown, SubscriptionErrorMsg)
    assert unknown.request_id == 5
    h.subscribe(conn, 4, "SELECT * FROM item")  # the id is free again
    h.call("add_player", "q", 1)
    assert h.last_update(conn) == []  # the player set is gone


def test_join_rules_are_enforced(h: Harness) -> None:
    conn = h.client("a", ALICE)
    bad = [
        "SELECT * FROM item JOIN player ON item.owner_id = player.id",  # SELECT * over a join
        "SELECT item.* FROM item JOIN player ON item.name = player.name",  # no index
        # no ON: the real planner can only loop, whatever the WHERE links
        "SELECT item.* FROM item CROSS JOIN player WHERE item.owner_id = player.id",
        "SELECT player.* FROM player JOIN item a ON a.owner_id = player.id JOIN item b"
        " ON b.owner_id = player.id",  # three tables
    ]
    for set_id, sql in enumerate(bad):
        result = h.subs.subscribe(conn, SubscribeMsg(set_id, QuerySetId(set_id), [sql]))
        assert isinstance(result, SubscriptionErrorMsg), sql


def _apply(bag: Counter[bytes], updates: list[QuerySetUpdate]) -> None:
    for qs in updates:
        for table in qs.tables:
            for rows in table.rows:
                assert isinstance(rows, PersistentTableRows)
                bag.update(rows.inserts.rows())
                bag.subtract(rows.deletes.rows())
    for key in [k for k, v in bag.items() if v == 0]:
        del bag[key]
    assert all(v > 0 for v in bag.values()), "a delete without a matching insert"


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT item.* FROM item JOIN player ON item.owner_id = player.id WHERE player.level > 5",
        "SELECT player.* FROM player JOIN item ON item.owner_id = player.id WHERE item.name = 'sword'",
        "SELECT i.* FROM item i JOIN player p ON p.id = i.owner_id",
        "SELECT item.* FROM item JOIN player ON item.owner_id = player.id "
        "WHERE player.level < 4 AND item.name <> 'x'",
    ],
)
def test_incremental_join_matches_full_evaluation(h: Harness, sql: str) -> None:
    rng = random.Random(sql)
    conn = h.client("a", ALICE)
    applied = h.subscribe(conn, 1, sql)
    bag: Counter[bytes] = Counter(applied.rows.tables[0].rows.rows())
    players = 0
    commits = 0
    for step in range(150):
        op = rng.random()
        if op < 0.25 or players == 0:
            committed = h.try_call("add_player", f"p{players}", rng.randrange(10))
            players += 1
        elif op < 0.6:
            committed = h.try_call(
                "add_item", rng.randrange(1, players + 2), rng.choice(["sword", "shield"])
            )
        elif op < 0.85:
            committed = h.try_call("set_level", rng.randrange(1, players + 1), rng.randrange(10))
        else:
            committed = h.try_call("delete_player", rng.randrange(1, players + 1))
        if not committed:
            continue
        commits += 1
        _apply(bag, h.last_update(conn))
        fresh = h.subs.one_off_query(ALICE, OneOffQueryMsg(0, sql))
        assert isinstance(fresh.result, Ok)
        assert bag == Counter(fresh.result.value.tables[0].rows.rows()), f"diverged at {step}"
    assert commits > 100
    assert bag, "the workload should leave some joined rows"


def test_failed_reducers_produce_no_update(h: Harness) -> None:
    conn = h.client("a", ALICE)
    h.subscribe(conn, 1, "SELECT * FROM player")
    commits = len(h.updates)
    outcome = h.db.call_reducer("fail", encode_args(h.db.schema, "fail", "nope"), ALICE)
    assert outcome.status is CallStatus.USER_ERROR
    assert len(h.updates) == commits
