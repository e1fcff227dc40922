"""Reducer/procedure calls and one-off queries: correlation by request id, awaiting, blocking,
callbacks, typed errors, fire-and-forget, and failure when the connection drops."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import Any

import pytest

from spacetimedb_sdk.client import (
    DisconnectedError,
    InternalError,
    OneOffQueryError,
    ReducerError,
    ReducerEvent,
    ReducerStatus,
)
from spacetimedb_sdk.client.events import ErrorContext
from spacetimedb_sdk.messages import (
    OK_EMPTY,
    CallReducerMsg,
    InternalErrorOutcome,
    OneOffQueryResultMsg,
    ProcedureResultMsg,
    QueryRows,
    ReducerErr,
    ReducerResultMsg,
    Returned,
    SingleTableRows,
)
from spacetimedb_sdk.timestamp import TimeDuration, Timestamp
from spacetimedb_sdk.values import Err, Ok
from tests.client_helpers import connected, offline, rows, user

TS = Timestamp(1_700_000_000_000_000)


def err(text: str) -> ReducerErr:
    data = text.encode()
    return ReducerErr(len(data).to_bytes(4, "little") + data)


def test_reducer_results_are_matched_by_request_id() -> None:
    conn, socket = connected()
    a = conn.reducers.set_name("A")
    b = conn.reducers.send_message("hello")
    c = conn.reducers.call("set_name", "")
    assert [a.request_id, b.request_id, c.request_id] == [0, 1, 2]
    assert [type(m) for m in socket.take_sent()] == [CallReducerMsg] * 3
    # answers arrive in another order than the requests were made
    socket.deliver(ReducerResultMsg(c.request_id, TS, err("Names must not be empty")))
    socket.deliver(ReducerResultMsg(a.request_id, TS, OK_EMPTY))
    assert a.done() and c.done() and not b.done()
    event = a.result()
    assert isinstance(event, ReducerEvent) and event.committed and event.reducer == "set_name"
    assert event.timestamp == TS and event.args == ("A",)
    with pytest.raises(ReducerError) as caught:
        c.result()
    assert caught.value.message == "Names must not be empty" and caught.value.reducer == "set_name"
    socket.deliver(
        ReducerResultMsg(
            b.request_id, TS, InternalErrorOutcome("The instance encountered a fatal error.")
        )
    )
    with pytest.raises(InternalError, match="fatal error"):
        b.result()
    assert isinstance(b.exception(), InternalError)


def test_then_receives_the_event_or_the_exception() -> None:
    conn, socket = connected()
    seen: list[Any] = []
    ok = conn.reducers.set_name("A").then(lambda ctx, v: seen.append(("ok", v.status)))
    bad = conn.reducers.set_name("").then(lambda ctx, v: seen.append(("bad", type(v).__name__)))
    socket.deliver(ReducerResultMsg(ok.request_id, TS, OK_EMPTY))
    socket.deliver(ReducerResultMsg(bad.request_id, TS, err("no")))
    assert seen == [("ok", ReducerStatus.COMMITTED), ("bad", "ReducerError")]
    late: list[Any] = []
    ok.then(lambda ctx, v: late.append(v.status))  # already answered: runs now
    assert late == [ReducerStatus.COMMITTED]


def test_await_a_reducer_call() -> None:
    conn, socket = connected()

    async def main() -> ReducerEvent:
        call = conn.reducers.set_name("A")
        asyncio.get_running_loop().call_soon(
            socket.deliver, ReducerResultMsg(call.request_id, TS, OK_EMPTY)
        )
        event: ReducerEvent = await call
        return event

    assert asyncio.run(main()).committed

    async def failing() -> None:
        call = conn.reducers.set_name("")
        asyncio.get_running_loop().call_soon(
            socket.deliver, ReducerResultMsg(call.request_id, TS, err("empty"))
        )
        await call

    with pytest.raises(ReducerError, match="empty"):
        asyncio.run(failing())


def test_result_times_out_without_an_answer() -> None:
    conn, _ = connected()
    with pytest.raises(concurrent.futures.TimeoutError):
        conn.reducers.set_name("A").result(timeout=0.01)


def test_an_unobserved_failure_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    conn, socket = connected()
    call = conn.reducers.set_name("")
    with caplog.at_level(logging.WARNING, "spacetimedb_sdk.client"):
        socket.deliver(ReducerResultMsg(call.request_id, TS, err("Names must not be empty")))
    assert "reducer set_name() failed and nobody was waiting" in caplog.text


def test_procedures_return_decoded_values() -> None:
    conn, socket = connected()
    prim = conn.procedures.return_primitive(2, 3)
    struct = conn.procedures.call("return_struct", 42, "str")
    broken = conn.procedures.return_primitive(0, 0)
    socket.deliver(
        ProcedureResultMsg(Returned(b"\x05\x00\x00\x00"), TS, TimeDuration(7), prim.request_id)
    )
    socket.deliver(
        ProcedureResultMsg(
            Returned(b"*\x00\x00\x00\x03\x00\x00\x00str"), TS, TimeDuration(7), struct.request_id
        )
    )
    socket.deliver(
        ProcedureResultMsg(InternalErrorOutcome("boom"), TS, TimeDuration(1), broken.request_id)
    )
    assert prim.result() == 5
    assert struct.result() == {"a": 42, "b": "str"}
    with pytest.raises(InternalError, match="boom"):
        broken.result()
    contexts: list[Any] = []
    prim.then(lambda ctx, v: contexts.append(ctx.event))
    assert contexts[0].procedure == "return_primitive"
    assert contexts[0].total_host_execution_duration == TimeDuration(7)


def test_one_off_queries_return_typed_rows() -> None:
    conn, socket = connected()
    query = conn.one_off_query("SELECT * FROM user")
    bad = conn.db.user.remote_query("WHERE nonsense")
    socket.deliver(
        OneOffQueryResultMsg(
            query.request_id, Ok(QueryRows([SingleTableRows("user", rows(user(1), user(2)))]))
        )
    )
    socket.deliver(OneOffQueryResultMsg(bad.request_id, Err("no such column")))
    assert [r["identity"].value for r in query.result()] == [1, 2]
    with pytest.raises(OneOffQueryError, match="no such column"):
        bad.result()
    assert conn.db.user.count() == 0  # one-off rows never touch the cache
    assert [m.query_string for m in socket.take_sent() if hasattr(m, "query_string")] == [
        "SELECT * FROM user",
        'SELECT * FROM "user" WHERE nonsense',
    ]


def test_pending_calls_fail_cleanly_on_disconnect() -> None:
    disconnects: list[Any] = []
    conn, socket = connected(on_disconnect=lambda ctx, e: disconnects.append(e))
    call = conn.reducers.set_name("A")
    proc = conn.procedures.return_primitive(1, 2)
    query = conn.one_off_query("SELECT * FROM user")
    then_seen: list[Any] = []
    call.then(lambda ctx, v: then_seen.append(type(v).__name__))
    socket.close(ConnectionResetError("network down"))
    for pending in (call, proc, query):
        with pytest.raises(DisconnectedError):
            pending.result()
    assert then_seen == ["DisconnectedError"]
    assert len(disconnects) == 1 and isinstance(disconnects[0], ConnectionResetError)
    assert conn.is_closed and not conn.is_active
    with pytest.raises(DisconnectedError):
        conn.reducers.set_name("B")


def test_disconnect_requested_by_the_client() -> None:
    seen: list[tuple[ErrorContext, Any]] = []
    conn, _ = connected(on_disconnect=lambda ctx, e: seen.append((ctx, e)))
    call = conn.reducers.set_name("A")
    conn.disconnect()
    conn.disconnect()  # idempotent
    assert [e for _, e in seen] == [None]
    assert isinstance(call.exception(), DisconnectedError)
    assert conn.is_closed


def test_calls_before_connecting_are_queued() -> None:
    conn, socket = offline()
    call = conn.reducers.set_name("early")
    assert call.request_id == 0
    assert socket.take_sent() == [CallReducerMsg(0, 0, "set_name", b"\x05\x00\x00\x00early")]


def test_bad_arguments_raise_at_the_call() -> None:
    conn, _ = connected()
    with pytest.raises(TypeError):
        conn.reducers.set_name()
    with pytest.raises(AttributeError):
        conn.reducers.no_such_reducer  # noqa: B018
    from spacetimedb_sdk.errors import BsatnEncodeError

    with pytest.raises(BsatnEncodeError, match="name"):
        conn.reducers.set_name(123)


def test_stats_on_the_connection() -> None:
    conn, socket = connected()
    call = conn.reducers.set_name("A")
    socket.deliver(ReducerResultMsg(call.request_id, TS, OK_EMPTY))
    failing = conn.reducers.set_name("")
    socket.deliver(ReducerResultMsg(failing.request_id, TS, err("x")))
    failing.exception()
    stats = conn.stats
    assert (stats.reducers.sent, stats.reducers.completed, stats.reducers.failed) == (2, 1, 1)
    assert stats.by_name["set_name"].sent == 2
    assert stats.reducers.max_latency is not None and stats.reducers.max_latency >= 0
