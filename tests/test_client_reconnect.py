"""Auto-reconnect: backoff policy, subscription replay and cache reconciliation (offline)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from spacetimedb_sdk.client import ConnectError, DisconnectedError, ReconnectPolicy
from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.messages import (
    InitialConnectionMsg,
    QuerySetId,
    SubscribeMsg,
    SubscriptionErrorMsg,
)
from tests.client_helpers import (
    ME,
    MY_CONNECTION,
    TOKEN,
    applied,
    connected,
    persistent,
    set_update,
    transaction,
    user,
)
from tests.test_client_cache import Recorder


def test_policy_backs_off_exponentially_with_jitter() -> None:
    policy = ReconnectPolicy(initial_delay=1, max_delay=8, multiplier=2, jitter=0.5, max_attempts=6)
    delays = list(policy.delays(random.Random(1)))
    assert len(delays) == 6
    for got, nominal in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert nominal * 0.5 <= got <= nominal
    assert list(ReconnectPolicy(jitter=0, max_attempts=3).delays()) == [1, 2, 4]
    with pytest.raises(ValueError):
        ReconnectPolicy(jitter=2)


def reconnecting(**options: Any) -> tuple[Any, Any, list[Any]]:
    log: list[Any] = []
    conn, socket = connected(
        with_auto_reconnect=ReconnectPolicy(initial_delay=0, jitter=0, max_attempts=3),
        on_disconnect=lambda ctx, e: log.append(("disconnect", e)),
        on_reconnected=lambda c, i, t: log.append(("reconnected", i, t)),
        **options,
    )
    return conn, socket, log


def test_replay_and_reconcile_fire_only_the_differences() -> None:
    conn, socket, log = reconnecting()
    a = conn.subscription_builder().subscribe("A")
    b = conn.subscription_builder().subscribe("B")
    socket.deliver(applied(a.query_set_id, user=[user(1, "same"), user(2, "old"), user(3)]))
    socket.deliver(applied(b.query_set_id, user=[user(3), user(4)]))
    rec = Recorder(conn, "user")
    call = conn.reducers.set_name("lost")
    socket.take_sent()

    assert socket.close(DisconnectedError("network down")) is True
    assert log == []  # no on_disconnect while reconnecting
    assert isinstance(call.exception(), DisconnectedError)
    assert conn.db.user.count() == 4  # the cache is kept meanwhile

    socket.reconnect()
    replayed = socket.take_sent()
    assert [
        (m.query_set_id.id, m.query_strings) for m in replayed if isinstance(m, SubscribeMsg)
    ] == [
        (a.query_set_id, ["A"]),
        (b.query_set_id, ["B"]),
    ]
    socket.deliver(InitialConnectionMsg(ME, MY_CONNECTION, "echo"))
    assert log == [("reconnected", ME, TOKEN)]  # the original token is kept
    socket.deliver(applied(a.query_set_id, user=[user(1, "same"), user(2, "new"), user(5)]))
    assert rec.take() == []  # nothing until every replayed set has answered
    # a transaction between the replays is folded into the reconciliation
    socket.deliver(transaction(set_update(a.query_set_id, user=persistent([user(6)]))))
    assert rec.take() == []
    socket.deliver(applied(b.query_set_id, user=[user(4)]))
    assert sorted(rec.take()) == sorted(
        [
            ("subscribe_applied", "user", "insert", (5, None)),
            ("subscribe_applied", "user", "insert", (6, None)),
            ("subscribe_applied", "user", "delete", (3, None)),
            ("subscribe_applied", "user", "update", (2, "old"), (2, "new")),
        ]
    )
    assert sorted(r["identity"].value for r in conn.db.user.iter()) == [1, 2, 4, 5, 6]
    assert a.is_active and b.is_active
    # refcounts are exact again: dropping b removes only what b alone delivered
    socket.deliver(SubscriptionErrorMsg(None, QuerySetId(b.query_set_id), "gone"))
    assert sorted(r["identity"].value for r in conn.db.user.iter()) == [1, 2, 5, 6]


def test_a_replayed_set_that_fails_drops_its_rows() -> None:
    conn, socket, _ = reconnecting()
    a = conn.subscription_builder().subscribe("A")
    socket.deliver(applied(a.query_set_id, user=[user(1)]))
    rec = Recorder(conn, "user")
    socket.close(None)
    socket.reconnect()
    socket.deliver(InitialConnectionMsg(ME, MY_CONNECTION, TOKEN))
    socket.deliver(
        SubscriptionErrorMsg(a.query_set_id, QuerySetId(a.query_set_id), "schema changed")
    )
    assert rec.take() == [("subscribe_applied", "user", "delete", (1, None))]
    assert a.is_ended


def test_unsubscribe_while_disconnected_ends_on_reconnect() -> None:
    conn, socket, _ = reconnecting()
    a = conn.subscription_builder().subscribe("A")
    keep = conn.subscription_builder().subscribe("K")
    socket.deliver(applied(a.query_set_id, user=[user(1)]))
    socket.deliver(applied(keep.query_set_id, user=[user(2)]))
    ended: list[Any] = []
    socket.close(None)
    a.unsubscribe_then(lambda ctx: ended.append(True))
    socket.reconnect()
    assert [m.query_set_id.id for m in socket.take_sent() if isinstance(m, SubscribeMsg)][-1:] == [
        keep.query_set_id
    ]
    socket.deliver(InitialConnectionMsg(ME, MY_CONNECTION, TOKEN))
    socket.deliver(applied(keep.query_set_id, user=[user(2)]))
    assert ended == [True] and a.is_ended
    assert [r["identity"].value for r in conn.db.user.iter()] == [2]


def test_a_different_identity_stops_reconnecting() -> None:
    conn, socket, log = reconnecting()
    socket.close(None)
    socket.reconnect()
    socket.deliver(InitialConnectionMsg(Identity(999), MY_CONNECTION, TOKEN))
    assert conn.is_closed
    (entry,) = log
    assert entry[0] == "disconnect" and isinstance(entry[1], ConnectError)


def test_giving_up_runs_on_disconnect() -> None:
    conn, socket, log = reconnecting()
    pending = conn.subscription_builder().subscribe("A")
    socket.close(DisconnectedError("down"))
    error = ConnectError("refused")
    socket.give_up(error)
    assert log == [("disconnect", error)]
    assert conn.is_closed and pending.is_ended


def test_without_auto_reconnect_a_drop_is_final() -> None:
    seen: list[Any] = []
    conn, socket = connected(on_disconnect=lambda ctx, e: seen.append(e))
    assert socket.close(DisconnectedError("down")) is False
    assert len(seen) == 1 and conn.is_closed


def test_requests_are_refused_until_the_new_socket_opens() -> None:
    conn, socket, _ = reconnecting()
    socket.close(None)
    with pytest.raises(DisconnectedError, match="closed"):
        conn.reducers.set_name("during the drop")
    conn.core.begin_reconnect()  # an attempt whose socket is not open yet
    with pytest.raises(DisconnectedError, match="reconnecting"):
        conn.reducers.set_name("during the attempt")
    handle = conn.subscription_builder().subscribe("S")  # subscriptions are replayed instead
    socket.reconnect()
    assert handle.query_set_id in [
        m.query_set_id.id for m in socket.take_sent() if isinstance(m, SubscribeMsg)
    ]
    socket.deliver(InitialConnectionMsg(ME, MY_CONNECTION, TOKEN))
    assert conn.reducers.set_name("after").request_id >= 0


def test_unsubscribe_right_after_the_replay() -> None:
    conn, socket, _ = reconnecting()
    a = conn.subscription_builder().subscribe("A")
    b = conn.subscription_builder().subscribe("B")
    socket.deliver(applied(a.query_set_id, user=[user(1)]))
    socket.deliver(applied(b.query_set_id, user=[user(2)]))
    rec = Recorder(conn, "user")
    socket.close(None)
    socket.reconnect()
    socket.deliver(InitialConnectionMsg(ME, MY_CONNECTION, TOKEN))
    a.unsubscribe()
    socket.deliver(applied(a.query_set_id, user=[user(1)]))
    from spacetimedb_sdk.messages import UnsubscribeAppliedMsg

    socket.deliver(UnsubscribeAppliedMsg(9, QuerySetId(a.query_set_id), None))
    socket.deliver(applied(b.query_set_id, user=[user(2)]))
    assert rec.take() == [("subscribe_applied", "user", "delete", (1, None))]
    assert a.is_ended and b.is_active
