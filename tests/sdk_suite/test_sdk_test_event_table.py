"""The official suite's ``sdk-test-event-table`` scenarios: rows of an event table reach
subscribers with their transaction and are never kept in the client cache."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from spacetimedb_sdk.client.events import Reducer
from tests.sdk_suite.harness import Driver, HostedModule, Reporter, Scenario, scenario_of


@pytest.fixture
def s(hosted_module: Any, driver: Driver) -> Iterator[Scenario]:
    module: HostedModule = hosted_module("sdk_test_event_table")
    yield from scenario_of(module, driver)


def _subscribed_then(s: Scenario, body: Any) -> None:
    """connect -> subscribe to test_event -> (empty) -> ``body(ctx)``; wait for everything."""
    counter = s.counter()
    sub_applied = counter.add_test("subscription_applied")

    def applied(ctx: Any) -> None:
        assert sum(1 for _ in ctx.db.test_event.iter()) == 0
        # The body registers its expectations before this one reports (else the wait could
        # end first).
        body(ctx, counter)
        sub_applied()

    s.connect_then(
        counter, lambda ctx: s.subscribe_these_then(ctx, ["SELECT * FROM test_event;"], applied)
    )
    counter.wait_for_all()


@pytest.mark.parametrize("driver", ["threaded", "asyncio"])
def test_event_table(s: Scenario) -> None:
    def body(ctx: Any, counter: Any) -> None:
        on_insert_result: Reporter = counter.add_test("event-table-on-insert")
        done: list[bool] = []

        def on_insert(ctx: Any, row: Any) -> None:
            if done:
                return
            done.append(True)

            def checks() -> None:
                assert (row.name, row.value) == ("hello", 42), row
                assert isinstance(ctx.event, Reducer), f"Expected a reducer event: {ctx.event}"
                assert ctx.event.reducer_event.reducer == "emit_test_event", ctx.event
                # Event table rows are not cached.
                assert ctx.db.test_event.count() == 0
                assert sum(1 for _ in ctx.db.test_event.iter()) == 0

            on_insert_result.check(checks)

        ctx.db.test_event.on_insert(on_insert)
        ctx.reducers.emit_test_event("hello", 42)

    _subscribed_then(s, body)


def test_multiple_events(s: Scenario) -> None:
    """Three events from one reducer call arrive as three inserts."""

    def body(ctx: Any, counter: Any) -> None:
        result: Reporter = counter.add_test("multiple-events")
        received: list[Any] = []

        def on_insert(_ctx: Any, row: Any) -> None:
            received.append(row)
            if len(received) == 3:
                result()

        ctx.db.test_event.on_insert(on_insert)
        ctx.reducers.emit_multiple_test_events()

    _subscribed_then(s, body)


def test_events_dont_persist(s: Scenario) -> None:
    """After an event and a later no-op transaction, exactly one insert was seen: event rows
    are not replayed with later transactions."""

    def body(ctx: Any, counter: Any) -> None:
        noop_result: Reporter = counter.add_test("events-dont-persist")
        lock = threading.Lock()
        inserts = [0]

        def on_insert(_ctx: Any, _row: Any) -> None:
            with lock:
                inserts[0] += 1

        ctx.db.test_event.on_insert(on_insert)
        ctx.reducers.emit_test_event("hello", 42)

        def after_noop(_ctx: Any, _outcome: Any) -> None:
            with lock:
                count = inserts[0]
            noop_result(None if count == 1 else f"Expected 1 event insert, but got {count}")

        ctx.reducers.noop().then(after_noop)

    _subscribed_then(s, body)
