"""A test module whose views fail: ``fragile`` raises while some switch is broken (so the
transaction that breaks one fails), ``unindexed`` is a query view whose join the real planner
refuses (``tag.owner`` has no index)."""

from __future__ import annotations

from spacetimedb_sdk.module import (
    AnonymousViewContext,
    Query,
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


@table(public=True)
class Tag:
    id: u32 = primary_key()
    owner: u32


@view(public=True)
def unindexed(ctx: AnonymousViewContext) -> Query[Tag]:
    return ctx.from_.switch.right_semijoin(ctx.from_.tag, lambda s, t: s.id.eq(t.owner))


@view(public=True)
def fragile(ctx: AnonymousViewContext) -> list[Switch]:
    switches = list(ctx.db.switch.iter())
    if any(s.broken and s.id == 99 for s in switches):
        raise SystemExit(3)  # module code must not end the server
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
