"""A failure inside the client while it applies a server message (a bug, not the server's
fault) is reported and closes the connection with a typed error, on both drivers: the
callback thread or task never dies silently, and nothing waits forever.

The failure is injected by replacing the core's handler of ``ReducerResult`` with one that
raises, standing in for any bug in applying a message (the enum-keyed index bug of
tests/sdk_suite/test_client_regressions.py was one: it killed the threaded callback thread).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from spacetimedb_sdk.client import DisconnectedError, MessageProcessingError
from spacetimedb_sdk.core import connection as core_connection
from spacetimedb_sdk.messages import ReducerResultMsg
from tests.test_client_drivers import ScriptedServer, builder, chat_script


class InjectedBugError(Exception):
    """What the injected handler raises."""


@pytest.fixture
def broken_reducer_results(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(core: Any, msg: ReducerResultMsg) -> Any:
        raise InjectedBugError(f"cannot apply the result of request {msg.request_id}")

    monkeypatch.setitem(core_connection._HANDLERS, ReducerResultMsg, broken)


def _check(reported: list[Exception], disconnects: list[Any], call: Any) -> None:
    (error,) = reported
    assert isinstance(error, MessageProcessingError) and isinstance(
        error.__cause__, InjectedBugError
    )
    assert "cannot apply the result" in str(error)
    assert disconnects == [error]  # on_disconnect says why the connection closed
    assert isinstance(call.exception(0), DisconnectedError)  # the waiting call failed


@pytest.mark.usefixtures("broken_reducer_results")
def test_threaded_a_failure_applying_a_message_closes_with_a_typed_error() -> None:
    with ScriptedServer(chat_script) as server:
        reported: list[Exception] = []
        disconnects: list[Any] = []
        conn = builder(
            server.url,
            on_error=lambda ctx, e: reported.append(e),
            on_disconnect=lambda ctx, e: disconnects.append(e),
        ).build()
        thread = conn.run_threaded()
        assert conn.connected.result(5) is conn
        call = conn.reducers.set_name("x")
        assert isinstance(call.exception(5), DisconnectedError)
        assert conn.wait_closed(5)
        thread.join(5)
        assert not thread.is_alive()  # it ended with the connection: it did not die
        _check(reported, disconnects, call)


@pytest.mark.usefixtures("broken_reducer_results")
def test_asyncio_a_failure_applying_a_message_closes_with_a_typed_error() -> None:
    async def main() -> None:
        with ScriptedServer(chat_script) as server:
            reported: list[Exception] = []
            disconnects: list[Any] = []
            conn = await builder(
                server.url,
                on_error=lambda ctx, e: reported.append(e),
                on_disconnect=lambda ctx, e: disconnects.append(e),
            ).build_async()
            call = conn.reducers.set_name("x")
            with pytest.raises(DisconnectedError):
                await asyncio.wait_for(call, 5)
            await asyncio.wait_for(conn.run_async(), 5)
            assert conn.is_closed
            _check(reported, disconnects, call)

    asyncio.run(main())
