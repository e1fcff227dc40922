"""The v2 WebSocket messages (``v2.bsatn.spacetimedb``, also the unit of v3 frames).

Every ``ClientMessage`` and ``ServerMessage`` variant, and the types nested in them, is a frozen
slotted dataclass whose fields are in wire order (docs/protocol.md#messages-v2). Their
AlgebraicTypes live in :data:`MESSAGE_TYPESPACE`; each class is bound to its typespace entry, and
the two message codecs are compiled once at import, so decoding a message is one generated
straight-line function that builds these classes directly.

Decoding is strict: truncated input, trailing bytes, unknown tags, invalid UTF-8, inconsistent
row lists and non-zero reducer/procedure call flags raise
:class:`~spacetimedb_sdk.errors.BsatnDecodeError`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final, TypeAlias

from spacetimedb_sdk.algebraic_type import (
    CONNECTION_ID,
    IDENTITY,
    STRING,
    TIME_DURATION,
    TIMESTAMP,
    U8,
    U16,
    U32,
    U64,
    UNIT,
    AlgebraicType,
    RefType,
    Typespace,
    array,
    option,
    product_of,
    result,
    sum_of,
)
from spacetimedb_sdk.bsatn import Bindings, BsatnCodec, ProductBinding, SumBinding, compile_codec
from spacetimedb_sdk.errors import BsatnDecodeError, BsatnEncodeError
from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.row_list import BsatnRowList, FixedSize, RowOffsets, RowSizeHint
from spacetimedb_sdk.timestamp import TimeDuration, Timestamp
from spacetimedb_sdk.values import Err, Ok

__all__ = [
    "CLIENT_MESSAGE_TYPE",
    "MESSAGE_BINDINGS",
    "MESSAGE_TYPESPACE",
    "OK_EMPTY",
    "SERVER_MESSAGE_TYPE",
    "BsatnRowList",
    "CallProcedureMsg",
    "CallReducerMsg",
    "ClientMessage",
    "EventTableRows",
    "FixedSize",
    "InitialConnectionMsg",
    "InternalErrorOutcome",
    "OkEmpty",
    "OneOffQueryMsg",
    "OneOffQueryResultMsg",
    "PersistentTableRows",
    "ProcedureResultMsg",
    "ProcedureStatus",
    "QueryRows",
    "QuerySetId",
    "QuerySetUpdate",
    "ReducerErr",
    "ReducerOk",
    "ReducerOutcome",
    "ReducerResultMsg",
    "Returned",
    "RowOffsets",
    "RowSizeHint",
    "ServerMessage",
    "SingleTableRows",
    "SubscribeAppliedMsg",
    "SubscribeMsg",
    "SubscriptionErrorMsg",
    "TableUpdate",
    "TableUpdateRows",
    "TransactionUpdateMsg",
    "UnsubscribeAppliedMsg",
    "UnsubscribeFlags",
    "UnsubscribeMsg",
    "decode_client_message",
    "decode_client_message_from",
    "decode_server_message",
    "decode_server_message_from",
    "encode_client_message",
    "encode_client_message_into",
    "encode_server_message",
    "encode_server_message_into",
    "message_name",
]

Buffer: TypeAlias = bytes | bytearray | memoryview

# ================================================================================ shared types


@dataclass(frozen=True, slots=True)
class QuerySetId:
    """The client-chosen id of a query set (``{id: u32}`` on the wire)."""

    id: int


class UnsubscribeFlags(enum.IntEnum):
    """What the server should send back for an ``Unsubscribe`` (a sum of unit variants)."""

    DEFAULT = 0
    SEND_DROPPED_ROWS = 1


@dataclass(frozen=True, slots=True)
class SingleTableRows:
    """The rows one query contributed for one table (or view), by canonical table name."""

    table: str
    rows: BsatnRowList


@dataclass(frozen=True, slots=True)
class QueryRows:
    """Rows grouped per query; the same table may appear in several entries."""

    tables: list[SingleTableRows]


@dataclass(frozen=True, slots=True)
class PersistentTableRows:
    """Row deltas of an ordinary table: inserts first, then deletes (``TableUpdateRows`` tag 0)."""

    inserts: BsatnRowList
    deletes: BsatnRowList
    TAG: ClassVar[int] = 0


@dataclass(frozen=True, slots=True)
class EventTableRows:
    """Rows of an event table: insert-only, never cached (``TableUpdateRows`` tag 1)."""

    events: BsatnRowList
    TAG: ClassVar[int] = 1


TableUpdateRows: TypeAlias = PersistentTableRows | EventTableRows


@dataclass(frozen=True, slots=True)
class TableUpdate:
    """The changes to one table within one query set, one entry per affected query."""

    table_name: str
    rows: list[TableUpdateRows]


@dataclass(frozen=True, slots=True)
class QuerySetUpdate:
    """The changes one transaction made to the results of one query set."""

    query_set_id: QuerySetId
    tables: list[TableUpdate]


# ================================================================================ client messages


@dataclass(frozen=True, slots=True)
class SubscribeMsg:
    """Subscribe the query set ``query_set_id`` to ``query_strings`` (tag 0)."""

    request_id: int
    query_set_id: QuerySetId
    query_strings: list[str]
    TAG: ClassVar[int] = 0


@dataclass(frozen=True, slots=True)
class UnsubscribeMsg:
    """Drop an active query set (tag 1)."""

    request_id: int
    query_set_id: QuerySetId
    flags: UnsubscribeFlags
    TAG: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class OneOffQueryMsg:
    """Run one query once, outside any subscription (tag 2)."""

    request_id: int
    query_string: str
    TAG: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class CallReducerMsg:
    """Call a reducer; ``args`` is the BSATN of its parameter product; ``flags`` must be 0 (tag 3)."""

    request_id: int
    flags: int
    reducer: str
    args: bytes
    TAG: ClassVar[int] = 3


@dataclass(frozen=True, slots=True)
class CallProcedureMsg:
    """Call a procedure; ``args`` is the BSATN of its parameter product; ``flags`` must be 0 (tag 4)."""

    request_id: int
    flags: int
    procedure: str
    args: bytes
    TAG: ClassVar[int] = 4


ClientMessage: TypeAlias = (
    SubscribeMsg | UnsubscribeMsg | OneOffQueryMsg | CallReducerMsg | CallProcedureMsg
)

# ================================================================================ server messages


@dataclass(frozen=True, slots=True)
class InitialConnectionMsg:
    """The first server message: who the server thinks we are, and the token in use (tag 0)."""

    identity: Identity
    connection_id: ConnectionId
    token: str
    TAG: ClassVar[int] = 0


@dataclass(frozen=True, slots=True)
class SubscribeAppliedMsg:
    """The initial rows of a newly applied query set (tag 1)."""

    request_id: int
    query_set_id: QuerySetId
    rows: QueryRows
    TAG: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class UnsubscribeAppliedMsg:
    """A query set was removed; ``rows`` only when ``SEND_DROPPED_ROWS`` was asked for (tag 2)."""

    request_id: int
    query_set_id: QuerySetId
    rows: QueryRows | None
    TAG: ClassVar[int] = 2


@dataclass(frozen=True, slots=True)
class SubscriptionErrorMsg:
    """A query set failed: on request (``request_id`` set) or later (``None``) (tag 3)."""

    request_id: int | None
    query_set_id: QuerySetId
    error: str
    TAG: ClassVar[int] = 3


@dataclass(frozen=True, slots=True)
class TransactionUpdateMsg:
    """Row deltas per query set: message tag 4, and the payload of :class:`ReducerOk`."""

    query_sets: list[QuerySetUpdate]
    TAG: ClassVar[int] = 4


@dataclass(frozen=True, slots=True)
class OneOffQueryResultMsg:
    """The answer to a :class:`OneOffQuery`: ``Ok(QueryRows)`` or ``Err(message)`` (tag 5)."""

    request_id: int
    result: Ok[QueryRows] | Err[str]
    TAG: ClassVar[int] = 5


@dataclass(frozen=True, slots=True)
class ReducerOk:
    """The reducer committed; the deltas of the caller's own query sets ride along (tag 0)."""

    ret_value: bytes
    transaction_update: TransactionUpdateMsg
    TAG: ClassVar[int] = 0


@dataclass(frozen=True, slots=True)
class OkEmpty:
    """The reducer committed with no return value and no visible row changes (tag 1)."""

    TAG: ClassVar[int] = 1


#: The one value of :class:`OkEmpty` the decoder hands out.
OK_EMPTY: Final = OkEmpty()


@dataclass(frozen=True, slots=True)
class ReducerErr:
    """The reducer returned an error; ``error`` is the BSATN of the error value (tag 2)."""

    error: bytes
    TAG: ClassVar[int] = 2

    def error_message(self) -> str:
        """Decode ``error`` as the BSATN ``String`` that reducers return today."""
        text: str = _STRING_CODEC.decode(self.error)
        return text


@dataclass(frozen=True, slots=True)
class InternalErrorOutcome:
    """A host-side failure with diagnostic text (``ReducerOutcome`` tag 3, ``ProcedureStatus`` tag 1)."""

    message: str


@dataclass(frozen=True, slots=True)
class Returned:
    """The procedure returned; ``value`` is the BSATN of its return value (tag 0)."""

    value: bytes
    TAG: ClassVar[int] = 0


ReducerOutcome: TypeAlias = ReducerOk | OkEmpty | ReducerErr | InternalErrorOutcome
ProcedureStatus: TypeAlias = Returned | InternalErrorOutcome


@dataclass(frozen=True, slots=True)
class ReducerResultMsg:
    """The outcome of this client's own :class:`CallReducer` (tag 6)."""

    request_id: int
    timestamp: Timestamp
    result: ReducerOutcome
    TAG: ClassVar[int] = 6


@dataclass(frozen=True, slots=True)
class ProcedureResultMsg:
    """The outcome of a :class:`CallProcedure`; note ``request_id`` is last on the wire (tag 7)."""

    status: ProcedureStatus
    timestamp: Timestamp
    total_host_execution_duration: TimeDuration
    request_id: int
    TAG: ClassVar[int] = 7


ServerMessage: TypeAlias = (
    InitialConnectionMsg
    | SubscribeAppliedMsg
    | UnsubscribeAppliedMsg
    | SubscriptionErrorMsg
    | TransactionUpdateMsg
    | OneOffQueryResultMsg
    | ReducerResultMsg
    | ProcedureResultMsg
)

# ================================================================================ the typespace
# One entry per bound class; refs between them are inlined by the codec generator.

(
    _QUERY_SET_ID,
    _ROW_SIZE_HINT,
    _ROW_LIST,
    _SINGLE_TABLE_ROWS,
    _QUERY_ROWS,
    _PERSISTENT_TABLE_ROWS,
    _EVENT_TABLE_ROWS,
    _TABLE_UPDATE_ROWS,
    _TABLE_UPDATE,
    _QUERY_SET_UPDATE,
    _TRANSACTION_UPDATE,
    _UNSUBSCRIBE_FLAGS,
    _REDUCER_OK,
    _REDUCER_OUTCOME,
    _PROCEDURE_STATUS,
    _SUBSCRIBE,
    _UNSUBSCRIBE,
    _ONE_OFF_QUERY,
    _CALL_REDUCER,
    _CALL_PROCEDURE,
    _CLIENT_MESSAGE,
    _INITIAL_CONNECTION,
    _SUBSCRIBE_APPLIED,
    _UNSUBSCRIBE_APPLIED,
    _SUBSCRIPTION_ERROR,
    _ONE_OFF_QUERY_RESULT,
    _REDUCER_RESULT,
    _PROCEDURE_RESULT,
    _SERVER_MESSAGE,
) = range(29)

_BYTES = array(U8)


def _ref(index: int) -> RefType:
    return RefType(index)


_TYPES: dict[int, AlgebraicType] = {
    _QUERY_SET_ID: product_of([("id", U32)]),
    _ROW_SIZE_HINT: sum_of([("FixedSize", U16), ("RowOffsets", array(U64))]),
    _ROW_LIST: product_of([("size_hint", _ref(_ROW_SIZE_HINT)), ("rows_data", _BYTES)]),
    _SINGLE_TABLE_ROWS: product_of([("table", STRING), ("rows", _ref(_ROW_LIST))]),
    _QUERY_ROWS: product_of([("tables", array(_ref(_SINGLE_TABLE_ROWS)))]),
    _PERSISTENT_TABLE_ROWS: product_of(
        [("inserts", _ref(_ROW_LIST)), ("deletes", _ref(_ROW_LIST))]
    ),
    _EVENT_TABLE_ROWS: product_of([("events", _ref(_ROW_LIST))]),
    _TABLE_UPDATE_ROWS: sum_of(
        [
            ("PersistentTable", _ref(_PERSISTENT_TABLE_ROWS)),
            ("EventTable", _ref(_EVENT_TABLE_ROWS)),
        ]
    ),
    _TABLE_UPDATE: product_of([("table_name", STRING), ("rows", array(_ref(_TABLE_UPDATE_ROWS)))]),
    _QUERY_SET_UPDATE: product_of(
        [("query_set_id", _ref(_QUERY_SET_ID)), ("tables", array(_ref(_TABLE_UPDATE)))]
    ),
    _TRANSACTION_UPDATE: product_of([("query_sets", array(_ref(_QUERY_SET_UPDATE)))]),
    _UNSUBSCRIBE_FLAGS: sum_of([("Default", UNIT), ("SendDroppedRows", UNIT)]),
    _REDUCER_OK: product_of(
        [("ret_value", _BYTES), ("transaction_update", _ref(_TRANSACTION_UPDATE))]
    ),
    _REDUCER_OUTCOME: sum_of(
        [
            ("Ok", _ref(_REDUCER_OK)),
            ("OkEmpty", UNIT),
            ("Err", _BYTES),
            ("InternalError", STRING),
        ]
    ),
    _PROCEDURE_STATUS: sum_of([("Returned", _BYTES), ("InternalError", STRING)]),
    _SUBSCRIBE: product_of(
        [
            ("request_id", U32),
            ("query_set_id", _ref(_QUERY_SET_ID)),
            ("query_strings", array(STRING)),
        ]
    ),
    _UNSUBSCRIBE: product_of(
        [
            ("request_id", U32),
            ("query_set_id", _ref(_QUERY_SET_ID)),
            ("flags", _ref(_UNSUBSCRIBE_FLAGS)),
        ]
    ),
    _ONE_OFF_QUERY: product_of([("request_id", U32), ("query_string", STRING)]),
    _CALL_REDUCER: product_of(
        [("request_id", U32), ("flags", U8), ("reducer", STRING), ("args", _BYTES)]
    ),
    _CALL_PROCEDURE: product_of(
        [("request_id", U32), ("flags", U8), ("procedure", STRING), ("args", _BYTES)]
    ),
    _CLIENT_MESSAGE: sum_of(
        [
            ("Subscribe", _ref(_SUBSCRIBE)),
            ("Unsubscribe", _ref(_UNSUBSCRIBE)),
            ("OneOffQuery", _ref(_ONE_OFF_QUERY)),
            ("CallReducer", _ref(_CALL_REDUCER)),
            ("CallProcedure", _ref(_CALL_PROCEDURE)),
        ]
    ),
    _INITIAL_CONNECTION: product_of(
        [("identity", IDENTITY), ("connection_id", CONNECTION_ID), ("token", STRING)]
    ),
    _SUBSCRIBE_APPLIED: product_of(
        [
            ("request_id", U32),
            ("query_set_id", _ref(_QUERY_SET_ID)),
            ("rows", _ref(_QUERY_ROWS)),
        ]
    ),
    _UNSUBSCRIBE_APPLIED: product_of(
        [
            ("request_id", U32),
            ("query_set_id", _ref(_QUERY_SET_ID)),
            ("rows", option(_ref(_QUERY_ROWS))),
        ]
    ),
    _SUBSCRIPTION_ERROR: product_of(
        [
            ("request_id", option(U32)),
            ("query_set_id", _ref(_QUERY_SET_ID)),
            ("error", STRING),
        ]
    ),
    _ONE_OFF_QUERY_RESULT: product_of(
        [("request_id", U32), ("result", result(_ref(_QUERY_ROWS), STRING))]
    ),
    _REDUCER_RESULT: product_of(
        [("request_id", U32), ("timestamp", TIMESTAMP), ("result", _ref(_REDUCER_OUTCOME))]
    ),
    _PROCEDURE_RESULT: product_of(
        [
            ("status", _ref(_PROCEDURE_STATUS)),
            ("timestamp", TIMESTAMP),
            ("total_host_execution_duration", TIME_DURATION),
            ("request_id", U32),
        ]
    ),
    _SERVER_MESSAGE: sum_of(
        [
            ("InitialConnection", _ref(_INITIAL_CONNECTION)),
            ("SubscribeApplied", _ref(_SUBSCRIBE_APPLIED)),
            ("UnsubscribeApplied", _ref(_UNSUBSCRIBE_APPLIED)),
            ("SubscriptionError", _ref(_SUBSCRIPTION_ERROR)),
            ("TransactionUpdate", _ref(_TRANSACTION_UPDATE)),
            ("OneOffQueryResult", _ref(_ONE_OFF_QUERY_RESULT)),
            ("ReducerResult", _ref(_REDUCER_RESULT)),
            ("ProcedureResult", _ref(_PROCEDURE_RESULT)),
        ]
    ),
}

#: The types of every v2 message and its parts; ``Ref(i)`` indexes into it.
MESSAGE_TYPESPACE: Final = Typespace(tuple(_TYPES[i] for i in range(len(_TYPES))))
#: ``ClientMessage`` (a sum; resolve through :data:`MESSAGE_TYPESPACE`).
CLIENT_MESSAGE_TYPE: Final = RefType(_CLIENT_MESSAGE)
#: ``ServerMessage`` (a sum; resolve through :data:`MESSAGE_TYPESPACE`).
SERVER_MESSAGE_TYPE: Final = RefType(_SERVER_MESSAGE)

# ================================================================================ bindings


def _product(cls: Callable[..., Any], *attrs: str) -> ProductBinding:
    return ProductBinding(cls, attrs)


def _same(value: Any) -> Any:
    return value


def _tagged_by_class(name: str, tags: dict[type, int]) -> Callable[[Any], tuple[int, Any]]:
    """An unwrap for sums whose variant payloads are the bound classes themselves."""

    def unwrap(value: Any) -> tuple[int, Any]:
        tag = tags.get(type(value))
        if tag is None:
            raise BsatnEncodeError(f"{type(value).__name__} is not a {name}")
        return tag, value

    return unwrap


def _unwrap_size_hint(hint: RowSizeHint) -> tuple[int, Any]:
    if isinstance(hint, FixedSize):
        return 0, hint.size
    if isinstance(hint, RowOffsets):
        return 1, hint.offsets
    raise BsatnEncodeError(f"{type(hint).__name__} is not a RowSizeHint")


def _unwrap_flags(flags: UnsubscribeFlags) -> tuple[int, Any]:
    return int(flags), ()


def _unwrap_reducer_outcome(outcome: ReducerOutcome) -> tuple[int, Any]:
    if isinstance(outcome, ReducerOk):
        return 0, outcome
    if isinstance(outcome, OkEmpty):
        return 1, ()
    if isinstance(outcome, ReducerErr):
        return 2, outcome.error
    if isinstance(outcome, InternalErrorOutcome):
        return 3, outcome.message
    raise BsatnEncodeError(f"{type(outcome).__name__} is not a ReducerOutcome")


def _unwrap_procedure_status(status: ProcedureStatus) -> tuple[int, Any]:
    if isinstance(status, Returned):
        return 0, status.value
    if isinstance(status, InternalErrorOutcome):
        return 1, status.message
    raise BsatnEncodeError(f"{type(status).__name__} is not a ProcedureStatus")


_CLIENT_CLASSES: Final[tuple[type, ...]] = (
    SubscribeMsg, UnsubscribeMsg, OneOffQueryMsg, CallReducerMsg, CallProcedureMsg,
)  # fmt: skip
_SERVER_CLASSES: Final[tuple[type, ...]] = (
    InitialConnectionMsg, SubscribeAppliedMsg, UnsubscribeAppliedMsg, SubscriptionErrorMsg,
    TransactionUpdateMsg, OneOffQueryResultMsg, ReducerResultMsg, ProcedureResultMsg,
)  # fmt: skip

#: Which class each bound typespace entry decodes into (for ``compile_codec`` / ``sats_json``).
MESSAGE_BINDINGS: Final[Bindings] = {
    _QUERY_SET_ID: _product(QuerySetId, "id"),
    _ROW_SIZE_HINT: SumBinding((FixedSize, RowOffsets), _unwrap_size_hint),
    _ROW_LIST: _product(BsatnRowList, "size_hint", "rows_data"),
    _SINGLE_TABLE_ROWS: _product(SingleTableRows, "table", "rows"),
    _QUERY_ROWS: _product(QueryRows, "tables"),
    _PERSISTENT_TABLE_ROWS: _product(PersistentTableRows, "inserts", "deletes"),
    _EVENT_TABLE_ROWS: _product(EventTableRows, "events"),
    _TABLE_UPDATE_ROWS: SumBinding(
        (_same, _same),
        _tagged_by_class("TableUpdateRows", {PersistentTableRows: 0, EventTableRows: 1}),
    ),
    _TABLE_UPDATE: _product(TableUpdate, "table_name", "rows"),
    _QUERY_SET_UPDATE: _product(QuerySetUpdate, "query_set_id", "tables"),
    _TRANSACTION_UPDATE: _product(TransactionUpdateMsg, "query_sets"),
    _UNSUBSCRIBE_FLAGS: SumBinding(
        (lambda _: UnsubscribeFlags.DEFAULT, lambda _: UnsubscribeFlags.SEND_DROPPED_ROWS),
        _unwrap_flags,
        {0: UnsubscribeFlags.DEFAULT, 1: UnsubscribeFlags.SEND_DROPPED_ROWS},
    ),
    _REDUCER_OK: _product(ReducerOk, "ret_value", "transaction_update"),
    _REDUCER_OUTCOME: SumBinding(
        (_same, lambda _: OK_EMPTY, ReducerErr, InternalErrorOutcome),
        _unwrap_reducer_outcome,
        {1: OK_EMPTY},
    ),
    _PROCEDURE_STATUS: SumBinding((Returned, InternalErrorOutcome), _unwrap_procedure_status),
    _SUBSCRIBE: _product(SubscribeMsg, "request_id", "query_set_id", "query_strings"),
    _UNSUBSCRIBE: _product(UnsubscribeMsg, "request_id", "query_set_id", "flags"),
    _ONE_OFF_QUERY: _product(OneOffQueryMsg, "request_id", "query_string"),
    _CALL_REDUCER: _product(CallReducerMsg, "request_id", "flags", "reducer", "args"),
    _CALL_PROCEDURE: _product(CallProcedureMsg, "request_id", "flags", "procedure", "args"),
    _CLIENT_MESSAGE: SumBinding(
        (_same,) * len(_CLIENT_CLASSES),
        _tagged_by_class("ClientMessage", {c: i for i, c in enumerate(_CLIENT_CLASSES)}),
    ),
    _INITIAL_CONNECTION: _product(InitialConnectionMsg, "identity", "connection_id", "token"),
    _SUBSCRIBE_APPLIED: _product(SubscribeAppliedMsg, "request_id", "query_set_id", "rows"),
    _UNSUBSCRIBE_APPLIED: _product(UnsubscribeAppliedMsg, "request_id", "query_set_id", "rows"),
    _SUBSCRIPTION_ERROR: _product(SubscriptionErrorMsg, "request_id", "query_set_id", "error"),
    _ONE_OFF_QUERY_RESULT: _product(OneOffQueryResultMsg, "request_id", "result"),
    _REDUCER_RESULT: _product(ReducerResultMsg, "request_id", "timestamp", "result"),
    _PROCEDURE_RESULT: _product(
        ProcedureResultMsg, "status", "timestamp", "total_host_execution_duration", "request_id"
    ),
    _SERVER_MESSAGE: SumBinding(
        (_same,) * len(_SERVER_CLASSES),
        _tagged_by_class("ServerMessage", {c: i for i, c in enumerate(_SERVER_CLASSES)}),
    ),
}

_CLIENT_CODEC: Final[BsatnCodec[ClientMessage]] = compile_codec(
    CLIENT_MESSAGE_TYPE, MESSAGE_TYPESPACE, MESSAGE_BINDINGS
)
_SERVER_CODEC: Final[BsatnCodec[ServerMessage]] = compile_codec(
    SERVER_MESSAGE_TYPE, MESSAGE_TYPESPACE, MESSAGE_BINDINGS
)
_STRING_CODEC: Final[BsatnCodec[str]] = compile_codec(STRING)

# ================================================================================ public API


def encode_client_message(msg: ClientMessage) -> bytes:
    """The BSATN of one client message (a complete v2 client frame)."""
    return _CLIENT_CODEC.encode(msg)


def encode_client_message_into(msg: ClientMessage, out: bytearray) -> None:
    """Append the BSATN of one client message to ``out`` (for building v3 frames)."""
    _CLIENT_CODEC.encode_into(msg, out)


def decode_client_message(data: Buffer) -> ClientMessage:
    """Decode exactly one client message; trailing bytes are an error."""
    msg = _CLIENT_CODEC.decode(data)
    _check_client_flags(msg, 0)
    return msg


def decode_client_message_from(data: Buffer, offset: int = 0) -> tuple[ClientMessage, int]:
    """Decode one client message at ``offset``; return it and the offset just past it."""
    msg, end = _CLIENT_CODEC.decode_from(data, offset)
    _check_client_flags(msg, offset)
    return msg, end


def encode_server_message(msg: ServerMessage) -> bytes:
    """The BSATN of one server message (without the compression tag byte)."""
    return _SERVER_CODEC.encode(msg)


def encode_server_message_into(msg: ServerMessage, out: bytearray) -> None:
    """Append the BSATN of one server message to ``out`` (for building v3 payloads)."""
    _SERVER_CODEC.encode_into(msg, out)


def decode_server_message(data: Buffer) -> ServerMessage:
    """Decode exactly one server message (no compression tag); trailing bytes are an error."""
    return _SERVER_CODEC.decode(data)


def decode_server_message_from(data: Buffer, offset: int = 0) -> tuple[ServerMessage, int]:
    """Decode one server message at ``offset``; return it and the offset just past it."""
    return _SERVER_CODEC.decode_from(data, offset)


def message_name(msg: ClientMessage | ServerMessage) -> str:
    """The protocol's name of a message (``SubscribeApplied`` for a ``SubscribeAppliedMsg``)."""
    return type(msg).__name__.removesuffix("Msg")


def _check_client_flags(msg: ClientMessage, offset: int) -> None:
    # CallReducerFlags / CallProcedureFlags have a single valid value; the server rejects others.
    if isinstance(msg, (CallReducerMsg, CallProcedureMsg)) and msg.flags != 0:
        raise BsatnDecodeError(
            f"{message_name(msg)} flags must be 0 (Default), got {msg.flags}", offset + 5
        )
