"""The quickstart chat module, written in Python for the local SpacetimeDB-compatible server.

Publish it with the local server by pointing it at this directory; it mirrors the official chat
quickstart: a ``user`` table (identity, optional name, online flag), a ``message`` table, the
``set_name`` and ``send_message`` reducers, and the connect/disconnect lifecycle reducers that
keep ``user.online`` current.
"""

from __future__ import annotations

import logging

from spacetimedb_sdk.module import (
    Identity,
    ReducerContext,
    SenderError,
    Timestamp,
    client_connected,
    client_disconnected,
    primary_key,
    reducer,
    table,
)

log = logging.getLogger(__name__)


@table(public=True)
class User:
    """One row per identity that has ever connected."""

    identity: Identity = primary_key()
    name: str | None
    online: bool


@table(public=True)
class Message:
    """One row per chat message."""

    sender: Identity
    sent: Timestamp
    text: str


def _validate_name(name: str) -> str:
    if not name:
        raise SenderError("Names must not be empty")
    return name


def _validate_message(text: str) -> str:
    if not text:
        raise SenderError("Messages must not be empty")
    return text


@reducer
def set_name(ctx: ReducerContext, name: str) -> None:
    """Set the caller's display name."""
    name = _validate_name(name)
    user = ctx.db.user.identity.find(ctx.sender)
    if user is None:
        raise SenderError("Cannot set name for unknown user")
    user.name = name
    ctx.db.user.identity.update(user)


@reducer
def send_message(ctx: ReducerContext, text: str) -> None:
    """Post a message as the caller."""
    text = _validate_message(text)
    log.info("%s", text)
    ctx.db.message.insert(Message(sender=ctx.sender, sent=ctx.timestamp, text=text))


@reducer(init=True)
def init(ctx: ReducerContext) -> None:
    """Called when the module is first published; the chat needs no initial data."""


@client_connected
def on_connect(ctx: ReducerContext) -> None:
    """Mark the caller online, creating their user row on first connection."""
    user = ctx.db.user.identity.find(ctx.sender)
    if user is not None:
        user.online = True
        ctx.db.user.identity.update(user)
    else:
        ctx.db.user.insert(User(identity=ctx.sender, name=None, online=True))


@client_disconnected
def on_disconnect(ctx: ReducerContext) -> None:
    """Mark the caller offline."""
    user = ctx.db.user.identity.find(ctx.sender)
    if user is not None:
        user.online = False
        ctx.db.user.identity.update(user)
    else:
        log.warning("Disconnect event for unknown user with identity %s", ctx.sender)
