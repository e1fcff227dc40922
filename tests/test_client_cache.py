"""Client cache semantics (docs/protocol.md#subscription-semantics): refcounts by row bytes, per-set multisets,
inserts before deletes, net events, update pairing across the whole message, event tables,
lazy decoding and indexes. Driven through an offline connection: exact callback sequences."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spacetimedb_sdk.client import Range
from spacetimedb_sdk.client.events import EventContext
from spacetimedb_sdk.core.sorted_keys import SortedKeys
from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.messages import QuerySetId, SubscriptionErrorMsg, UnsubscribeAppliedMsg
from tests.client_helpers import (
    applied,
    codec,
    connected,
    events,
    persistent,
    row,
    score,
    set_update,
    table_cache,
    transaction,
    user,
)


class Recorder:
    """Records row callbacks as ``(event kind, table, op, value...)``."""

    def __init__(self, conn: Any, *tables: str) -> None:
        self.log: list[tuple[Any, ...]] = []
        for name in tables:
            handle = conn.db[name]
            handle.on_insert(self._cb(name, "insert"))
            if hasattr(handle, "on_delete"):
                handle.on_delete(self._cb(name, "delete"))
            if hasattr(handle, "on_update"):
                handle.on_update(self._cb(name, "update"))

    def _cb(self, table: str, op: str) -> Any:
        def record(ctx: EventContext, *rows: Any) -> None:
            self.log.append((ctx.event.kind, table, op, *(_short(r) for r in rows)))

        return record

    def take(self) -> list[tuple[Any, ...]]:
        out, self.log = self.log, []
        return out


def _short(r: Any) -> Any:
    if "identity" in r:
        return (r["identity"].value & 0xFFFF, r["name"])
    if "id" in r:
        return r["id"]
    return tuple(r.values())


def subscribed(conn: Any, socket: Any, queries: list[str], **tables: list[bytes]) -> Any:
    handle = conn.subscription_builder().subscribe(queries)
    socket.deliver(applied(handle.query_set_id, **tables))
    return handle


def users(conn: Any) -> list[tuple[int, str | None]]:
    return sorted(_short(r) for r in conn.db.user.iter())


# ------------------------------------------------------------------------------ refcounting


def test_overlapping_query_sets_are_refcounted() -> None:
    conn, socket = connected()
    rec = Recorder(conn, "user")
    a = subscribed(conn, socket, ["SELECT * FROM user"], user=[user(1), user(2)])
    assert rec.take() == [
        ("subscribe_applied", "user", "insert", (1, None)),
        ("subscribe_applied", "user", "insert", (2, None)),
    ]
    b = subscribed(conn, socket, ["SELECT * FROM user WHERE x"], user=[user(2), user(3)])
    assert rec.take() == [("subscribe_applied", "user", "insert", (3, None))]  # 2 already there
    assert conn.db.user.count() == 3
    assert table_cache(conn, "user").count_of(user(2)) == 2

    a.unsubscribe()
    socket.deliver(UnsubscribeAppliedMsg(9, QuerySetId(a.query_set_id), None))
    assert rec.take() == [("unsubscribe_applied", "user", "delete", (1, None))]
    assert users(conn) == [(2, None), (3, None)]

    b.unsubscribe()
    socket.deliver(UnsubscribeAppliedMsg(10, QuerySetId(b.query_set_id), None))
    assert rec.take() == [
        ("unsubscribe_applied", "user", "delete", (2, None)),
        ("unsubscribe_applied", "user", "delete", (3, None)),
    ]
    assert conn.db.user.count() == 0
    assert a.is_ended and b.is_ended


def test_duplicate_deliveries_inside_one_message_count_twice() -> None:
    conn, socket = connected()
    rec = Recorder(conn, "user")
    handle = conn.subscription_builder().subscribe(["SELECT * FROM user", "SELECT * FROM user u"])
    from spacetimedb_sdk.messages import QueryRows, SingleTableRows, SubscribeAppliedMsg
    from tests.client_helpers import rows

    socket.deliver(
        SubscribeAppliedMsg(
            0,
            QuerySetId(handle.query_set_id),
            QueryRows(
                [SingleTableRows("user", rows(user(1))), SingleTableRows("user", rows(user(1)))]
            ),
        )
    )
    assert rec.take() == [("subscribe_applied", "user", "insert", (1, None))]
    assert table_cache(conn, "user").count_of(user(1)) == 2
    socket.deliver(transaction(set_update(handle.query_set_id, user=persistent([], [user(1)]))))
    assert rec.take() == []  # still delivered once
    assert conn.db.user.count() == 1


def test_a_set_failing_after_being_applied_drops_only_its_own_rows() -> None:
    conn, socket = connected()
    rec = Recorder(conn, "user")
    errors: list[str] = []
    a = subscribed(conn, socket, ["A"], user=[user(1), user(2)])
    b = conn.subscription_builder().on_error(lambda ctx, e: errors.append(str(e))).subscribe(["B"])
    socket.deliver(applied(b.query_set_id, user=[user(2), user(3)]))
    # b gains a row later, and loses one of its initial rows
    socket.deliver(transaction(set_update(b.query_set_id, user=persistent([user(4)], [user(3)]))))
    rec.take()
    socket.deliver(SubscriptionErrorMsg(None, QuerySetId(b.query_set_id), "b broke"))
    assert errors == ["b broke"]
    assert rec.take() == [("subscribe_error", "user", "delete", (4, None))]
    assert users(conn) == [(1, None), (2, None)]  # 2 is still delivered by a
    assert b.is_ended and not b.is_active and a.is_active


def test_inserts_are_applied_before_deletes() -> None:
    conn, socket = connected()
    rec = Recorder(conn, "message")
    msg = row("message", sender=Identity(1), sent=_ts(1), text="hi")
    handle = subscribed(conn, socket, ["M"], message=[msg])
    rec.take()
    # a join subscription may send delete r and insert r for the same row: no event, still there
    socket.deliver(transaction(set_update(handle.query_set_id, message=persistent([msg], [msg]))))
    assert rec.take() == []
    assert conn.db.message.count() == 1
    # a row inserted and deleted within one message: absent before and after, no event
    other = row("message", sender=Identity(2), sent=_ts(2), text="ephemeral")
    socket.deliver(
        transaction(set_update(handle.query_set_id, message=persistent([other], [other])))
    )
    assert rec.take() == []
    assert conn.db.message.count() == 1


def _ts(n: int) -> Any:
    from spacetimedb_sdk.timestamp import Timestamp

    return Timestamp(n)


def test_updates_are_paired_by_primary_key_across_query_sets() -> None:
    conn, socket = connected()
    rec = Recorder(conn, "user")
    a = subscribed(conn, socket, ["A"], user=[user(1, "old")])
    b = subscribed(conn, socket, ["B"], user=[])
    rec.take()
    # the delete arrives through set a, the insert through set b: one update
    socket.deliver(
        transaction(
            set_update(a.query_set_id, user=persistent([], [user(1, "old")])),
            set_update(b.query_set_id, user=persistent([user(1, "new")], [])),
        )
    )
    assert rec.take() == [("transaction", "user", "update", (1, "old"), (1, "new"))]
    assert users(conn) == [(1, "new")]


def test_tables_without_primary_key_never_update() -> None:
    conn, socket = connected()
    rec = Recorder(conn, "points")
    p1, p2 = row("points", x=1, y=1), row("points", x=1, y=2)
    handle = subscribed(conn, socket, ["P"], points=[p1])
    rec.take()
    socket.deliver(transaction(set_update(handle.query_set_id, points=persistent([p2], [p1]))))
    assert rec.take() == [
        ("transaction", "points", "insert", (1, 2)),
        ("transaction", "points", "delete", (1, 1)),
    ]


def test_a_delete_of_an_unknown_row_is_ignored(caplog: pytest.LogCaptureFixture) -> None:
    conn, socket = connected()
    handle = subscribed(conn, socket, ["U"], user=[user(1)])
    socket.deliver(transaction(set_update(handle.query_set_id, user=persistent([], [user(9)]))))
    assert conn.db.user.count() == 1
    assert "not in the client cache" in caplog.text


def test_event_tables_fire_inserts_and_store_nothing() -> None:
    conn, socket = connected()
    rec = Recorder(conn, "test_event")
    handle = subscribed(conn, socket, ["SELECT * FROM test_event"])
    e1 = row("test_event", name="a", value=1)
    socket.deliver(transaction(set_update(handle.query_set_id, test_event=events(e1, e1))))
    assert rec.take() == [
        ("transaction", "test_event", "insert", ("a", 1)),
        ("transaction", "test_event", "insert", ("a", 1)),
    ]
    assert conn.db.test_event.count() == 0
    assert list(conn.db.test_event.iter()) == []
    assert not hasattr(conn.db.test_event, "on_delete")


def test_rows_are_decoded_lazily_and_once() -> None:
    conn, socket = connected()
    subscribed(conn, socket, ["U"], user=[user(1), user(2)])
    cache = table_cache(conn, "user")
    assert cache._n_decoded == 0 and list(cache._rows.values()) == [None, None]  # nobody looked
    first = sorted(conn.db.user.iter(), key=lambda r: r["identity"])
    again = sorted(conn.db.user.iter(), key=lambda r: r["identity"])
    assert [id(r) for r in first] == [id(r) for r in again]
    assert conn.db.user.identity.find(Identity(1)) is first[0]


def test_deleted_rows_are_the_objects_seen_before() -> None:
    conn, socket = connected()
    seen: dict[str, Any] = {}
    conn.db.user.on_insert(lambda ctx, r: seen.setdefault("insert", r))
    conn.db.user.on_delete(lambda ctx, r: seen.setdefault("delete", r))
    handle = subscribed(conn, socket, ["U"], user=[user(1)])
    socket.deliver(transaction(set_update(handle.query_set_id, user=persistent([], [user(1)]))))
    assert seen["insert"] is seen["delete"]


# ------------------------------------------------------------------------------ indexes


def test_unique_index_find_and_maintenance() -> None:
    conn, socket = connected()
    handle = subscribed(conn, socket, ["S"], score=[score(1), score(2)])
    by_id = conn.db.score.id
    assert by_id.find(1)["id"] == 1 and by_id.find(3) is None
    socket.deliver(
        transaction(
            set_update(handle.query_set_id, score=persistent([score(3), score(2, "q")], [score(2)]))
        )
    )
    assert by_id.find(3)["id"] == 3
    assert by_id.find(2)["player"] == "q"
    assert 2 in by_id and 9 not in by_id


def test_btree_index_exact_range_and_prefix() -> None:
    conn, socket = connected()
    data = [
        score(i, player=f"p{i % 3}", level=None if i % 4 == 0 else i, team=i % 2, rank=i)
        for i in range(12)
    ]
    handle = subscribed(conn, socket, ["S"], score=data)
    player = conn.db.score.index("score_player_idx_btree")
    assert sorted(r["id"] for r in player.filter("p1")) == [1, 4, 7, 10]
    level = conn.db.score.level  # by accessor name, run-time module style
    assert [r["id"] for r in level.filter(Range(3, 7))] == [3, 5, 6]
    assert [r["id"] for r in level.filter(Range.closed(3, 7))] == [3, 5, 6, 7]
    assert [r["id"] for r in level.filter(slice(None, 3))] == [1, 2]
    assert [r["id"] for r in level.filter(Range.greater_than(9))] == [10, 11, 0, 4, 8]
    assert sorted(r["id"] for r in level.filter(None)) == [0, 4, 8]  # Option none
    team_rank = conn.db.score.team_rank
    assert [r["id"] for r in team_rank.filter((1,))] == [1, 3, 5, 7, 9, 11]
    assert [r["id"] for r in team_rank.filter((1, 5))] == [5]
    assert [r["id"] for r in team_rank.filter((0, Range(2, 8)))] == [2, 4, 6]
    assert [r["id"] for r in team_rank.filter((0, Range(2, 8, include_start=False)))] == [4, 6]
    # maintained through updates
    socket.deliver(
        transaction(
            set_update(
                handle.query_set_id,
                score=persistent([score(4, "p1", level=5, team=1, rank=4)], [data[4]]),
            )
        )
    )
    assert sorted(r["id"] for r in level.filter(Range.closed(5, 5))) == [4, 5]
    assert [r["id"] for r in team_rank.filter((1, Range.at_most(4)))] == [1, 3, 4]
    assert conn.db.score.player["p1"] == list(player.filter("p1"))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-50, 50), max_size=200),
    st.lists(st.integers(-50, 50), max_size=100),
    st.integers(-60, 60),
    st.integers(-60, 60),
    st.booleans(),
    st.booleans(),
)
def test_sorted_keys_matches_a_sorted_set(
    added: list[int], removed: list[int], lo: int, hi: int, lo_inc: bool, hi_inc: bool
) -> None:
    keys = SortedKeys(load=4)
    model: set[int] = set()
    for k in added:
        keys.add(k)
        model.add(k)
    for k in removed:
        keys.discard(k)
        model.discard(k)
    assert list(keys) == sorted(model) and len(keys) == len(model)
    expected = [
        k
        for k in sorted(model)
        if (k >= lo if lo_inc else k > lo) and (k <= hi if hi_inc else k < hi)
    ]
    got = list(
        keys.irange(lo, hi, has_lo=True, has_hi=True, lo_inclusive=lo_inc, hi_inclusive=hi_inc)
    )
    assert got == expected
    assert all((k in keys) == (k in model) for k in range(-55, 55))


def test_typed_rows_decode_into_bound_classes() -> None:
    # the key extractor and the row codec agree on the Identity value type
    encoded = user(5, "x")
    decoded = codec("user").decode(encoded)
    assert decoded["identity"] == Identity(5)


def test_views_are_cached_like_tables_with_their_primary_key() -> None:
    from pathlib import Path

    from spacetimedb_sdk.algebraic_type import RefType
    from spacetimedb_sdk.bsatn import compile_codec
    from spacetimedb_sdk.client import DbConnection, TableWithPrimaryKeyHandle
    from spacetimedb_sdk.client.testing import build_offline
    from spacetimedb_sdk.messages import InitialConnectionMsg
    from spacetimedb_sdk.schema import ModuleSchema
    from tests.client_helpers import ME, MY_CONNECTION, TOKEN
    from tests.conftest import FIXTURES

    view_schema = ModuleSchema.from_bytes(
        Path(FIXTURES, "module_defs", "sdk-test-view-pk-ts.moduledef.bsatn").read_bytes()
    )
    info = view_schema.view("all_view_pk_players")
    encode = compile_codec(RefType(info.product_type_ref), view_schema.typespace).encode
    conn, socket = build_offline(
        DbConnection.builder()
        .with_uri("ws://x.invalid")
        .with_database_name("db")
        .with_module(view_schema)
    )
    socket.deliver(InitialConnectionMsg(ME, MY_CONNECTION, TOKEN))
    handle = conn.db.all_view_pk_players
    assert isinstance(handle, TableWithPrimaryKeyHandle)
    updates: list[Any] = []
    handle.on_update(lambda ctx, old, new: updates.append((old["name"], new["name"])))
    sub = conn.subscription_builder().subscribe("SELECT * FROM all_view_pk_players")
    old, new = encode({"id": 1, "name": "a"}), encode({"id": 1, "name": "b"})
    socket.deliver(applied(sub.query_set_id, all_view_pk_players=[old]))
    socket.deliver(
        transaction(set_update(sub.query_set_id, all_view_pk_players=persistent([new], [old])))
    )
    assert updates == [("a", "b")]
    found = handle.unique("id").find(1)  # the primary key is a unique index
    assert found is not None and found["name"] == "b"
