"""Callback dispatch: order within a message, contexts, removal, and exceptions in callbacks
(logged, reported to on_error, never fatal); protocol errors reported while the loop lives on."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from spacetimedb_sdk.client import CallbackError, ReducerEvent
from spacetimedb_sdk.client.events import (
    ErrorContext,
    EventContext,
    Reducer,
    ReducerEventContext,
    SubscriptionEventContext,
)
from spacetimedb_sdk.errors import ProtocolError
from spacetimedb_sdk.frames import V3_BSATN_PROTOCOL
from spacetimedb_sdk.messages import OK_EMPTY, ReducerOk, ReducerResultMsg, encode_server_message
from spacetimedb_sdk.timestamp import Timestamp
from tests.client_helpers import (
    ME,
    TOKEN,
    applied,
    connected,
    offline,
    persistent,
    row,
    set_update,
    transaction,
    user,
)


def test_on_connect_gets_connection_identity_and_token() -> None:
    seen: list[Any] = []
    conn, socket = offline(on_connect=lambda c, i, t: seen.append((c, i, t)))
    assert (conn.identity, conn.is_active) == (None, False)
    from spacetimedb_sdk.messages import InitialConnectionMsg
    from tests.client_helpers import MY_CONNECTION

    socket.deliver(InitialConnectionMsg(ME, MY_CONNECTION, TOKEN))
    assert seen == [(conn, ME, TOKEN)]
    assert conn.identity == ME and conn.connection_id == MY_CONNECTION and conn.is_active
    assert conn.connected.done()


def test_subscription_callbacks_run_before_row_callbacks_and_see_the_cache() -> None:
    conn, socket = connected()
    log: list[Any] = []
    conn.db.user.on_insert(lambda ctx, r: log.append(("insert", conn.db.user.count())))
    handle = (
        conn.subscription_builder()
        .on_applied(lambda ctx: log.append(("applied", ctx.db.user.count())))
        .subscribe("SELECT * FROM user")
    )
    socket.deliver(applied(handle.query_set_id, user=[user(1), user(2)]))
    assert log == [("applied", 2), ("insert", 2), ("insert", 2)]


def test_row_callbacks_run_before_the_reducer_completion() -> None:
    conn, socket = connected()
    handle = conn.subscription_builder().subscribe("SELECT * FROM user")
    socket.deliver(applied(handle.query_set_id, user=[]))
    log: list[Any] = []
    events: list[Any] = []

    def on_row(ctx: EventContext, r: Any) -> None:
        log.append("row")
        events.append(ctx.event)

    conn.db.user.on_insert(on_row)
    conn.reducers.on_result("set_name", lambda ctx: log.append(("on_result", ctx.event.reducer)))
    call = conn.reducers.set_name("Ann").then(lambda ctx, value: log.append("then"))
    update = transaction(set_update(handle.query_set_id, user=persistent([user(1, "Ann")])))
    socket.deliver(ReducerResultMsg(call.request_id, Timestamp(5), ReducerOk(b"", update)))
    assert log == ["row", ("on_result", "set_name"), "then"]
    (event,) = events
    assert isinstance(event, Reducer)
    assert event.reducer_event.reducer == "set_name" and event.reducer_event.args == ("Ann",)
    assert event.reducer_event.caller_identity == ME


def test_within_a_table_inserts_then_deletes_then_updates() -> None:
    conn, socket = connected()
    handle = conn.subscription_builder().subscribe("SELECT * FROM user")
    socket.deliver(applied(handle.query_set_id, user=[user(1), user(2, "old")]))
    log: list[Any] = []
    conn.db.user.on_insert(lambda ctx, r: log.append("insert"))
    conn.db.user.on_delete(lambda ctx, r: log.append("delete"))
    conn.db.user.on_update(lambda ctx, o, n: log.append("update"))
    socket.deliver(
        transaction(
            set_update(
                handle.query_set_id,
                user=persistent([user(3), user(2, "new")], [user(1), user(2, "old")]),
            )
        )
    )
    assert log == ["insert", "delete", "update"]


def test_callbacks_can_be_removed_by_id_or_function() -> None:
    conn, socket = connected()
    log: list[str] = []

    def by_function(ctx: EventContext, r: Any) -> None:
        log.append("f")

    cid = conn.db.user.on_insert(lambda ctx, r: log.append("id"))
    conn.db.user.on_insert(by_function)
    handle = conn.subscription_builder().subscribe("SELECT * FROM user")
    socket.deliver(applied(handle.query_set_id, user=[user(1)]))
    assert log == ["id", "f"]
    conn.db.user.remove_on_insert(cid)
    conn.db.user.remove_on_insert(by_function)
    socket.deliver(transaction(set_update(handle.query_set_id, user=persistent([user(2)]))))
    assert log == ["id", "f"]


def test_a_callback_exception_is_logged_reported_and_not_fatal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reported: list[tuple[ErrorContext, Exception]] = []
    conn, socket = connected(on_error=lambda ctx, e: reported.append((ctx, e)))
    log: list[str] = []

    def bad(ctx: EventContext, r: Any) -> None:
        raise ValueError("user bug")

    conn.db.user.on_insert(bad)
    conn.db.user.on_insert(lambda ctx, r: log.append("next callback runs"))
    handle = conn.subscription_builder().subscribe("SELECT * FROM user")
    with caplog.at_level(logging.ERROR, "spacetimedb_sdk.client"):
        socket.deliver(applied(handle.query_set_id, user=[user(1)]))
    assert log == ["next callback runs"]
    ((ctx, error),) = reported
    assert isinstance(error, CallbackError) and isinstance(error.error, ValueError)
    assert error.callback == "user.on_insert"
    assert ctx.event is error
    assert "user bug" in caplog.text and "Traceback" in caplog.text
    # the connection keeps working
    socket.deliver(transaction(set_update(handle.query_set_id, user=persistent([user(2)]))))
    assert conn.db.user.count() == 2 and conn.is_active


def test_exceptions_in_connection_callbacks_and_the_error_handler_are_contained(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def bad_handler(ctx: ErrorContext, e: Exception) -> None:
        raise RuntimeError("handler bug")

    def bad_connect(*args: Any) -> None:
        raise RuntimeError("connect bug")

    conn, _ = connected(on_connect=bad_connect, on_error=bad_handler)
    assert conn.is_active
    assert "connect bug" in caplog.text and "handler bug" in caplog.text


def test_garbage_frames_are_reported_as_protocol_errors_and_the_loop_stays_alive() -> None:
    reported: list[Exception] = []
    conn, socket = connected(on_error=lambda ctx, e: reported.append(e))
    handle = conn.subscription_builder().subscribe("SELECT * FROM user")
    socket.deliver(b"\x00\x42garbage")
    socket.deliver(b"\x05")
    assert len(reported) == 2 and all(isinstance(e, ProtocolError) for e in reported)
    socket.deliver(applied(handle.query_set_id, user=[user(1)]))
    assert conn.db.user.count() == 1


def test_a_message_with_an_undecodable_row_is_reported_and_applies_nothing() -> None:
    reported: list[Exception] = []
    conn, socket = connected(on_error=lambda ctx, e: reported.append(e))
    inserted: list[Any] = []
    conn.db.points.on_insert(lambda ctx, r: inserted.append(r))
    handle = conn.subscription_builder().subscribe("SELECT * FROM points")
    good = row("points", x=1, y=2)
    socket.deliver(applied(handle.query_set_id, points=[good, b"\x01\x02\x03"]))
    assert inserted == [] and list(conn.db.points.iter()) == []
    assert len(reported) == 1 and isinstance(reported[0], ProtocolError)


def test_contexts_expose_the_connection() -> None:
    conn, socket = connected()
    contexts: list[Any] = []
    handle = conn.subscription_builder().on_applied(contexts.append).subscribe("SELECT * FROM user")
    socket.deliver(applied(handle.query_set_id, user=[]))
    call = conn.reducers.set_name("x").then(lambda ctx, v: contexts.append(ctx))
    socket.deliver(ReducerResultMsg(call.request_id, Timestamp(1), OK_EMPTY))
    sub_ctx, red_ctx = contexts
    assert isinstance(sub_ctx, SubscriptionEventContext)
    assert sub_ctx.db is conn.db and sub_ctx.identity == ME and sub_ctx.is_active
    assert isinstance(red_ctx, ReducerEventContext) and isinstance(red_ctx.event, ReducerEvent)
    assert red_ctx.reducers is conn.reducers and red_ctx.connection is conn


def test_each_message_of_a_v3_frame_gets_its_callbacks_before_the_next_is_applied() -> None:
    conn, socket = connected(V3_BSATN_PROTOCOL)
    handle = conn.subscription_builder().subscribe("SELECT * FROM user")
    seen: list[int] = []
    conn.db.user.on_insert(lambda ctx, r: seen.append(conn.db.user.count()))
    socket.deliver_v3(
        [
            applied(handle.query_set_id, user=[user(1)]),
            transaction(set_update(handle.query_set_id, user=persistent([user(2)]))),
        ]
    )
    assert seen == [1, 2]


def test_process_frame_applies_a_frame_on_the_calling_thread() -> None:
    # The public path the 0.7 client's _on_message takes (no reach into the session).
    conn, _socket = connected()
    inserted: list[int] = []
    conn.db.user.on_insert(lambda ctx, r: inserted.append(threading.get_ident()))
    handle = conn.subscription_builder().subscribe("SELECT * FROM user")
    frame = b"\x00" + encode_server_message(applied(handle.query_set_id, user=[user(1)]))
    conn.process_frame(frame)
    assert handle.is_active and conn.db.user.count() == 1
    assert inserted == [threading.get_ident()]
