"""The client API of spacetimedb-sdk (SpacetimeDB 2.x).

The names most programs need::

    from spacetimedb_sdk.client import DbConnection, Compression, credentials, events

* :class:`DbConnection` / :class:`DbConnectionBuilder` -- connect (threads or asyncio);
* table handles (``conn.db.<table>``), reducers (``conn.reducers``), procedures;
* subscriptions (``conn.subscription_builder()``) and the typed query builder (``conn.from_``);
* :mod:`~spacetimedb_sdk.client.events` -- contexts and Event variants;
* :mod:`~spacetimedb_sdk.client.errors` -- ReducerError, InternalError, ...;
* :mod:`~spacetimedb_sdk.client.credentials` -- token files shared with the Rust SDK.

What only generated bindings build on (``Remote*Base``, ``Dynamic*``, ``RemoteModule``,
``ConnectionConfig``) lives in :mod:`spacetimedb_sdk.client.bindings_support`.
"""

from typing import TYPE_CHECKING, Any

from spacetimedb_sdk.client import credentials, events
from spacetimedb_sdk.client.call_future import CallFuture
from spacetimedb_sdk.client.callbacks import CallbackId
from spacetimedb_sdk.client.db_connection import DbConnection, DbConnectionBuilder
from spacetimedb_sdk.client.errors import (
    AlreadyEndedError,
    AlreadyUnsubscribedError,
    CallbackError,
    ClientError,
    ConnectError,
    DisconnectedError,
    InternalError,
    MessageProcessingError,
    OneOffQueryError,
    ReducerError,
    SubscriptionFailedError,
)
from spacetimedb_sdk.client.events import (
    ErrorContext,
    EventContext,
    ProcedureEventContext,
    ReducerEvent,
    ReducerEventContext,
    ReducerStatus,
    SubscriptionEventContext,
)
from spacetimedb_sdk.client.query import QueryBuilder, and_, not_, or_
from spacetimedb_sdk.client.reconnect import ReconnectPolicy
from spacetimedb_sdk.client.reducers import ProcedureCall, QueryCall, ReducerCall
from spacetimedb_sdk.client.subscription import SubscriptionBuilder, SubscriptionHandle
from spacetimedb_sdk.client.table import (
    BTreeIndex,
    EventTableHandle,
    Range,
    TableHandle,
    TableWithPrimaryKeyHandle,
    UniqueIndex,
)
from spacetimedb_sdk.compression import Compression

__all__ = [
    "AlreadyEndedError",
    "AlreadyUnsubscribedError",
    "BTreeIndex",
    "CallFuture",
    "CallbackError",
    "CallbackId",
    "ClientError",
    "Compression",
    "ConnectError",
    "DbConnection",
    "DbConnectionBuilder",
    "DisconnectedError",
    "ErrorContext",
    "EventContext",
    "EventTableHandle",
    "InternalError",
    "MessageProcessingError",
    "OneOffQueryError",
    "ProcedureCall",
    "ProcedureEventContext",
    "QueryBuilder",
    "QueryCall",
    "Range",
    "ReconnectPolicy",
    "ReducerCall",
    "ReducerError",
    "ReducerEvent",
    "ReducerEventContext",
    "ReducerStatus",
    "SubscriptionBuilder",
    "SubscriptionEventContext",
    "SubscriptionFailedError",
    "SubscriptionHandle",
    "TableHandle",
    "TableWithPrimaryKeyHandle",
    "UniqueIndex",
    "and_",
    "credentials",
    "events",
    "not_",
    "or_",
]

#: Names that moved to bindings_support: still importable from here at run time, for code
#: written before; type checkers see only the new home.
_MOVED = frozenset(
    (
        "ConnectionConfig",
        "DynamicRemoteProcedures",
        "DynamicRemoteReducers",
        "DynamicRemoteTables",
        "DynamicTableHandle",
        "DynamicTableWithPrimaryKeyHandle",
        "RemoteModule",
        "RemoteProceduresBase",
        "RemoteReducersBase",
        "RemoteTablesBase",
    )
)

if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        if name in _MOVED:
            from spacetimedb_sdk.client import bindings_support

            return getattr(bindings_support, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
