"""The client API of spacetimedb-sdk (SpacetimeDB 2.x).

The names most programs need::

    from spacetimedb_sdk.client import DbConnection, Compression, credentials, events

* :class:`DbConnection` / :class:`DbConnectionBuilder` -- connect (threads or asyncio);
* table handles (``conn.db.<table>``), reducers (``conn.reducers``), procedures;
* subscriptions (``conn.subscription_builder()``) and the typed query builder (``conn.from_``);
* :mod:`~spacetimedb_sdk.client.events` -- contexts and Event variants;
* :mod:`~spacetimedb_sdk.client.errors` -- ReducerError, InternalError, ...;
* :mod:`~spacetimedb_sdk.client.credentials` -- token files shared with the Rust SDK.
"""

from spacetimedb_sdk.client import credentials, events
from spacetimedb_sdk.client.call_future import CallFuture
from spacetimedb_sdk.client.callbacks import CallbackId
from spacetimedb_sdk.client.db_connection import ConnectionConfig, DbConnection, DbConnectionBuilder
from spacetimedb_sdk.client.errors import (
    AlreadyEndedError,
    AlreadyUnsubscribedError,
    CallbackError,
    ClientError,
    ConnectError,
    DisconnectedError,
    InternalError,
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
from spacetimedb_sdk.client.reducers import (
    DynamicRemoteProcedures,
    DynamicRemoteReducers,
    ProcedureCall,
    QueryCall,
    ReducerCall,
    RemoteProceduresBase,
    RemoteReducersBase,
)
from spacetimedb_sdk.client.remote_module import RemoteModule
from spacetimedb_sdk.client.subscription import SubscriptionBuilder, SubscriptionHandle
from spacetimedb_sdk.client.table import (
    BTreeIndex,
    DynamicRemoteTables,
    DynamicTableHandle,
    DynamicTableWithPrimaryKeyHandle,
    EventTableHandle,
    Range,
    RemoteTablesBase,
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
    "ConnectionConfig",
    "DbConnection",
    "DbConnectionBuilder",
    "DisconnectedError",
    "DynamicRemoteProcedures",
    "DynamicRemoteReducers",
    "DynamicRemoteTables",
    "DynamicTableHandle",
    "DynamicTableWithPrimaryKeyHandle",
    "ErrorContext",
    "EventContext",
    "EventTableHandle",
    "InternalError",
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
    "RemoteModule",
    "RemoteProceduresBase",
    "RemoteReducersBase",
    "RemoteTablesBase",
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
