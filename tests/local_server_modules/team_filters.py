"""A test module whose visibility filters are joins: a client sees the docs and pages of its own
team. ``page.team`` is indexed and ``doc.team`` is not, so by the real planner's rule only
``page`` can be subscribed to by clients (the filter is spliced into their query)."""

from __future__ import annotations

from spacetimedb_sdk.module import (
    Identity,
    ReducerContext,
    client_visibility_filter,
    index,
    primary_key,
    reducer,
    table,
    u32,
)

DOCS = client_visibility_filter(
    "SELECT d.* FROM doc d JOIN team t ON d.team = t.id WHERE t.member = :sender"
)
PAGES = client_visibility_filter(
    "SELECT p.* FROM page p JOIN team t ON p.team = t.id WHERE t.member = :sender"
)


@table(public=True)
class Team:
    id: u32 = primary_key()
    member: Identity


@table(public=True)
class Doc:
    id: u32 = primary_key()
    team: u32


@table(public=True)
class Page:
    id: u32 = primary_key()
    team: u32 = index("btree")


@reducer
def join_team(ctx: ReducerContext, id: u32) -> None:
    ctx.db.team.insert(Team(id=id, member=ctx.sender))


@reducer
def add_page(ctx: ReducerContext, id: u32, team: u32) -> None:
    ctx.db.page.insert(Page(id=id, team=team))
