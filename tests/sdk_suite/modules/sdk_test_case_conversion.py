"""Port of the official ``sdk-test-case-conversion`` module: names in mixed styles (PascalCase,
camelCase, digits inside words), an explicit table name, an explicit reducer name and an
explicitly named query view, all under the default snake_case policy."""

# ruff: noqa: N802, N803, N815  (the odd names are what this module tests)

from __future__ import annotations

from dataclasses import dataclass

from spacetimedb_sdk.module import (
    AnonymousViewContext,
    Query,
    ReducerContext,
    TaggedUnion,
    Variant,
    index,
    primary_key,
    reducer,
    table,
    u8,
    u32,
    view,
)


class Player2Status(TaggedUnion):
    Active1: Variant[None]
    BannedUntil: Variant[u32]


@dataclass
class Person3Info:
    AgeValue1: u8
    ScoreTotal: u32


@table(name="Player1Canonical", accessor="player1", public=True)
class Player1:
    Player1Id: u32 = primary_key(auto_inc=True)
    player_name: str
    currentLevel2: u32
    status3Field: Player2Status


@table(accessor="person2", public=True)
class Person2:
    Person2Id: u32 = primary_key(auto_inc=True)
    FirstName: str
    playerRef: u32 = index("btree")
    personInfo: Person3Info


@reducer
def CreatePlayer1(ctx: ReducerContext, Player1Name: str, Start2Level: u32) -> None:
    ctx.db.player1.insert(
        Player1(
            Player1Id=0,
            player_name=Player1Name,
            currentLevel2=Start2Level,
            status3Field=Player2Status.Active1(),
        )
    )


@reducer
def AddPerson2(
    ctx: ReducerContext, First3Name: str, playerRef: u32, AgeValue: u8, ScoreTotal: u32
) -> None:
    ctx.db.person2.insert(
        Person2(
            Person2Id=0,
            FirstName=First3Name,
            playerRef=playerRef,
            personInfo=Person3Info(AgeValue1=AgeValue, ScoreTotal=ScoreTotal),
        )
    )


@reducer(name="banPlayer1")
def BanPlayer1(ctx: ReducerContext, Player1Id: u32, BanUntil6: u32) -> None:
    player = ctx.db.player1.Player1Id.find(Player1Id)
    if player is not None:
        player.status3Field = Player2Status.BannedUntil(BanUntil6)
        ctx.db.player1.Player1Id.update(player)


@view(name="Level2Person", accessor="person_at_level_2", public=True)
def level2_person(ctx: AnonymousViewContext) -> Query[Person2]:
    return ctx.from_.player1.where(lambda pl: pl.currentLevel2.eq(2)).right_semijoin(
        ctx.from_.person2, lambda pl, per: pl.Player1Id.eq(per.playerRef)
    )
