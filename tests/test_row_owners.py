"""Sole table owners (core/row_owners.py): a table fed by one query set keeps that set's rows
once. Checked against a model of every set's own multiset, over random sequences of
subscriptions, transactions touching one or several sets in one message, unsubscribes and
late errors; the cache's refcounts must always equal the sum of the sets' counts."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from spacetimedb_sdk.client import DisconnectedError, ReconnectPolicy
from spacetimedb_sdk.core import row_owners
from spacetimedb_sdk.messages import (
    InitialConnectionMsg,
    QuerySetId,
    SubscriptionErrorMsg,
    UnsubscribeAppliedMsg,
)
from tests.client_helpers import (
    ME,
    MY_CONNECTION,
    applied,
    connected,
    persistent,
    set_update,
    table_cache,
    transaction,
    user,
)

ROWS = [user(n) for n in range(6)]

# One step: ("subscribe", rows) | ("tx", [(set slot, inserts, deletes), ...]) |
# ("unsubscribe", slot) | ("error", slot). Slots pick among the live sets (modulo).
_rows = st.lists(st.sampled_from(ROWS), max_size=4)
_step = st.one_of(
    st.tuples(st.just("subscribe"), _rows),
    st.tuples(
        st.just("tx"),
        st.lists(st.tuples(st.integers(0, 5), _rows, st.integers(0, 3)), min_size=1, max_size=3),
    ),
    st.tuples(st.just("unsubscribe"), st.integers(0, 5)),
    st.tuples(st.just("error"), st.integers(0, 5)),
)


def _check(conn: Any, model: dict[int, Counter[bytes]]) -> None:
    cached = table_cache(conn, "user")
    expected: Counter[bytes] = Counter()
    for counts in model.values():
        expected.update(counts)
    assert cached.multiset() == {r: c for r, c in expected.items() if c}
    assert {r for r in ROWS if r in cached} == set(+expected)
    # Each live set can still give back exactly its own rows.
    for qs in conn._core.subscriptions.live():
        own = Counter(qs.rows.get("user", {}))
        if cached.owner is qs:
            assert not qs.rows.get("user")
            own = Counter(cached.multiset())
        assert +own == +model[qs.id], (qs.id, cached.owner)


@settings(max_examples=150, deadline=None)
@given(st.lists(_step, max_size=14))
def test_cache_counts_equal_the_sum_of_every_sets_rows(steps: list[tuple[Any, ...]]) -> None:
    conn, socket = connected()
    model: dict[int, Counter[bytes]] = {}
    handles: dict[int, Any] = {}
    request = 100
    for step in steps:
        live = sorted(model)
        if step[0] == "subscribe":
            handle = conn.subscription_builder().subscribe(["SELECT * FROM user"])
            socket.deliver(applied(handle.query_set_id, user=step[1]))
            model[handle.query_set_id] = Counter(step[1])
            handles[handle.query_set_id] = handle
        elif step[0] == "tx" and live:
            updates = []
            for slot, inserts, n_deletes in step[1]:
                qid = live[slot % len(live)]
                mine = model[qid]
                deletes = sorted(mine.elements())[:n_deletes]
                mine.update(inserts)
                mine.subtract(deletes)
                updates.append(set_update(qid, user=persistent(inserts, deletes)))
            socket.deliver(transaction(*updates))
        elif step[0] in ("unsubscribe", "error") and live:
            qid = live[step[1] % len(live)]
            if step[0] == "unsubscribe":
                handles[qid].unsubscribe()
                request += 1
                socket.deliver(UnsubscribeAppliedMsg(request, QuerySetId(qid), None))
            else:
                socket.deliver(SubscriptionErrorMsg(None, QuerySetId(qid), "broke"))
            del model[qid]
        _check(conn, model)


def test_a_second_set_in_the_same_message_ends_sole_ownership() -> None:
    conn, socket = connected()
    a = conn.subscription_builder().subscribe(["A"])
    socket.deliver(applied(a.query_set_id, user=[ROWS[1]]))
    cached = table_cache(conn, "user")
    assert cached.owner is not None and cached.owner is not row_owners.SHARED
    b = conn.subscription_builder().subscribe(["B"])
    socket.deliver(applied(b.query_set_id))
    # One message: the owner gains a row and the second set brings its first one.
    socket.deliver(
        transaction(
            set_update(a.query_set_id, user=persistent([ROWS[2]], [])),
            set_update(b.query_set_id, user=persistent([ROWS[2], ROWS[3]], [])),
        )
    )
    assert cached.owner is row_owners.SHARED
    a.unsubscribe()
    socket.deliver(UnsubscribeAppliedMsg(7, QuerySetId(a.query_set_id), None))
    assert sorted(cached.multiset()) == sorted([ROWS[2], ROWS[3]])
    assert all(c == 1 for c in cached.multiset().values())


def test_owners_are_settled_again_after_a_reconnect() -> None:
    conn, socket = connected(
        with_auto_reconnect=ReconnectPolicy(initial_delay=0, jitter=0, max_attempts=3)
    )
    a = conn.subscription_builder().subscribe(["A"])
    socket.deliver(applied(a.query_set_id, user=[ROWS[1], ROWS[2]]))
    cached = table_cache(conn, "user")
    assert cached.owner is not None and cached.owner is not row_owners.SHARED
    socket.close(DisconnectedError("network down"))
    socket.reconnect()
    socket.take_sent()
    socket.deliver(InitialConnectionMsg(ME, MY_CONNECTION, "echo"))
    # While the replay is pending, a new set brings rows straight into the cache: it must
    # track them itself, since the reconciliation rebuilds the cache from every set's rows.
    b = conn.subscription_builder().subscribe(["B"])
    socket.deliver(applied(b.query_set_id, user=[ROWS[4]]))
    socket.deliver(applied(a.query_set_id, user=[ROWS[2], ROWS[3]]))
    assert sorted(cached.multiset()) == sorted([ROWS[2], ROWS[3], ROWS[4]])
    assert cached.owner is row_owners.SHARED  # two sets feed it
    b.unsubscribe()
    socket.deliver(UnsubscribeAppliedMsg(50, QuerySetId(b.query_set_id), None))
    assert sorted(cached.multiset()) == sorted([ROWS[2], ROWS[3]])
    a.unsubscribe()
    socket.deliver(UnsubscribeAppliedMsg(51, QuerySetId(a.query_set_id), None))
    assert len(cached) == 0


def test_a_lone_replayed_set_owns_its_table_again() -> None:
    conn, socket = connected(
        with_auto_reconnect=ReconnectPolicy(initial_delay=0, jitter=0, max_attempts=3)
    )
    a = conn.subscription_builder().subscribe(["A"])
    socket.deliver(applied(a.query_set_id, user=[ROWS[1]]))
    socket.close(DisconnectedError("network down"))
    socket.reconnect()
    socket.deliver(InitialConnectionMsg(ME, MY_CONNECTION, "echo"))
    socket.deliver(applied(a.query_set_id, user=[ROWS[1], ROWS[5]]))
    cached = table_cache(conn, "user")
    qs = conn._core.subscriptions.get(a.query_set_id)
    assert cached.owner is qs and "user" not in qs.rows
    socket.deliver(SubscriptionErrorMsg(None, QuerySetId(a.query_set_id), "gone"))
    assert len(cached) == 0 and cached.owner is None
