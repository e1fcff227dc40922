"""The official suite's ``sdk-test-connect-disconnect`` scenario: the module's lifecycle
reducers record who connected and who disconnected, and a client sees those rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.sdk_suite.harness import Driver, HostedModule, Scenario, scenario_of


@pytest.fixture
def s(hosted_module: Any, driver: Driver) -> Iterator[Scenario]:
    """A database of its own (the scenario counts the rows connections leave)."""
    module: HostedModule = hosted_module("sdk_test_connect_disconnect")
    yield from scenario_of(module, driver)


@pytest.mark.parametrize("driver", ["threaded", "asyncio"])
def test_connect_disconnect_callbacks(s: Scenario) -> None:
    disconnect_counter = s.counter()
    disconnect_result = disconnect_counter.add_test("disconnect")
    connect_counter = s.counter()
    connected_result = connect_counter.add_test("on_connect")
    sub_applied_one_row = connect_counter.add_test("connected_row")

    def on_connect(conn: Any, _identity: Any, _token: str) -> None:
        connected_result()

        def applied(ctx: Any) -> None:
            def checks() -> None:
                assert ctx.db.connected.count() == 1
                assert next(iter(ctx.db.connected.iter()), None) is not None

            sub_applied_one_row.check(checks)

        (
            conn.subscription_builder()
            .on_error(lambda _c, err: s.fail(f"Subscription failed: {err!r}"))
            .on_applied(applied)
            .subscribe("SELECT * FROM connected")
        )

    def on_disconnect(ctx: Any, error: Any) -> None:
        assert not ctx.is_active, "on_disconnect callback, but `ctx.is_active` is true"
        disconnect_result(None if error is None else repr(error))

    connection = s.build_and_run(
        s.builder()
        .on_connect_error(lambda _ctx, err: s.fail(f"on_connect_error: {err!r}"))
        .on_connect(on_connect)
        .on_disconnect(on_disconnect)
    )
    connect_counter.wait_for_all()
    connection.disconnect()
    disconnect_counter.wait_for_all()

    reconnect_counter = s.counter()
    reconnected_result = reconnect_counter.add_test("on_reconnect")
    disconnected_row = reconnect_counter.add_test("disconnected_row")
    new_connection = s.build_and_run(
        s.builder()
        .on_connect_error(lambda _ctx, err: s.fail(f"on_connect_error: {err!r}"))
        .on_connect(lambda *_: reconnected_result())
    )

    def applied_after(ctx: Any) -> None:
        def checks() -> None:
            assert ctx.db.disconnected.count() == 1
            assert next(iter(ctx.db.disconnected.iter()), None) is not None

        disconnected_row.check(checks)

    (
        new_connection.subscription_builder()
        .on_applied(applied_after)
        .on_error(lambda _c, err: s.fail(f"subscription on_error: {err!r}"))
        .subscribe("SELECT * FROM disconnected")
    )
    reconnect_counter.wait_for_all()
