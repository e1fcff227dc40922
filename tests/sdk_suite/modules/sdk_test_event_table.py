"""Port of the official ``sdk-test-event-table`` module: an event table (rows reach subscribers
in their transaction and are never stored)."""

from __future__ import annotations

from spacetimedb_sdk.module import ReducerContext, reducer, table, u64


@table(public=True, event=True)
class TestEvent:
    name: str
    value: u64


@reducer
def emit_test_event(ctx: ReducerContext, name: str, value: u64) -> None:
    ctx.db.test_event.insert(TestEvent(name=name, value=value))


@reducer
def emit_multiple_test_events(ctx: ReducerContext) -> None:
    for name, value in (("a", 1), ("b", 2), ("c", 3)):
        ctx.db.test_event.insert(TestEvent(name=name, value=value))


@reducer
def noop(ctx: ReducerContext) -> None:
    """Does nothing: lets a client observe a later transaction."""
