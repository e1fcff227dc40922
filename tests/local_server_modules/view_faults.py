"""A test module whose view fails on demand: ``fragile`` raises while some switch is broken, so
its subscribers' query sets die in the transaction that breaks it."""

from __future__ import annotations

from spacetimedb_sdk.module import (
    AnonymousViewContext,
    ReducerContext,
    primary_key,
    reducer,
    table,
    u32,
    view,
)


@table(public=True)
class Switch:
    id: u32 = primary_key()
    broken: bool


@table(public=True)
class Note:
    id: u32 = primary_key()


@view(public=True)
def fragile(ctx: AnonymousViewContext) -> list[Switch]:
    switches = list(ctx.db.switch.iter())
    if any(s.broken for s in switches):
        raise RuntimeError("a switch is broken")
    return switches


@reducer
def add_switch(ctx: ReducerContext, id: u32) -> None:
    ctx.db.switch.insert(Switch(id=id, broken=False))


@reducer
def break_switch_and_note(ctx: ReducerContext, id: u32) -> None:
    ctx.db.switch.id.update(Switch(id=id, broken=True))
    ctx.db.note.insert(Note(id=id))
