"""The official suite's ``sdk-test-view-pk`` scenarios: query-builder views inherit their
table's primary key, so a changed row arrives as one ``on_update(old, new)``, also through
semijoins with a table and between two per-client views."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.sdk_suite.harness import Driver, HostedModule, Reporter, Scenario, scenario_of
from tests.sdk_suite.sdk_test_support import assert_committed


@pytest.fixture
def s(hosted_module: Any, driver: Driver) -> Iterator[Scenario]:
    module: HostedModule = hosted_module("sdk_test_view_pk")
    yield from scenario_of(module, driver)


def _before_after(report: Reporter) -> Callable[[Any, Any, Any], None]:
    """An ``on_update`` expecting player 1 renamed from "before" to "after"."""

    def on_update(_ctx: Any, old: Any, new: Any) -> None:
        assert (old.id, old.name) == (1, "before"), old
        assert (new.id, new.name) == (1, "after"), new
        report()

    return on_update


def _subscribe(s: Scenario, ctx: Any, query: Any, applied: Callable[[Any], None]) -> None:
    """Subscribe to ``query`` (a function of the query builder), failing on an error."""
    (
        ctx.subscription_builder()
        .on_error(lambda _ctx, err: s.fail(f"Subscription errored: {err!r}"))
        .on_applied(applied)
        .subscribe(query)
    )


@pytest.mark.parametrize("driver", ["threaded", "asyncio"])
def test_query_builder_view_with_pk_on_update_callback(s: Scenario) -> None:
    """``all_view_pk_players`` (a query view over a primary-key table): an update of the row
    is one ``on_update`` with the old and the new row."""
    counter = s.counter()
    on_update = counter.add_test("on_update")

    def applied(ctx: Any) -> None:
        ctx.db.all_view_pk_players.on_update(_before_after(on_update))
        ctx.reducers.insert_view_pk_player(1, "before").then(
            assert_committed("insert_view_pk_player")
        )
        ctx.reducers.update_view_pk_player(1, "after").then(
            assert_committed("update_view_pk_player")
        )

    s.connect_then(
        counter,
        lambda ctx: s.subscribe_these_then(ctx, ["SELECT * FROM all_view_pk_players"], applied),
    )
    counter.wait_for_all()


def test_query_builder_join_table_with_view_pk(s: Scenario) -> None:
    """A right semijoin of a table with a primary-key view delivers the view's rows, and an
    update of a matched row as ``on_update``."""
    counter = s.counter()
    joined_update = counter.add_test("join_update")

    def applied(ctx: Any) -> None:
        ctx.db.all_view_pk_players.on_update(_before_after(joined_update))
        ctx.reducers.insert_view_pk_player(1, "before").then(
            assert_committed("insert_view_pk_player")
        )
        ctx.reducers.insert_view_pk_membership(1, 1).then(
            assert_committed("insert_view_pk_membership")
        )
        ctx.reducers.update_view_pk_player(1, "after").then(
            assert_committed("update_view_pk_player")
        )

    def query(q: Any) -> Any:
        return q.view_pk_membership.right_semijoin(
            q.all_view_pk_players, lambda membership, player: membership.player_id.eq(player.id)
        )

    s.connect_then(counter, lambda ctx: _subscribe(s, ctx, query, applied))
    counter.wait_for_all()


def test_query_builder_semijoin_two_sender_views_with_pk(s: Scenario) -> None:
    """A semijoin of two per-client primary-key views: the update of a row both contain
    reaches the returned view as ``on_update``."""
    counter = s.counter()
    joined_update = counter.add_test("join_update")

    def applied(ctx: Any) -> None:
        ctx.db.sender_view_pk_players_b.on_update(_before_after(joined_update))
        ctx.reducers.insert_view_pk_player(1, "before").then(
            assert_committed("insert_view_pk_player")
        )
        ctx.reducers.insert_view_pk_membership(1, 1).then(
            assert_committed("insert_view_pk_membership")
        )
        ctx.reducers.insert_view_pk_membership_secondary(1, 1).then(
            assert_committed("insert_view_pk_membership_secondary")
        )
        ctx.reducers.update_view_pk_player(1, "after").then(
            assert_committed("update_view_pk_player")
        )

    def query(q: Any) -> Any:
        return q.sender_view_pk_players_a.right_semijoin(
            q.sender_view_pk_players_b, lambda lhs, rhs: lhs.id.eq(rhs.id)
        )

    s.connect_then(counter, lambda ctx: _subscribe(s, ctx, query, applied))
    counter.wait_for_all()
