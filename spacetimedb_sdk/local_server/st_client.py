"""The ``st_client`` system table: one row per connected client (docs/module-def.md#lifecycle-reducers).

A row is inserted in the same transaction as the module's ``client_connected`` reducer and
deleted with ``client_disconnected``. Rows still present when the server restarts belong to
connections that died with it; the host runs ``client_disconnected`` for each of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from spacetimedb_sdk import algebraic_type as at
from spacetimedb_sdk.algebraic_type import RefType, Typespace
from spacetimedb_sdk.bsatn import ProductBinding
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.local_server.table_spec import ColumnSpec, TableSpec

__all__ = ["ST_CLIENT", "ClientRow", "st_client_spec"]

ST_CLIENT: Final = "st_client"


@dataclass(frozen=True)
class ClientRow:
    """A connected client: its identity and connection id."""

    identity: Identity
    connection_id: ConnectionId


def st_client_spec() -> TableSpec:
    """The table spec of ``st_client`` (unique on the identity/connection pair)."""
    row = at.product_of([("identity", at.IDENTITY), ("connection_id", at.CONNECTION_ID)])
    return TableSpec(
        name=ST_CLIENT,
        columns=(
            ColumnSpec("identity", "identity", at.IDENTITY),
            ColumnSpec("connection_id", "connection_id", at.CONNECTION_ID),
        ),
        row_type=RefType(0),
        typespace=Typespace((row,)),
        bindings={0: ProductBinding(ClientRow, ("identity", "connection_id"))},
        system=True,
        accessor=ST_CLIENT,
    )
