"""A module exercising most of the module API (used by the datastore/host/durability tests)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from spacetimedb_sdk.module import (
    Identity,
    ProcedureContext,
    Range,
    ReducerContext,
    ScheduleAt,
    SenderError,
    TaggedUnion,
    TimeDuration,
    Timestamp,
    TxContext,
    Variant,
    auto_inc,
    btree_index,
    client_connected,
    column,
    f32,
    hash_index,
    index,
    primary_key,
    procedure,
    reducer,
    table,
    u8,
    u32,
    u64,
    unique,
)


class Color(enum.Enum):
    """A plain enum column type."""

    RED = 1
    GREEN = 2
    BLUE = 3


@dataclass
class Point:
    """A nested product type."""

    x: f32
    y: f32


class Shape(TaggedUnion):
    """A tagged union with a payload variant, a struct variant and a unit variant."""

    circle: Variant[f32]
    square: Variant[Point]
    empty: Variant[None]


@table(public=True, indexes=[btree_index("by_team_score", "team", "score")])
class Player:
    """Players: auto-inc key, unique name, btree index on level, a multi-column index."""

    id: u64 = primary_key(auto_inc=True)
    name: str = unique()
    level: u32 = index()
    team: u8 = column(default=0)
    score: u32 = column(default=0)
    color: Color = column(default=Color.RED)
    shape: Shape | None = column(default=None)
    home: Point | None = column(default=None)


@table(accessor="tagged", public=True, indexes=[hash_index("by_label", "label")])
class Tag:
    """A private-by-default style table with a hash index and a plain auto-inc column."""

    label: str
    seq: u32 = auto_inc(default=0)


@table(public=True, event=True)
class Explosion:
    """An event table."""

    x: u32
    y: u32


@table(scheduled="tick")
class TickSchedule:
    """A schedule table (scheduled_id is made the u64 auto-inc primary key)."""

    scheduled_id: int
    scheduled_at: ScheduleAt
    note: str


@table(public=True)
class TickLog:
    """What the scheduled reducer did."""

    note: str
    at: Timestamp
    sender: Identity


@table(name="banned_people")
class Banned:
    """A table with an explicit canonical name; banned identities cannot connect."""

    identity: Identity = primary_key()


@reducer
def add_player(ctx: ReducerContext, name: str, level: u32) -> None:
    """Insert a player (auto-inc id)."""
    ctx.db.player.insert(Player(0, name, level))


@reducer
def add_player_full(ctx: ReducerContext, player: Player) -> None:
    """Insert a whole row given by the client."""
    ctx.db.player.insert(player)


@reducer
def add_two_then_fail(ctx: ReducerContext, fail_with_sender_error: bool) -> None:
    """Write several things, then fail: every write must be rolled back."""
    ctx.db.player.insert(Player(0, "doomed-1", 1))
    ctx.db.player.insert(Player(0, "doomed-2", 2))
    ctx.db.tagged.insert(Tag("doomed"))
    ctx.db.explosion.insert(Explosion(1, 1))
    existing = ctx.db.player.name.find("alice")
    if existing is not None:
        existing.level = 999
        ctx.db.player.id.update(existing)
        ctx.db.player.name.delete("bob")
    if fail_with_sender_error:
        raise SenderError("no thanks")
    raise RuntimeError("boom")


@reducer
def duplicate_name(ctx: ReducerContext, name: str) -> None:
    """Insert a second player with an existing name (unhandled unique violation)."""
    ctx.db.player.insert(Player(0, name, 1))


@reducer
def level_up(ctx: ReducerContext, name: str) -> None:
    """Update through the primary key."""
    player = ctx.db.player.name.find(name)
    if player is None:
        raise SenderError(f"no player {name}")
    player.level += 1
    ctx.db.player.id.update(player)


@reducer
def explode(ctx: ReducerContext, x: u32, y: u32) -> None:
    """Publish an event row."""
    ctx.db.explosion.insert(Explosion(x, y))
    # Constraints and reads work within the transaction.
    assert ctx.db.explosion.count() >= 1


@reducer
def schedule_tick(ctx: ReducerContext, note: str, micros: int, repeat: bool) -> None:
    """Schedule ``tick`` once at now + micros, or every ``micros``."""
    at = (
        ScheduleAt.interval(TimeDuration(micros))
        if repeat
        else ScheduleAt.time(ctx.timestamp + TimeDuration(micros))
    )
    ctx.db.tick_schedule.insert(TickSchedule(0, at, note))


@reducer
def cancel_tick(ctx: ReducerContext, scheduled_id: u64) -> None:
    """Cancel a scheduled call by deleting its row."""
    ctx.db.tick_schedule.scheduled_id.delete(scheduled_id)


@reducer
def tick(ctx: ReducerContext, row: TickSchedule) -> None:
    """The scheduled reducer."""
    if ctx.sender != ctx.identity:
        raise SenderError("tick is called by the scheduler only")
    ctx.db.tick_log.insert(TickLog(row.note, ctx.timestamp, ctx.sender))


@reducer(private=True)
def owner_only(ctx: ReducerContext) -> None:
    """A private reducer."""
    ctx.db.tagged.insert(Tag("owner"))


@reducer
def ban(ctx: ReducerContext, who: Identity) -> None:
    """Ban an identity."""
    ctx.db.banned.insert(Banned(who))


@client_connected
def connected(ctx: ReducerContext) -> None:
    """Refuse banned identities."""
    if ctx.db.banned.identity.find(ctx.sender) is not None:
        raise SenderError("you are banned")


@procedure
def add_numbers(ctx: ProcedureContext, a: u32, b: u32) -> u32:
    """A pure procedure."""
    return a + b


@procedure
def insert_via_tx(ctx: ProcedureContext, label: str, fail: bool) -> u32:
    """Open a transaction, insert, and return the count (or fail inside the transaction)."""

    def body(tx: TxContext) -> int:
        tx.db.tagged.insert(Tag(label))
        if fail:
            raise RuntimeError("rollback please")
        return int(tx.db.tagged.count())

    return ctx.with_tx(body)


@procedure
def shape_of(ctx: ProcedureContext, radius: f32) -> Shape:
    """Return a tagged-union value."""
    shape: Shape = Shape.circle(radius) if radius > 0 else Shape.empty()
    return shape


@reducer
def players_in_levels(ctx: ReducerContext, lo: u32, hi: u32) -> None:
    """Record (as tags) the names of players with lo <= level < hi, via the btree index."""
    for p in ctx.db.player.level.filter(Range(lo, hi)):
        ctx.db.tagged.insert(Tag(f"level:{p.name}"))


@table(scheduled="proc_tick")
class ProcSchedule:
    """A schedule table driving a procedure."""

    scheduled_id: u64 = primary_key(auto_inc=True)
    scheduled_at: ScheduleAt
    note: str


@procedure
def proc_tick(ctx: ProcedureContext, row: ProcSchedule) -> None:
    """The scheduled procedure: its one-shot row is already gone when it runs."""

    def body(tx: TxContext) -> None:
        still_there = tx.db.proc_schedule.scheduled_id.find(row.scheduled_id) is not None
        tx.db.tick_log.insert(TickLog(f"{row.note}:{still_there}", tx.timestamp, ctx.sender))

    ctx.with_tx(body)


@reducer
def schedule_proc(ctx: ReducerContext, note: str, micros: int) -> None:
    """Schedule ``proc_tick`` once."""
    at = ScheduleAt.time(ctx.timestamp + TimeDuration(micros))
    ctx.db.proc_schedule.insert(ProcSchedule(0, at, note))
