"""The official suite's ``sdk-test-view`` scenarios: subscribing to anonymous and per-client
views (table rows or a struct, by SQL or the typed query builder) and their incremental
updates, also after another client of the same view disconnected."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from spacetimedb_sdk import Identity
from tests.sdk_suite.harness import Driver, HostedModule, Reporter, Scenario, scenario_of
from tests.sdk_suite.sdk_test_support import assert_committed


@pytest.fixture
def s(hosted_module: Any, driver: Driver) -> Iterator[Scenario]:
    module: HostedModule = hosted_module("sdk_test_view")
    yield from scenario_of(module, driver)


def _identity(byte: int) -> Identity:
    """``Identity::from_byte_array([byte; 32])`` of the official client."""
    return Identity(bytes([byte] * 32))


def _players_at_level_0_body(
    ctx: Any, table: Any, insert_0: Reporter, insert_1: Reporter, delete_1: Reporter
) -> None:
    """Watch ``table`` for the level-0 players 2 and 4 (4 deleted again), then insert players
    1..4 at levels 1, 0, 1, 0 and delete player 4."""

    def on_insert(_ctx: Any, player: Any) -> None:
        if player.identity == _identity(2):
            return insert_0()
        if player.identity == _identity(4):
            return insert_1()
        raise AssertionError(f"Unexpected identity on insert: `{player.identity}`")

    def on_delete(_ctx: Any, player: Any) -> None:
        if player.identity == _identity(4):
            return delete_1()
        raise AssertionError(f"Unexpected identity on delete: `{player.identity}`")

    table.on_insert(on_insert)
    table.on_delete(on_delete)
    for byte, level in [(1, 1), (2, 0), (3, 1), (4, 0)]:
        ctx.reducers.insert_player(_identity(byte), level).then(assert_committed("insert_player"))
    ctx.reducers.delete_player(_identity(4)).then(assert_committed("delete_player"))


@pytest.mark.parametrize("driver", ["threaded", "asyncio"])
def test_subscribe_anonymous_view(s: Scenario) -> None:
    """An anonymous view (players at level 0) gets the inserts and deletes of its rows only."""
    counter = s.counter()
    insert_0, insert_1 = counter.add_test("insert_0"), counter.add_test("insert_1")
    delete_1 = counter.add_test("delete_1")

    def applied(ctx: Any) -> None:
        table = ctx.db.players_at_level_0
        _players_at_level_0_body(ctx, table, insert_0, insert_1, delete_1)

    s.connect_then(
        counter,
        lambda ctx: s.subscribe_these_then(ctx, ["SELECT * FROM players_at_level_0"], applied),
    )
    counter.wait_for_all()


def test_subscribe_anonymous_view_query_builder(s: Scenario) -> None:
    """The same through the query builder: level-0 ``player_level`` rows semijoined with
    ``player`` deliver ``player`` rows."""
    counter = s.counter()
    insert_0, insert_1 = counter.add_test("insert_0"), counter.add_test("insert_1")
    delete_1 = counter.add_test("delete_1")

    def on_connect(ctx: Any) -> None:
        (
            ctx.subscription_builder()
            .on_error(lambda _ctx, err: s.fail(f"Subscription errored: {err!r}"))
            .on_applied(
                lambda ctx: _players_at_level_0_body(
                    ctx, ctx.db.player, insert_0, insert_1, delete_1
                )
            )
            .subscribe(
                lambda q: q.player_level.filter(lambda pl: pl.level.eq(0)).right_semijoin(
                    q.player, lambda lvl, pl: lvl.entity_id.eq(pl.entity_id)
                )
            )
        )

    s.connect_then(counter, on_connect)
    counter.wait_for_all()


def _my_player_body(
    view: str, level: int, insert: Reporter, delete: Reporter, check_level: bool
) -> Callable[[Any], None]:
    """Watch the per-client ``view`` for this client's row only; insert another player and
    this client's (at ``level``), then delete both."""

    def applied(ctx: Any) -> None:
        me = ctx.identity
        table = getattr(ctx.db, view)

        def mine(report: Reporter) -> Callable[[Any, Any], None]:
            def check(_ctx: Any, player: Any) -> None:
                assert player.identity == me, (player.identity, me)
                if check_level:
                    assert player.level == 1, player
                report()

            return check

        table.on_insert(mine(insert))
        table.on_delete(mine(delete))
        ctx.reducers.insert_player(_identity(1), 0).then(assert_committed("insert_player"))
        ctx.reducers.insert_player(me, level).then(assert_committed("insert_player"))
        ctx.reducers.delete_player(_identity(1)).then(assert_committed("delete_player"))
        ctx.reducers.delete_player(me).then(assert_committed("delete_player"))

    return applied


def test_subscribe_non_anonymous_view(s: Scenario) -> None:
    """``my_player`` shows each client its own player only."""
    counter = s.counter()
    insert, delete = counter.add_test("insert"), counter.add_test("delete")
    applied = _my_player_body("my_player", 0, insert, delete, check_level=False)
    s.connect_then(
        counter, lambda ctx: s.subscribe_these_then(ctx, ["SELECT * FROM my_player"], applied)
    )
    counter.wait_for_all()


def test_subscribe_view_non_table_return(s: Scenario) -> None:
    """A per-client view returning a struct that is no table's row (``PlayerAndLevel``)."""
    counter = s.counter()
    insert, delete = counter.add_test("insert"), counter.add_test("delete")
    applied = _my_player_body("my_player_and_level", 1, insert, delete, check_level=True)
    s.connect_then(
        counter,
        lambda ctx: s.subscribe_these_then(ctx, ["SELECT * FROM my_player_and_level"], applied),
    )
    counter.wait_for_all()


@pytest.mark.parametrize("driver", ["threaded", "asyncio"])
def test_subscribe_view_non_table_query_builder_return(s: Scenario) -> None:
    """The same, subscribed through the query builder with a filter on the view's column."""
    counter = s.counter()
    insert, delete = counter.add_test("insert"), counter.add_test("delete")
    applied = _my_player_body("my_player_and_level", 1, insert, delete, check_level=True)

    def on_connect(ctx: Any) -> None:
        (
            ctx.subscription_builder()
            .on_error(lambda _ctx, err: s.fail(f"Subscription errored: {err!r}"))
            .on_applied(applied)
            .subscribe(lambda q: q.my_player_and_level.filter(lambda p: p.level.eq(1)))
        )

    s.connect_then(counter, on_connect)
    counter.wait_for_all()


@pytest.mark.parametrize("driver", ["threaded", "asyncio"])
def test_subscription_updates_for_view(s: Scenario) -> None:
    """``nearby_players`` follows both clients' moves: each sees the other arrive nearby and,
    once client 1 moves away, leave."""
    counter = s.counter()
    insert_0, delete_0 = counter.add_test("insert_0"), counter.add_test("delete_0")

    def at(x: int, y: int, report: Reporter) -> Callable[[Any, Any], None]:
        def check(_ctx: Any, loc: Any) -> None:
            assert (loc.x, loc.y) == (x, y), loc
            report()

        return check

    def applied_0(ctx: Any) -> None:
        ctx.db.nearby_players.on_insert(at(2, 2, insert_0))
        ctx.db.nearby_players.on_delete(at(2, 2, delete_0))
        # Player 0 appears at (0, 0).
        ctx.reducers.move_player(0, 0).then(assert_committed("move_player"))

    s.connect_with_then(
        counter,
        "0",
        lambda b: b,
        lambda ctx: s.subscribe_these_then(ctx, ["SELECT * FROM nearby_players"], applied_0),
    )

    insert_1, delete_1 = counter.add_test("insert_1"), counter.add_test("delete_1")

    def applied_1(ctx: Any) -> None:
        def on_insert(ctx: Any, loc: Any) -> None:
            assert (loc.x, loc.y) == (0, 0), loc
            insert_1()
            # Player 1 moves out of player 0's sight.
            ctx.reducers.move_player(3, 3).then(assert_committed("move_player"))

        ctx.db.nearby_players.on_insert(on_insert)
        ctx.db.nearby_players.on_delete(at(0, 0, delete_1))
        # Player 1 appears at (2, 2).
        ctx.reducers.move_player(2, 2).then(assert_committed("move_player"))

    s.connect_with_then(
        counter,
        "1",
        lambda b: b,
        lambda ctx: s.subscribe_these_then(ctx, ["SELECT * FROM nearby_players"], applied_1),
    )
    counter.wait_for_all()


def _connect_my_player_client(
    s: Scenario,
    inserted: Reporter | None,
    deleted: Reporter | None,
    disconnected: Reporter | None,
) -> Any:
    """A client subscribed to ``my_player`` that inserts its own player once applied;
    ``inserted``/``deleted`` report its own row's insert/delete, ``disconnected`` its
    ``on_disconnect`` (without it, a disconnect with an error fails the scenario)."""
    once = {"inserted": inserted, "deleted": deleted}

    def report(which: str) -> None:
        reporter = once[which]
        if reporter is not None:
            once[which] = None
            reporter()

    def on_disconnect(ctx: Any, error: Exception | None) -> None:
        assert not ctx.is_active, "on_disconnect callback, but `ctx.is_active` is true"
        if disconnected is not None:
            disconnected(None if error is None else repr(error))
        elif error is not None:
            raise AssertionError(f"Disconnect errored: {error!r}")

    def applied(ctx: Any) -> None:
        me = ctx.identity
        ctx.db.my_player.on_insert(
            lambda _ctx, player: report("inserted") if player.identity == me else None
        )
        ctx.db.my_player.on_delete(
            lambda _ctx, player: report("deleted") if player.identity == me else None
        )
        ctx.reducers.insert_player(me, 0).then(assert_committed("insert_player"))

    builder = (
        s.builder()
        .on_connect(
            lambda conn, _identity, _token: s.subscribe_these_then(
                conn, ["SELECT * FROM my_player"], applied
            )
        )
        .on_connect_error(lambda _ctx, err: s.fail(f"Connect errored: {err!r}"))
        .on_disconnect(on_disconnect)
    )
    return s.build_and_run(builder)


@pytest.mark.parametrize("driver", ["threaded", "asyncio"])
def test_disconnect_does_not_break_sender_view_updates(s: Scenario) -> None:
    """Two clients of the per-client view ``my_player``; after client 2 disconnects, client 1
    still gets the delete of its own row."""
    conn1_insert, conn1_delete = s.counter(), s.counter()
    conn1 = _connect_my_player_client(
        s,
        conn1_insert.add_test("conn1 initial insert"),
        conn1_delete.add_test("conn1 delete after disconnect"),
        None,
    )
    conn1_insert.wait_for_all()

    conn2_insert, conn2_disconnect = s.counter(), s.counter()
    conn2 = _connect_my_player_client(
        s,
        conn2_insert.add_test("conn2 initial insert"),
        None,
        conn2_disconnect.add_test("conn2 disconnect"),
    )
    conn2_insert.wait_for_all()

    conn2.disconnect()
    conn2_disconnect.wait_for_all()

    conn1.reducers.delete_player(conn1.identity).then(assert_committed("delete_player"))
    conn1_delete.wait_for_all()
    conn1.disconnect()
