"""Subscription handles: lifecycle, callbacks, awaitable ``applied``, errors, all-tables."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from spacetimedb_sdk.client import (
    AlreadyEndedError,
    AlreadyUnsubscribedError,
    DisconnectedError,
    SubscriptionFailedError,
)
from spacetimedb_sdk.messages import (
    QuerySetId,
    SubscribeMsg,
    SubscriptionErrorMsg,
    UnsubscribeAppliedMsg,
    UnsubscribeMsg,
)
from tests.client_helpers import applied, connected, persistent, set_update, transaction, user


def test_handle_lifecycle() -> None:
    conn, socket = connected()
    applied_calls: list[Any] = []
    ended: list[Any] = []
    handle = (
        conn.subscription_builder()
        .on_applied(applied_calls.append)
        .subscribe(["SELECT * FROM user"])
    )
    assert (handle.is_active, handle.is_ended, handle.applied.done()) == (False, False, False)
    socket.deliver(applied(handle.query_set_id, user=[user(1)]))
    assert handle.is_active and len(applied_calls) == 1
    assert handle.applied.result() is handle
    handle.unsubscribe_then(ended.append)
    assert (handle.is_active, handle.is_ended) == (False, False)
    with pytest.raises(AlreadyUnsubscribedError):
        handle.unsubscribe()
    socket.deliver(UnsubscribeAppliedMsg(5, QuerySetId(handle.query_set_id), None))
    assert handle.is_ended and len(ended) == 1 and handle.ended.done()
    with pytest.raises(AlreadyEndedError):
        handle.unsubscribe()
    sent = socket.take_sent()
    assert [type(m) for m in sent] == [SubscribeMsg, UnsubscribeMsg]


def test_a_rejected_subscription() -> None:
    conn, socket = connected()
    errors: list[Exception] = []
    handle = (
        conn.subscription_builder()
        .on_error(lambda ctx, e: errors.append(e))
        .subscribe(["SELECT * FROM nope"])
    )
    socket.deliver(
        SubscriptionErrorMsg(handle.query_set_id, QuerySetId(handle.query_set_id), "no table nope")
    )
    assert handle.is_ended and handle.error == "no table nope"
    (error,) = errors
    assert isinstance(error, SubscriptionFailedError) and error.queries == ("SELECT * FROM nope",)
    with pytest.raises(SubscriptionFailedError, match="no table nope"):
        handle.applied.result()


def test_await_applied() -> None:
    conn, socket = connected()

    async def main() -> Any:
        handle = conn.subscription_builder().subscribe("SELECT * FROM user")
        asyncio.get_running_loop().call_soon(
            socket.deliver, applied(handle.query_set_id, user=[user(1)])
        )
        return await handle.applied

    handle = asyncio.run(main())
    assert handle.is_active and conn.db.user.count() == 1


def test_unsubscribing_before_applied_cancels_the_subscription() -> None:
    # As in the official SDKs: a set unsubscribed before it was applied never reports applied
    # and brings no rows; what the server still sends for it is dropped.
    conn, socket = connected()
    calls: list[str] = []
    conn.db.user.on_insert(lambda ctx, r: calls.append("insert"))
    handle = (
        conn.subscription_builder()
        .on_applied(lambda ctx: calls.append("applied"))
        .subscribe("SELECT * FROM user")
    )
    handle.unsubscribe_then(lambda ctx: calls.append("ended"))
    assert [type(m) for m in socket.take_sent()] == [SubscribeMsg, UnsubscribeMsg]
    socket.deliver(applied(handle.query_set_id, user=[user(1)]))
    socket.deliver(transaction(set_update(handle.query_set_id, user=persistent([user(2)]))))
    assert conn.db.user.count() == 0 and calls == [] and not handle.is_active
    socket.deliver(UnsubscribeAppliedMsg(1, QuerySetId(handle.query_set_id), None))
    assert conn.db.user.count() == 0 and handle.is_ended and calls == ["ended"]
    # Whoever waits for it to be applied is told it never will be, instead of waiting forever.
    with pytest.raises(AlreadyUnsubscribedError, match="before the subscription was applied"):
        handle.applied.result(0)


def test_query_sets_track_their_updates_until_unsubscribed() -> None:
    conn, socket = connected()
    handle = conn.subscription_builder().subscribe("SELECT * FROM user")
    socket.deliver(applied(handle.query_set_id, user=[user(1)]))
    socket.deliver(
        transaction(set_update(handle.query_set_id, user=persistent([user(2)], [user(1)])))
    )
    deleted: list[int] = []
    conn.db.user.on_delete(lambda ctx, r: deleted.append(r["identity"].value))
    handle.unsubscribe()
    socket.deliver(UnsubscribeAppliedMsg(9, QuerySetId(handle.query_set_id), None))
    assert deleted == [2]


def test_subscribe_accepts_strings_typed_queries_callables_and_lists() -> None:
    conn, socket = connected()
    q = conn.from_.user.where(lambda u: u.online == True)  # noqa: E712
    conn.subscription_builder().subscribe(q)
    conn.subscription_builder().subscribe(lambda b: [b.message, "SELECT * FROM points"])
    subs = socket.take_sent()
    assert [m.query_strings for m in subs if isinstance(m, SubscribeMsg)] == [
        ['SELECT * FROM "user" WHERE "user"."online" = TRUE'],
        ['SELECT * FROM "message"', "SELECT * FROM points"],
    ]
    with pytest.raises(ValueError):
        conn.subscription_builder().subscribe([])


def test_subscribe_to_all_tables_skips_event_tables() -> None:
    conn, socket = connected()
    conn.subscription_builder().subscribe_to_all_tables()
    (sub,) = socket.take_sent()
    assert isinstance(sub, SubscribeMsg)
    assert sorted(sub.query_strings) == [
        f'SELECT * FROM "{t}"' for t in ["entity", "message", "points", "score", "user"]
    ]


def test_pending_subscriptions_fail_on_disconnect() -> None:
    conn, socket = connected()
    errors: list[Exception] = []
    pending = conn.subscription_builder().on_error(lambda ctx, e: errors.append(e)).subscribe("A")
    live = conn.subscription_builder().subscribe("B")
    socket.deliver(applied(live.query_set_id, user=[user(1)]))
    socket.close(None)
    assert pending.is_ended and live.is_ended
    assert len(errors) == 1 and isinstance(errors[0], DisconnectedError)
    assert conn.db.user.count() == 1  # rows stay readable after the disconnect
    with pytest.raises(AlreadyEndedError):
        live.unsubscribe()
