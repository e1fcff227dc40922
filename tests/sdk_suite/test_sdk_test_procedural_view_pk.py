"""The official suite's ``sdk-test-procedural-view-pk`` scenarios: per-client views computed
in module code that declare a primary key; updates arrive as ``on_update`` for the sender's
rows only, and semijoins of two such views honour the filters on both sides."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.sdk_suite.harness import Driver, HostedModule, Scenario, scenario_of
from tests.sdk_suite.sdk_test_support import assert_committed


@pytest.fixture
def s(hosted_module: Any, driver: Driver) -> Iterator[Scenario]:
    module: HostedModule = hosted_module("sdk_test_procedural_view_pk")
    yield from scenario_of(module, driver)


def _subscribe(s: Scenario, ctx: Any, query: Any, applied: Callable[[Any], None]) -> None:
    """Subscribe to ``query`` (a function of the query builder), failing on an error."""
    (
        ctx.subscription_builder()
        .on_error(lambda _ctx, err: s.fail(f"Subscription errored: {err!r}"))
        .on_applied(applied)
        .subscribe(query)
    )


@pytest.mark.parametrize("driver", ["threaded", "asyncio"])
def test_sender_scoped_procedural_pk_view(s: Scenario) -> None:
    """Two clients, each inserting and updating its own row of ``left_source``: each gets an
    ``on_update`` of ``sender_left_view`` for its own row only (the other's would fail the
    checks)."""
    counter = s.counter()
    updates = {"a": counter.add_test("sender_a_update"), "b": counter.add_test("sender_b_update")}

    def client(name: str, row_id: int, before: int, after: int) -> Callable[[Any], None]:
        def on_update(_ctx: Any, old: Any, new: Any) -> None:
            assert (old.id, old.filter) == (row_id, before), old
            assert (new.id, new.filter) == (row_id, after), new
            updates[name]()

        def applied(ctx: Any) -> None:
            ctx.db.sender_left_view.on_update(on_update)
            ctx.reducers.insert_left(row_id, before).then(assert_committed("insert_left"))
            ctx.reducers.update_left(row_id, after).then(assert_committed("update_left"))

        return lambda ctx: _subscribe(s, ctx, lambda q: q.sender_left_view, applied)

    s.connect_then(counter, client("a", 1, 10, 11))
    s.connect_with_then(counter, "sender_b", lambda b: b, client("b", 2, 20, 21))
    counter.wait_for_all()


def _insert_semijoin_source_rows(ctx: Any) -> None:
    """Rows 10 and 20 in both views; only 10 passes the side filters (left 100, right 300)."""
    for row_id, value in [(10, 100), (20, 200)]:
        ctx.reducers.insert_left(row_id, value).then(assert_committed("insert_left"))
    for row_id, value in [(10, 300), (20, 400)]:
        ctx.reducers.insert_right(row_id, value).then(assert_committed("insert_right"))


def _semijoin(s: Scenario, result_name: str, view: str, expected: int, query: Any) -> None:
    """Subscribe to ``query``; ``view`` must get exactly one insert: row 10 with ``expected``
    in its filter column, and hold only that row."""
    counter = s.counter()
    joined_insert = counter.add_test(result_name)

    def applied(ctx: Any) -> None:
        def on_insert(ctx: Any, row: Any) -> None:
            assert getattr(ctx.db, view).count() == 1
            assert (row.id, row.filter) == (10, expected), row
            joined_insert()

        getattr(ctx.db, view).on_insert(on_insert)
        _insert_semijoin_source_rows(ctx)

    s.connect_then(counter, lambda ctx: _subscribe(s, ctx, query, applied))
    counter.wait_for_all()


def test_procedural_view_pk_left_semijoin(s: Scenario) -> None:
    """``sender_left_view`` rows (filter 100) having a match in ``sender_right_view``
    (filter 300)."""
    _semijoin(
        s,
        "left_semijoin_insert",
        "sender_left_view",
        100,
        lambda q: (
            q.sender_right_view.filter(lambda right: right.filter.eq(300))
            .right_semijoin(q.sender_left_view, lambda right, left: right.id.eq(left.id))
            .filter(lambda left: left.filter.eq(100))
        ),
    )


def test_procedural_view_pk_right_semijoin(s: Scenario) -> None:
    """``sender_right_view`` rows (filter 300) having a match in ``sender_left_view``
    (filter 100)."""
    _semijoin(
        s,
        "right_semijoin_insert",
        "sender_right_view",
        300,
        lambda q: (
            q.sender_left_view.filter(lambda left: left.filter.eq(100))
            .right_semijoin(q.sender_right_view, lambda left, right: left.id.eq(right.id))
            .filter(lambda right: right.filter.eq(300))
        ),
    )
