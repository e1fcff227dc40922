"""spacetimedb-sdk: the Python client SDK for SpacetimeDB 2.x.

The names a user needs are re-exported here; everything else lives in the layer modules
(codec -> protocol -> schema -> core -> drivers -> api), see docs/design.md.
"""

from spacetimedb_sdk.errors import (
    BsatnDecodeError,
    BsatnEncodeError,
    BsatnError,
    LimitExceededError,
    ModuleDefError,
    ProtocolError,
    SatsJsonError,
    SpacetimeDBError,
)
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.schedule_at import ScheduleAt
from spacetimedb_sdk.timestamp import TimeDuration, Timestamp
from spacetimedb_sdk.uuid import Uuid
from spacetimedb_sdk.values import Err, Ok, Some, SumValue

__version__ = "2.0.0.dev0"

__all__ = [
    "BsatnDecodeError",
    "BsatnEncodeError",
    "BsatnError",
    "ConnectionId",
    "Err",
    "Identity",
    "LimitExceededError",
    "ModuleDefError",
    "Ok",
    "ProtocolError",
    "SatsJsonError",
    "ScheduleAt",
    "Some",
    "SpacetimeDBError",
    "SumValue",
    "TimeDuration",
    "Timestamp",
    "Uuid",
    "__version__",
]
