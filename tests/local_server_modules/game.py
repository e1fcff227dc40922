"""A test module exercising what the chat module does not: joins, a private table, an event
table, a schedule table, procedures, connection refusal and crashing reducers."""

from __future__ import annotations

from spacetimedb_sdk.module import (
    Identity,
    ProcedureContext,
    ReducerContext,
    ScheduleAt,
    SenderError,
    TimeDuration,
    TxContext,
    client_connected,
    index,
    primary_key,
    procedure,
    reducer,
    table,
    u32,
    u64,
)


@table(public=True)
class Player:
    """A player; ``level`` is what the join tests filter on."""

    id: u64 = primary_key(auto_inc=True)
    name: str
    level: u32


@table(public=True)
class Item:
    """An item owned by a player (join: ``item.owner_id = player.id``)."""

    id: u64 = primary_key(auto_inc=True)
    owner_id: u64 = index()
    name: str


@table
class Secret:
    """A private table: only the owner sees it."""

    id: u64 = primary_key()
    note: str


@table
class Banned:
    """Identities ``client_connected`` refuses."""

    identity: Identity = primary_key()


@table(public=True, event=True)
class Damage:
    """An event table: rows exist only in their transaction."""

    target: u64
    amount: u32


@table(public=True)
class Counter:
    """How often the scheduled ``tick`` ran."""

    id: u32 = primary_key()
    ticks: u32


@table(scheduled="tick")
class TickSchedule:
    """Schedule rows for ``tick``."""

    scheduled_id: u64 = primary_key(auto_inc=True)
    scheduled_at: ScheduleAt


@client_connected
def on_connect(ctx: ReducerContext) -> None:
    """Refuse banned identities."""
    if ctx.db.banned.identity.find(ctx.sender) is not None:
        raise SenderError("you are banned")


@reducer
def add_player(ctx: ReducerContext, name: str, level: u32) -> None:
    """Insert a player (auto-inc id)."""
    ctx.db.player.insert(Player(id=0, name=name, level=level))


@reducer
def set_level(ctx: ReducerContext, id: u64, level: u32) -> None:
    """Change a player's level."""
    player = ctx.db.player.id.find(id)
    if player is None:
        raise SenderError(f"no player {id}")
    player.level = level
    ctx.db.player.id.update(player)


@reducer
def delete_player(ctx: ReducerContext, id: u64) -> None:
    """Delete a player (items stay)."""
    ctx.db.player.id.delete(id)


@reducer
def add_item(ctx: ReducerContext, owner_id: u64, name: str) -> None:
    """Insert an item."""
    ctx.db.item.insert(Item(id=0, owner_id=owner_id, name=name))


@reducer
def hit(ctx: ReducerContext, target: u64, amount: u32) -> None:
    """Publish a damage event."""
    ctx.db.damage.insert(Damage(target=target, amount=amount))


@reducer
def add_secret(ctx: ReducerContext, id: u64, note: str) -> None:
    """Write the private table."""
    ctx.db.secret.insert(Secret(id=id, note=note))


@reducer
def ban(ctx: ReducerContext, identity: Identity) -> None:
    """Ban an identity."""
    ctx.db.banned.insert(Banned(identity=identity))


@reducer
def fail(ctx: ReducerContext, message: str) -> None:
    """Always fail with a user error (after a write that must be rolled back)."""
    ctx.db.player.insert(Player(id=0, name="rolled back", level=0))
    raise SenderError(message)


@reducer
def crash(ctx: ReducerContext) -> None:
    """Always fail with an internal error."""
    raise RuntimeError("boom")


@reducer
def schedule_tick(ctx: ReducerContext, delay_micros: u64) -> None:
    """Run ``tick`` once, ``delay_micros`` from now."""
    ctx.db.tick_schedule.insert(
        TickSchedule(
            scheduled_id=0, scheduled_at=ScheduleAt.time(ctx.timestamp + TimeDuration(delay_micros))
        )
    )


@reducer
def tick(ctx: ReducerContext, row: TickSchedule) -> None:
    """Count a scheduled run."""
    counter = ctx.db.counter.id.find(0)
    if counter is None:
        ctx.db.counter.insert(Counter(id=0, ticks=1))
    else:
        counter.ticks += 1
        ctx.db.counter.id.update(counter)


@procedure
def double(ctx: ProcedureContext, x: u32) -> u32:
    """A pure procedure."""
    return x * 2


@procedure
def add_player_proc(ctx: ProcedureContext, name: str) -> u64:
    """A procedure that writes in a transaction and returns the new id."""

    def body(tx: TxContext) -> u64:
        row = tx.db.player.insert(Player(id=0, name=name, level=1))
        return int(row.id)

    return ctx.with_tx(body)
