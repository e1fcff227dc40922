"""The tables the shared wire fixtures use (fixtures/vectors/v2_server_messages.json), plus a few
for index tests: described with the module API so the client tests get a real ModuleSchema.

* ``user`` / ``message``: the chat tables; ``points {x: u32, y: u32}`` (FixedSize rows);
  ``test_event {name: String, value: u64}``: an event table;
* ``score``: a primary key, a single-column B-tree index, an optional indexed column and a
  two-column index; ``entity``: 24-byte fixed rows with a primary key.
"""

from __future__ import annotations

from dataclasses import dataclass

from spacetimedb_sdk.module import (
    Identity,
    ProcedureContext,
    ReducerContext,
    Timestamp,
    btree_index,
    f32,
    index,
    primary_key,
    procedure,
    reducer,
    table,
    u32,
    u64,
)


@table(public=True)
class User:
    identity: Identity = primary_key()
    name: str | None
    online: bool


@table(public=True)
class Message:
    sender: Identity
    sent: Timestamp
    text: str


@table(public=True)
class Points:
    x: u32
    y: u32


@table(public=True, event=True)
class TestEvent:
    name: str
    value: u64


@table(public=True, indexes=[btree_index("team_rank", "team", "rank")])
class Score:
    id: u64 = primary_key()
    player: str = index()
    level: u32 | None = index()
    team: u32
    rank: u32


@table(public=True)
class Entity:
    id: u64 = primary_key()
    x: f32
    y: f32
    z: f32
    hp: u32


@dataclass
class ReturnStruct:
    a: u32
    b: str


@reducer
def set_name(ctx: ReducerContext, name: str) -> None:
    pass


@reducer
def send_message(ctx: ReducerContext, text: str) -> None:
    pass


@procedure
def return_primitive(ctx: ProcedureContext, lhs: u32, rhs: u32) -> u32:
    return lhs + rhs


@procedure
def return_struct(ctx: ProcedureContext, a: u32, b: str) -> ReturnStruct:
    return ReturnStruct(a, b)
