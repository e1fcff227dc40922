"""Focused regression tests for defects the official suite's scenarios exposed in the client.

Each is ``xfail(strict=True)`` while the defect is open (the client is being refactored in
another change), so the fix turns it into a pass that must then drop the marker.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.sdk_suite.harness import HostedModule, Scenario, scenario_of


@pytest.fixture
def s(hosted_module: Any) -> Iterator[Scenario]:
    module: HostedModule = hosted_module("sdk_test")
    yield from scenario_of(module, "threaded")


def test_unsubscribe_before_applied_never_runs_on_applied(s: Scenario) -> None:
    """Subscribing and unsubscribing in one callback (nothing can arrive in between): the
    subscription ends, and its ``on_applied`` never runs."""
    counter = s.counter()
    ended = counter.add_test("ended")
    applied: list[str] = []

    def on_connect(conn: Any) -> None:
        handle = (
            conn.subscription_builder()
            .on_applied(lambda _ctx: applied.append("applied"))
            .subscribe("SELECT * FROM one_u_8")
        )
        handle.unsubscribe_then(lambda _ctx: ended())

    conn = s.connect_then(counter, on_connect)
    counter.wait_for_all()
    # A later round trip: anything the server sent for the set has been processed by now.
    conn.reducers.no_op_succeeds().result(10)
    assert applied == []


def test_enum_keyed_index_survives_new_keys(s: Scenario) -> None:
    """After a ``filter()`` on indexed_simple_enum.n (which builds the client's index), a
    row with another variant still arrives: its insert callback runs, the call completes."""
    types = s.module.bindings.types
    counter = s.counter()
    applied = counter.add_test("applied")
    conn = s.connect_then(
        counter,
        lambda ctx: s.subscribe_these_then(
            ctx, ["SELECT * FROM indexed_simple_enum"], lambda _ctx: applied()
        ),
    )
    counter.wait_for_all()
    s.result(conn.reducers.insert_into_indexed_simple_enum(types.SimpleEnum.One))
    assert len(list(conn.db.indexed_simple_enum.n.filter(types.SimpleEnum.One))) == 1

    later = s.counter()
    inserted = later.add_test("insert of Two")
    conn.db.indexed_simple_enum.on_insert(lambda _ctx, row: inserted())
    conn.reducers.insert_into_indexed_simple_enum(types.SimpleEnum.Two)
    later.wait_for_all(timeout=3)
