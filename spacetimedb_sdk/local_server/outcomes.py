"""What a call into a hosted database returns, and what commit listeners receive.

Mapping to the v2 protocol (docs/protocol.md#reducer-outcomes) and the HTTP call route
(docs/protocol.md#call-endpoint):

=====================  ===========================================  ============================
``CallStatus``          ``ReducerOutcome`` / ``ProcedureStatus``      HTTP ``/call``
=====================  ===========================================  ============================
``OK``                  ``Ok`` / ``Returned(return_value)``          200
``USER_ERROR``          ``Err(bsatn(message))`` (reducers only)      530 + message
``INTERNAL_ERROR``      ``InternalError(message)``                   530 + message
``NO_SUCH_FUNCTION``    ``InternalError(message)``                   404 ``No such procedure``
``LIFECYCLE``           ``InternalError(message)``                   400 + message
``BAD_ARGS``            ``InternalError(message)``                   400 + message
=====================  ===========================================  ============================
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from spacetimedb_sdk.identity import ConnectionId, Identity
from spacetimedb_sdk.local_server.tx_delta import EMPTY_DELTA, TxDelta
from spacetimedb_sdk.timestamp import Timestamp

__all__ = [
    "FATAL_ERROR_TEXT",
    "CallStatus",
    "CommitInfo",
    "ProcedureCallOutcome",
    "ReducerCallOutcome",
    "TxKind",
]

#: What callers see when module code crashes (the exception itself is only logged).
FATAL_ERROR_TEXT: Final = "The instance encountered a fatal error."


class CallStatus(enum.Enum):
    """How a reducer or procedure call ended."""

    #: Committed (reducers) / returned a value (procedures).
    OK = "ok"
    #: The reducer raised ``SenderError``; ``message`` is its text; nothing committed.
    USER_ERROR = "user_error"
    #: Module code raised anything else (or its result could not be encoded); nothing committed.
    INTERNAL_ERROR = "internal_error"
    #: No such function, or a private one called by someone other than the owner.
    NO_SUCH_FUNCTION = "no_such_function"
    #: A client tried to call a lifecycle reducer directly.
    LIFECYCLE = "lifecycle"
    #: The arguments did not decode as the function's parameters.
    BAD_ARGS = "bad_args"


class TxKind(enum.Enum):
    """Why a transaction ran (in :class:`CommitInfo`)."""

    REDUCER = "reducer"
    PROCEDURE = "procedure"
    CLIENT_CONNECTED = "client_connected"
    CLIENT_DISCONNECTED = "client_disconnected"
    SCHEDULED = "scheduled"
    #: The automatic deletion of a one-shot schedule row after its call.
    SCHEDULE_CLEANUP = "schedule_cleanup"
    INIT = "init"
    #: A write through :meth:`Database.transaction` (e.g. SQL DML).
    SQL = "sql"


@dataclass(frozen=True)
class ReducerCallOutcome:
    """The result of a reducer call.

    ``message``: the user error text, the internal error text or the rejection text (None when
    OK). ``timestamp``: when the reducer ran (or, if rejected before running, when it was
    rejected). ``delta``: the committed changes (empty unless OK). ``reducer_id``: the reducer's
    position in the module (None if unknown).
    """

    reducer: str
    status: CallStatus
    message: str | None
    timestamp: Timestamp
    delta: TxDelta = EMPTY_DELTA
    duration_micros: int = 0
    reducer_id: int | None = None

    @property
    def committed(self) -> bool:
        """True when the reducer succeeded and its transaction committed."""
        return self.status is CallStatus.OK


@dataclass(frozen=True)
class ProcedureCallOutcome:
    """The result of a procedure call: ``return_value`` is the BSATN of what it returned.

    Transactions the procedure opened with ``ctx.with_tx`` were committed (and announced to the
    commit listeners) as they finished, whatever the procedure's own outcome.
    """

    procedure: str
    status: CallStatus
    message: str | None
    timestamp: Timestamp
    return_value: bytes = b""
    duration_micros: int = 0


@dataclass(frozen=True)
class CommitInfo:
    """One committed transaction, as told to commit listeners.

    ``function``: canonical name of the reducer/procedure that ran (None for bookkeeping
    transactions). ``caller_identity`` / ``caller_connection_id``: who caused it (the database
    identity and None for scheduled calls). ``request``: the opaque object passed to
    ``call_reducer`` / ``call_procedure`` (e.g. the caller's request id), so the network layer
    can answer the caller with a ``ReducerResult`` and send ``TransactionUpdate``s to the others.
    ``outcome``: the reducer outcome for ``REDUCER`` and ``SCHEDULED`` reducer transactions.
    """

    delta: TxDelta
    kind: TxKind
    function: str | None
    caller_identity: Identity
    caller_connection_id: ConnectionId | None
    timestamp: Timestamp
    request: object | None = None
    outcome: ReducerCallOutcome | None = None
