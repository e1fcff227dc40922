"""Port of the official ``sdk-test-view`` module: per-client and anonymous views computed in
Python, returning one row (``Row | None``) or many (``list[Row]``), table rows or a struct."""

from __future__ import annotations

from dataclasses import dataclass

from spacetimedb_sdk.module import (
    AnonymousViewContext,
    Identity,
    ReducerContext,
    ViewContext,
    i32,
    index,
    primary_key,
    reducer,
    table,
    u64,
    unique,
    view,
)


@table(public=True)
class Player:
    entity_id: u64 = primary_key(auto_inc=True)
    identity: Identity = unique()


@table(public=True)
class PlayerLevel:
    entity_id: u64 = unique()
    level: u64 = index("btree")


@table
class PlayerLocation:
    entity_id: u64 = unique()
    active: bool = index("btree")
    x: i32
    y: i32


@dataclass
class PlayerAndLevel:
    entity_id: u64
    identity: Identity
    level: u64


@reducer
def insert_player(ctx: ReducerContext, identity: Identity, level: u64) -> None:
    player = ctx.db.player.insert(Player(entity_id=0, identity=identity))
    ctx.db.player_level.insert(PlayerLevel(entity_id=player.entity_id, level=level))


@reducer
def delete_player(ctx: ReducerContext, identity: Identity) -> None:
    player = ctx.db.player.identity.find(identity)
    if player is not None:
        ctx.db.player.entity_id.delete(player.entity_id)
        ctx.db.player_level.entity_id.delete(player.entity_id)


@reducer
def move_player(ctx: ReducerContext, dx: i32, dy: i32) -> None:
    me = ctx.db.player.identity.find(ctx.sender)
    if me is None:
        me = ctx.db.player.insert(Player(entity_id=0, identity=ctx.sender))
    loc = ctx.db.player_location.entity_id.find(me.entity_id)
    if loc is None:
        ctx.db.player_location.insert(
            PlayerLocation(entity_id=me.entity_id, active=True, x=dx, y=dy)
        )
    else:
        ctx.db.player_location.entity_id.delete(loc.entity_id)
        ctx.db.player_location.insert(
            PlayerLocation(entity_id=loc.entity_id, active=loc.active, x=loc.x + dx, y=loc.y + dy)
        )


@view(public=True)
def my_player(ctx: ViewContext) -> Player | None:
    player: Player | None = ctx.db.player.identity.find(ctx.sender)
    return player


@view(public=True)
def my_player_and_level(ctx: ViewContext) -> PlayerAndLevel | None:
    player = ctx.db.player.identity.find(ctx.sender)
    if player is None:
        return None
    level = ctx.db.player_level.entity_id.find(player.entity_id)
    if level is None:
        return None
    return PlayerAndLevel(player.entity_id, player.identity, level.level)


@view(public=True)
def players_at_level_0(ctx: AnonymousViewContext) -> list[Player]:
    found = (ctx.db.player.entity_id.find(p.entity_id) for p in ctx.db.player_level.level.filter(0))
    return [p for p in found if p is not None]


@view(public=True)
def nearby_players(ctx: ViewContext) -> list[PlayerLocation]:
    me = ctx.db.player.identity.find(ctx.sender)
    mine = None if me is None else ctx.db.player_location.entity_id.find(me.entity_id)
    if mine is None:
        return []
    return [
        loc
        for loc in ctx.db.player_location.active.filter(True)
        if loc.entity_id != mine.entity_id and abs(loc.x - mine.x) < 5 and abs(loc.y - mine.y) < 5
    ]
