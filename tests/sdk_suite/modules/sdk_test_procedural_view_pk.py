"""Port of the official ``sdk-test-procedural-view-pk`` module: per-client views computed in
Python (``list[Row]``) that declare a primary key, so clients get updates for them."""

from __future__ import annotations

from spacetimedb_sdk.module import (
    Identity,
    ReducerContext,
    ViewContext,
    index,
    primary_key,
    reducer,
    table,
    u64,
    view,
)


@table(public=True)
class LeftSource:
    id: u64 = primary_key()
    sender: Identity = index("btree")
    filter: u64


@table(public=True)
class RightSource:
    id: u64 = primary_key()
    sender: Identity = index("btree")
    filter: u64


@reducer
def insert_left(ctx: ReducerContext, id: u64, filter: u64) -> None:
    ctx.db.left_source.insert(LeftSource(id=id, sender=ctx.sender, filter=filter))


@reducer
def update_left(ctx: ReducerContext, id: u64, filter: u64) -> None:
    ctx.db.left_source.id.update(LeftSource(id=id, sender=ctx.sender, filter=filter))


@reducer
def insert_right(ctx: ReducerContext, id: u64, filter: u64) -> None:
    ctx.db.right_source.insert(RightSource(id=id, sender=ctx.sender, filter=filter))


@view(public=True, primary_key="id")
def sender_left_view(ctx: ViewContext) -> list[LeftSource]:
    return list(ctx.db.left_source.sender.filter(ctx.sender))


@view(public=True, primary_key="id")
def sender_right_view(ctx: ViewContext) -> list[RightSource]:
    return list(ctx.db.right_source.sender.filter(ctx.sender))
