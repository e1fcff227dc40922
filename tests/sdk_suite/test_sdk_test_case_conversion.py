"""The official suite's ``sdk-test-case-conversion`` scenarios: a module whose names mix styles
(``Player1Canonical``, ``currentLevel2``, ``banPlayer1``, ``Level2Person``) is used through
the generated snake_case accessors (``player_1``, ``current_level_2``, ``ban_player_1``,
``person_at_level_2``), by typed queries, filters, a semijoin and a view.

Every scenario gets a database never used before, as the official harness publishes one:
``test_query_view`` relies on the first player's auto-incremented id being 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from spacetimedb_sdk.client.testing import build_offline
from tests.sdk_suite.harness import Driver, HostedModule, Reporter, Scenario, scenario_of
from tests.sdk_suite.sdk_test_support import assert_committed


@pytest.fixture
def s(hosted_module: Any, driver: Driver) -> Iterator[Scenario]:
    module: HostedModule = hosted_module("sdk_test_case_conversion")
    yield from scenario_of(module, driver)


def _run(s: Scenario, query: Any, expect: Callable[[Any], Callable[[Any], None]]) -> None:
    """``expect(counter)`` registers the scenario's expectations and returns its
    ``on_applied`` body; connect, subscribe to ``query`` and wait for everything."""
    counter = s.counter()
    body = expect(counter)

    def on_connect(ctx: Any) -> None:
        (
            ctx.subscription_builder()
            .on_error(lambda _ctx, err: s.fail(f"Subscription errored: {err!r}"))
            .on_applied(body)
            .subscribe(query)
        )

    s.connect_then(counter, on_connect)
    counter.wait_for_all()


def _then_with_player(name: str, action: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """A ``create_player_1`` completion that, once committed, runs ``action(ctx, player)`` with
    the player named ``name`` from the cache."""

    def then(ctx: Any, outcome: Any) -> None:
        assert_committed("create_player_1")(ctx, outcome)
        if isinstance(outcome, BaseException):
            return  # answered by the scenario's own disconnect (see assert_committed)
        player = next((p for p in ctx.db.player_1.iter() if p.player_name == name), None)
        assert player is not None, f"{name} should exist"
        action(ctx, player)

    return then


def test_insert_player(s: Scenario) -> None:
    """``create_player_1`` inserts into ``player_1`` (canonically ``Player1Canonical``): the
    digit-boundary columns and the enum variant ``Active1`` arrive under their converted names."""

    def expect(counter: Any) -> Callable[[Any], None]:
        inserted: Reporter = counter.add_test("insert_player")

        def applied(ctx: Any) -> None:
            status = s.module.bindings.Player2Status
            ctx.db.player_1.on_insert(
                lambda _ctx, row: inserted.check(
                    lambda: _expect(
                        ("Alice", 5, status.Active1()),
                        (row.player_name, row.current_level_2, row.status_3_field),
                    )
                )
            )
            ctx.reducers.create_player_1("Alice", 5).then(assert_committed("create_player_1"))

        return applied

    _run(s, lambda q: q.player_1, expect)


def _expect(expected: Any, found: Any) -> None:
    assert expected == found, f"Expected {expected!r} but found {found!r}"


def _person_check(
    report: Reporter, first_name: str, age: int, score: int
) -> Callable[[Any, Any], None]:
    """An ``on_insert`` of a ``Person2`` row expecting these values (nested struct included)."""

    def on_insert(_ctx: Any, person: Any) -> None:
        report.check(
            lambda: _expect(
                (first_name, age, score),
                (person.first_name, person.person_info.age_value_1, person.person_info.score_total),
            )
        )

    return on_insert


def test_insert_person(s: Scenario) -> None:
    """``add_person_2`` for a player created first: the nested ``Person3Info`` struct's
    digit-boundary fields arrive under their converted names."""

    def expect(counter: Any) -> Callable[[Any], None]:
        inserted: Reporter = counter.add_test("insert_person")

        def applied(ctx: Any) -> None:
            ctx.db.person_2.on_insert(_person_check(inserted, "Bob", 25, 1000))

            def add_person(ctx: Any, player: Any) -> None:
                ctx.reducers.add_person_2("Bob", player.player_1_id, 25, 1000).then(
                    assert_committed("add_person_2")
                )

            ctx.reducers.create_player_1("PlayerForPerson", 1).then(
                _then_with_player("PlayerForPerson", add_person)
            )

        return applied

    _run(s, lambda q: [q.player_1, q.person_2], expect)


def test_ban_player(s: Scenario) -> None:
    """The explicitly named reducer ``banPlayer1`` (``ban_player_1``) updates the player's
    status to ``BannedUntil(9999)``: one ``on_update``."""

    def expect(counter: Any) -> Callable[[Any], None]:
        updated: Reporter = counter.add_test("ban_player_update")

        def applied(ctx: Any) -> None:
            status = s.module.bindings.Player2Status
            ctx.db.player_1.on_update(
                lambda _ctx, _old, new: updated.check(
                    lambda: _expect(status.BannedUntil(9999), new.status_3_field)
                )
            )

            def ban(ctx: Any, player: Any) -> None:
                ctx.reducers.ban_player_1(player.player_1_id, 9999).then(
                    assert_committed("banPlayer1")
                )

            ctx.reducers.create_player_1("ToBan", 1).then(_then_with_player("ToBan", ban))

        return applied

    _run(s, lambda q: q.player_1, expect)


def test_query_builder_filter(s: Scenario) -> None:
    """A typed filter on the digit-boundary column ``current_level_2``: only the level-5
    player arrives."""

    def expect(counter: Any) -> Callable[[Any], None]:
        matched: Reporter = counter.add_test("insert_matching_filter")

        def applied(ctx: Any) -> None:
            ctx.db.player_1.on_insert(
                lambda _ctx, row: matched.check(
                    lambda: _expect((5, "FilterMatch"), (row.current_level_2, row.player_name))
                )
            )
            ctx.reducers.create_player_1("NoMatch", 3).then(assert_committed("create_player_1"))
            ctx.reducers.create_player_1("FilterMatch", 5).then(assert_committed("create_player_1"))

        return applied

    _run(s, lambda q: q.player_1.filter(lambda p: p.current_level_2.eq(5)), expect)


def test_query_builder_join(s: Scenario) -> None:
    """A right semijoin ``player_1`` -> ``person_2`` on ``player_1_id = player_ref``: the person
    of an existing player arrives through the join."""

    def expect(counter: Any) -> Callable[[Any], None]:
        joined: Reporter = counter.add_test("join_insert")

        def applied(ctx: Any) -> None:
            check = _person_check(joined, "JoinPerson", 30, 500)
            ctx.db.person_2.on_insert(
                lambda _ctx, row: check(_ctx, row) if row.first_name == "JoinPerson" else None
            )

            def add_person(ctx: Any, player: Any) -> None:
                ctx.reducers.add_person_2("JoinPerson", player.player_1_id, 30, 500).then(
                    assert_committed("add_person_2")
                )

            ctx.reducers.create_player_1("JoinedPlayer", 7).then(
                _then_with_player("JoinedPlayer", add_person)
            )

        return applied

    _run(
        s,
        lambda q: [
            q.player_1.right_semijoin(
                q.person_2, lambda player, person: player.player_1_id.eq(person.player_ref)
            ),
            # So that the reducer's completion can find the player in the cache.
            q.player_1,
        ],
        expect,
    )


def test_query_view(s: Scenario) -> None:
    """The explicitly named query view ``Level2Person`` (``person_at_level_2``): a person of a
    level-2 player appears in it."""

    def expect(counter: Any) -> Callable[[Any], None]:
        viewed: Reporter = counter.add_test("view_query")

        def applied(ctx: Any) -> None:
            ctx.db.person_at_level_2.on_insert(_person_check(viewed, "ViewPerson", 20, 200))
            ctx.reducers.create_player_1("Level2Player", 2).then(
                assert_committed("create_player_1")
            )
            # 1: the first player's id in a new database.
            ctx.reducers.add_person_2("ViewPerson", 1, 20, 200).then(
                assert_committed("add_person_2")
            )

        return applied

    _run(s, lambda q: q.person_at_level_2, expect)


def test_query_builder_takes_the_generated_names(hosted_module: Any) -> None:
    """Regression: ``conn.from_`` found tables by canonical or module accessor name only
    (``Player1Canonical``, ``player1``), not by the names the generated ``conn.db`` uses
    (``player_1``), so every query-builder scenario above failed with AttributeError."""
    bindings = hosted_module("sdk_test_case_conversion").bindings
    builder = bindings.DbConnection.builder().with_uri("ws://test").with_database_name("db")
    conn, socket = build_offline(builder)
    try:
        q = conn.from_
        assert q.player_1.filter(lambda p: p.current_level_2.eq(5)).to_sql() == (
            'SELECT * FROM "Player1Canonical" WHERE "Player1Canonical"."current_level_2" = 5'
        )
        assert q.person_at_level_2.table == "Level2Person"
        assert q["person_2"].table == "person_2"
        with pytest.raises(AttributeError, match="no table or view 'player_9'"):
            _ = q.player_9
    finally:
        socket.close()
