"""What every route handler of the local server shares: token issuer, databases, sessions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.local_server.auth import TokenIssuer
from spacetimedb_sdk.local_server.database_address import DatabaseAddress
from spacetimedb_sdk.local_server.database_runtime import DatabaseRuntime
from spacetimedb_sdk.local_server.websocket_session import SessionConfig

if TYPE_CHECKING:
    from spacetimedb_sdk.local_server.websocket_session import WebSocketSession

__all__ = ["STATE_KEY", "ServerState"]


@dataclass
class ServerState:
    """The server's shared state (lives in the aiohttp application under :data:`STATE_KEY`)."""

    issuer: TokenIssuer
    session_config: SessionConfig = field(default_factory=SessionConfig)
    #: Hosted databases by name.
    databases: dict[str, DatabaseRuntime] = field(default_factory=dict)
    #: Open WebSocket sessions (to close them on shutdown).
    sessions: set[WebSocketSession] = field(default_factory=set)
    #: Set while shutting down: new WebSocket upgrades are refused.
    stopping: bool = False

    def find_database(self, address: DatabaseAddress) -> DatabaseRuntime | None:
        """The database with this name or identity, if hosted here."""
        if isinstance(address, Identity):
            return next((db for db in self.databases.values() if db.identity == address), None)
        return self.databases.get(address)


STATE_KEY: web.AppKey[ServerState] = web.AppKey("spacetimedb_local_server_state", ServerState)
