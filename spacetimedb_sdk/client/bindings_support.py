"""What generated bindings (and the run-time bindings of ``codegen.dynamic``) build on.

Code written by ``spacetimedb_sdk generate`` imports this module, not
:mod:`spacetimedb_sdk.client`: the base classes it subclasses, the module description it hands
the runtime, and the handle and call types its signatures name. Programs use the generated
package and :mod:`spacetimedb_sdk.client`; they rarely need anything here (``RemoteModule`` and
the ``Dynamic*`` classes serve connections without generated code).
"""

from spacetimedb_sdk.client.db_connection import ConnectionConfig, DbConnection
from spacetimedb_sdk.client.reducers import (
    DynamicRemoteProcedures,
    DynamicRemoteReducers,
    ProcedureCall,
    ReducerCall,
    RemoteProceduresBase,
    RemoteReducersBase,
)
from spacetimedb_sdk.client.remote_module import RemoteModule
from spacetimedb_sdk.client.table import (
    BTreeIndex,
    DynamicRemoteTables,
    DynamicTableHandle,
    DynamicTableWithPrimaryKeyHandle,
    EventTableHandle,
    RemoteTablesBase,
    TableHandle,
    TableWithPrimaryKeyHandle,
    UniqueIndex,
)

__all__ = [
    "BTreeIndex",
    "ConnectionConfig",
    "DbConnection",
    "DynamicRemoteProcedures",
    "DynamicRemoteReducers",
    "DynamicRemoteTables",
    "DynamicTableHandle",
    "DynamicTableWithPrimaryKeyHandle",
    "EventTableHandle",
    "ProcedureCall",
    "ReducerCall",
    "RemoteModule",
    "RemoteProceduresBase",
    "RemoteReducersBase",
    "RemoteTablesBase",
    "TableHandle",
    "TableWithPrimaryKeyHandle",
    "UniqueIndex",
]
