"""Port of the official ``sdk-test-view-pk`` module: query-builder views over a table with a
primary key (the views inherit the key), including semijoins through membership tables."""

from __future__ import annotations

from spacetimedb_sdk.module import (
    Query,
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
class ViewPkPlayer:
    id: u64 = primary_key()
    name: str


@table(public=True)
class ViewPkMembership:
    id: u64 = primary_key()
    player_id: u64 = index("btree")


@table(public=True)
class ViewPkMembershipSecondary:
    id: u64 = primary_key()
    player_id: u64 = index("btree")


@reducer
def insert_view_pk_player(ctx: ReducerContext, id: u64, name: str) -> None:
    ctx.db.view_pk_player.insert(ViewPkPlayer(id=id, name=name))


@reducer
def update_view_pk_player(ctx: ReducerContext, id: u64, name: str) -> None:
    ctx.db.view_pk_player.id.update(ViewPkPlayer(id=id, name=name))


@reducer
def insert_view_pk_membership(ctx: ReducerContext, id: u64, player_id: u64) -> None:
    ctx.db.view_pk_membership.insert(ViewPkMembership(id=id, player_id=player_id))


@reducer
def insert_view_pk_membership_secondary(ctx: ReducerContext, id: u64, player_id: u64) -> None:
    ctx.db.view_pk_membership_secondary.insert(
        ViewPkMembershipSecondary(id=id, player_id=player_id)
    )


@view(public=True)
def all_view_pk_players(ctx: ViewContext) -> Query[ViewPkPlayer]:
    return ctx.from_.view_pk_player


@view(public=True)
def sender_view_pk_players_a(ctx: ViewContext) -> Query[ViewPkPlayer]:
    return ctx.from_.view_pk_membership.right_semijoin(
        ctx.from_.view_pk_player, lambda membership, player: membership.player_id.eq(player.id)
    )


@view(public=True)
def sender_view_pk_players_b(ctx: ViewContext) -> Query[ViewPkPlayer]:
    return ctx.from_.view_pk_membership_secondary.right_semijoin(
        ctx.from_.view_pk_player, lambda membership, player: membership.player_id.eq(player.id)
    )
