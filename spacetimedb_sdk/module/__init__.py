"""Write SpacetimeDB modules in Python (hosted by :mod:`spacetimedb_sdk.local_server`).

::

    from spacetimedb_sdk.module import (
        Identity, ReducerContext, SenderError, Timestamp, client_connected, primary_key,
        reducer, table,
    )

    @table(public=True)
    class User:
        identity: Identity = primary_key()
        name: str | None
        online: bool

    @reducer
    def set_name(ctx: ReducerContext, name: str) -> None:
        if not name:
            raise SenderError("Names must not be empty")
        user = ctx.db.user.identity.find(ctx.sender)
        ...

Tables: :func:`table` with column options :func:`primary_key`, :func:`unique`,
:func:`auto_inc`, :func:`index`, :func:`column` and table-level :func:`btree_index` /
:func:`hash_index`. Functions: :func:`reducer`, :func:`procedure`, :func:`view`, :func:`init`,
:func:`client_connected`, :func:`client_disconnected`. Module-wide:
:func:`client_visibility_filter` (row-level security), :func:`case_conversion_policy`. Types:
the integer/float width aliases (``u8`` … ``i256``, ``f32``, ``f64``), ``Result[T, E]``
(values ``Ok``/``Err``), dataclasses, ``enum.Enum``, :func:`tagged_union`, and the special
types re-exported here. :func:`describe_module` produces the module's
``RawModuleDefV10``. The client SDK never imports this package.
"""

from __future__ import annotations

from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.module.auth import AuthCtx, JwtClaims
from spacetimedb_sdk.module.columns import (
    ColumnOptions,
    TableIndex,
    auto_inc,
    btree_index,
    column,
    direct_index,
    hash_index,
    index,
    primary_key,
    unique,
)
from spacetimedb_sdk.module.context import (
    AnonymousViewContext,
    ProcedureContext,
    ReducerContext,
    TxContext,
    ViewContext,
)
from spacetimedb_sdk.module.describe import ModuleModel, build_module_model, describe_module
from spacetimedb_sdk.module.errors import (
    NoTransactionError,
    RowNotFoundError,
    ScheduleDelayTooLongError,
    SenderError,
    UniqueConstraintViolation,
)
from spacetimedb_sdk.module.functions import (
    client_connected,
    client_disconnected,
    init,
    procedure,
    reducer,
)
from spacetimedb_sdk.module.http import HttpClient, HttpError, HttpResponse
from spacetimedb_sdk.module.query import Query
from spacetimedb_sdk.module.ranges import UNBOUNDED, Range
from spacetimedb_sdk.module.sats_types import (
    Result,
    f32,
    f64,
    i8,
    i16,
    i32,
    i64,
    i128,
    i256,
    u8,
    u16,
    u32,
    u64,
    u128,
    u256,
)
from spacetimedb_sdk.module.settings import case_conversion_policy, client_visibility_filter
from spacetimedb_sdk.module.tables import table
from spacetimedb_sdk.module.tagged_union import TaggedUnion, Variant, tagged_union
from spacetimedb_sdk.module.views import view
from spacetimedb_sdk.raw_module_def import CaseConversionPolicy
from spacetimedb_sdk.schedule_at import ScheduleAt
from spacetimedb_sdk.timestamp import TimeDuration, Timestamp
from spacetimedb_sdk.uuid import Uuid
from spacetimedb_sdk.values import Err, Ok

__all__ = [
    "UNBOUNDED",
    "AnonymousViewContext",
    "AuthCtx",
    "CaseConversionPolicy",
    "ColumnOptions",
    "ConnectionId",
    "Err",
    "HttpClient",
    "HttpError",
    "HttpResponse",
    "Identity",
    "JwtClaims",
    "ModuleModel",
    "NoTransactionError",
    "Ok",
    "ProcedureContext",
    "Query",
    "Range",
    "ReducerContext",
    "Result",
    "RowNotFoundError",
    "ScheduleAt",
    "ScheduleDelayTooLongError",
    "SenderError",
    "TableIndex",
    "TaggedUnion",
    "TimeDuration",
    "Timestamp",
    "TxContext",
    "UniqueConstraintViolation",
    "Uuid",
    "Variant",
    "ViewContext",
    "auto_inc",
    "btree_index",
    "build_module_model",
    "case_conversion_policy",
    "client_connected",
    "client_disconnected",
    "client_visibility_filter",
    "column",
    "describe_module",
    "direct_index",
    "f32",
    "f64",
    "hash_index",
    "i8",
    "i16",
    "i32",
    "i64",
    "i128",
    "i256",
    "index",
    "init",
    "primary_key",
    "procedure",
    "reducer",
    "table",
    "tagged_union",
    "u8",
    "u16",
    "u32",
    "u64",
    "u128",
    "u256",
    "unique",
    "view",
]
