"""The chat module plus an event table: how 2.x lets other clients hear about reducer calls.

``say`` publishes a row of the event table ``said``; every subscribed client gets it once (it is
never stored), with the caller's identity in the row -- what 0.7 clients used to learn from
``register_on_<reducer>`` callbacks for other clients' calls.
"""

from __future__ import annotations

from spacetimedb_sdk.module import (
    Identity,
    ReducerContext,
    SenderError,
    client_connected,
    primary_key,
    reducer,
    table,
)


@table(public=True)
class User:
    """Who is connected."""

    identity: Identity = primary_key()
    online: bool


@table(public=True, event=True)
class Said:
    """One row per ``say`` call, published to subscribers and then gone."""

    sender: Identity
    text: str


@reducer
def say(ctx: ReducerContext, text: str) -> None:
    """Say something to everyone listening."""
    if not text:
        raise SenderError("Messages must not be empty")
    ctx.db.said.insert(Said(sender=ctx.sender, text=text))


@client_connected
def on_connect(ctx: ReducerContext) -> None:
    """Mark the caller online."""
    if ctx.db.user.identity.find(ctx.sender) is None:
        ctx.db.user.insert(User(identity=ctx.sender, online=True))
