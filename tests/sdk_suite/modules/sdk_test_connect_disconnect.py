"""Port of the official ``sdk-test-connect-disconnect`` module: the lifecycle reducers record
each client's identity when it connects and when it disconnects."""

from __future__ import annotations

from spacetimedb_sdk.module import (
    Identity,
    ReducerContext,
    client_connected,
    client_disconnected,
    table,
)


@table(public=True)
class Connected:
    identity: Identity


@table(public=True)
class Disconnected:
    identity: Identity


@client_connected
def identity_connected(ctx: ReducerContext) -> None:
    ctx.db.connected.insert(Connected(identity=ctx.sender))


@client_disconnected
def identity_disconnected(ctx: ReducerContext) -> None:
    ctx.db.disconnected.insert(Disconnected(identity=ctx.sender))
