"""Shared helpers of the client runtime tests: a schema, row encoding, offline connections and
message builders."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from spacetimedb_sdk.algebraic_type import RefType
from spacetimedb_sdk.bsatn import BsatnCodec, compile_codec
from spacetimedb_sdk.client import DbConnection
from spacetimedb_sdk.client.testing import OfflineSocket, build_offline
from spacetimedb_sdk.core.table_cache import CachedTable
from spacetimedb_sdk.frames import V2_BSATN_PROTOCOL
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.messages import (
    EventTableRows,
    InitialConnectionMsg,
    PersistentTableRows,
    QueryRows,
    QuerySetId,
    QuerySetUpdate,
    SingleTableRows,
    SubscribeAppliedMsg,
    TableUpdate,
    TransactionUpdateMsg,
)
from spacetimedb_sdk.module import describe_module
from spacetimedb_sdk.row_list import BsatnRowList
from spacetimedb_sdk.schema import ModuleSchema
from tests.client_modules import fixture_module
from tests.conftest import load_fixture

ME = Identity(0xC200_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0000_0001)
MY_CONNECTION = ConnectionId(0x1234)
TOKEN = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2ln"


@cache
def schema() -> ModuleSchema:
    """The schema of tests/client_modules/fixture_module.py."""
    return ModuleSchema.from_raw(describe_module(fixture_module))


@cache
def codec(table: str) -> BsatnCodec[Any]:
    """The (unbound) row codec of a table of :func:`schema`."""
    info = schema().table(table)
    return compile_codec(RefType(info.product_type_ref), schema().typespace)


def row(table: str, **fields: Any) -> bytes:
    """The BSATN of one row."""
    return codec(table).encode(fields)


def user(n: int, name: str | None = None, online: bool = True) -> bytes:
    """A ``user`` row with identity ``n``."""
    return row("user", identity=Identity(n), name=name, online=online)


def score(
    id: int, player: str = "p", level: int | None = None, team: int = 0, rank: int = 0
) -> bytes:
    """A ``score`` row."""
    return row("score", id=id, player=player, level=level, team=team, rank=rank)


def rows(*encoded: bytes) -> BsatnRowList:
    """A row list of already encoded rows."""
    return BsatnRowList.from_rows(encoded)


def applied(qs: int, request_id: int = 0, /, **tables: Sequence[bytes]) -> SubscribeAppliedMsg:
    """``SubscribeApplied`` for query set ``qs`` with rows per table (one entry per table)."""
    return SubscribeAppliedMsg(
        request_id,
        QuerySetId(qs),
        QueryRows([SingleTableRows(t, rows(*rs)) for t, rs in tables.items()]),
    )


def persistent(inserts: Sequence[bytes] = (), deletes: Sequence[bytes] = ()) -> PersistentTableRows:
    """One ``PersistentTable`` rows entry."""
    return PersistentTableRows(rows(*inserts), rows(*deletes))


def events(*encoded: bytes) -> EventTableRows:
    """One ``EventTable`` rows entry."""
    return EventTableRows(rows(*encoded))


def set_update(qs: int, **tables: Any) -> QuerySetUpdate:
    """A query set's update: ``table=persistent(...)`` or ``table=[entry, entry]``."""
    out = []
    for name, entries in tables.items():
        out.append(TableUpdate(name, entries if isinstance(entries, list) else [entries]))
    return QuerySetUpdate(QuerySetId(qs), out)


def transaction(*updates: QuerySetUpdate) -> TransactionUpdateMsg:
    """A ``TransactionUpdate`` of several query sets."""
    return TransactionUpdateMsg(list(updates))


def table_cache(conn: DbConnection[Any, Any, Any], name: str) -> CachedTable:
    """The core's cache of table ``name``."""
    found = conn.core.cache.table(name)
    assert found is not None
    return found


def offline(
    protocol: str = V2_BSATN_PROTOCOL, **builder_options: Any
) -> tuple[DbConnection[Any, Any, Any], OfflineSocket]:
    """A connection to :func:`schema` over an in-memory socket (not yet connected)."""
    builder: Any = (
        DbConnection.builder().with_uri("ws://test.invalid").with_database_name("db")
    ).with_module(schema())
    for name, value in builder_options.items():
        method = getattr(builder, name)
        for cb in value if isinstance(value, list) else [value]:
            builder = method(cb)
    conn, socket = build_offline(builder, protocol)
    assert isinstance(socket, OfflineSocket)
    return conn, socket


def connected(
    protocol: str = V2_BSATN_PROTOCOL, **builder_options: Any
) -> tuple[DbConnection[Any, Any, Any], OfflineSocket]:
    """Like :func:`offline`, after ``InitialConnection``."""
    conn, socket = offline(protocol, **builder_options)
    socket.deliver(InitialConnectionMsg(ME, MY_CONNECTION, TOKEN))
    return conn, socket


def server_vectors() -> dict[str, bytes]:
    """The shared v2 server-message vectors, by name (BSATN, no compression tag)."""
    doc = load_fixture("vectors", "v2_server_messages.json")
    return {v["name"]: bytes.fromhex(v["hex"]) for v in doc["messages"]}


def client_vectors() -> dict[str, bytes]:
    """The shared v2 client-message vectors, by name."""
    doc = load_fixture("vectors", "v2_client_messages.json")
    return {v["name"]: bytes.fromhex(v["hex"]) for v in doc["messages"]}
