"""A test module with one of each thing the system tables describe: a primary key with a
sequence, a unique column, a btree and a hash index, a private table, a visibility filter, a
schedule, a view, an event table and a table whose source names differ from its canonical ones
(an explicit accessor, camelCase columns)."""

from __future__ import annotations

from spacetimedb_sdk.module import (
    AnonymousViewContext,
    Identity,
    ReducerContext,
    ScheduleAt,
    client_visibility_filter,
    index,
    primary_key,
    reducer,
    table,
    u32,
    u64,
    unique,
    view,
)

MINE = client_visibility_filter("SELECT * FROM note WHERE author = :sender")


@table(public=True)
class Note:
    id: u64 = primary_key(auto_inc=True)
    author: Identity = index("btree")
    slug: str = unique()
    topic: u32 = index("hash")


@table
class Secret:
    id: u32 = primary_key()


@table(public=True, event=True)
class Ping:
    n: u32


@table(scheduled="tick")
class TickSchedule:
    scheduled_id: u64 = primary_key(auto_inc=True)
    scheduled_at: ScheduleAt


@table(public=True, accessor="playerScores")
class PlayerScore:
    # camelCase on purpose: the canonical (snake_case) names differ from these source names.
    playerName: str = primary_key()  # noqa: N815
    highScore: u32  # noqa: N815


@reducer
def tick(ctx: ReducerContext, row: TickSchedule) -> None:
    ctx.db.ping.insert(Ping(n=1))


@view(public=True)
def all_secrets(ctx: AnonymousViewContext) -> list[Secret]:
    return list(ctx.db.secret.iter())
