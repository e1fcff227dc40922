"""The 0.7 message and event classes: what ``SpacetimeDBClient.update()`` applies and passes on.

One message is made per server message (see :mod:`~spacetimedb_sdk.legacy.translate`):

* :class:`_IdentityReceivedMessage` -- the connection was set up (``InitialConnection``);
* :class:`_SubscriptionUpdateMessage` -- rows that arrived with (or left with) a subscription;
  ``applied`` is True when ``on_subscription_applied`` callbacks must run;
* :class:`TransactionUpdateMessage` -- a transaction: this client's own reducer call (its
  :class:`ReducerEvent` has the reducer's name, arguments, status and error) or any other
  transaction (2.x does not say who caused it: the event has ``status="committed"`` and
  ``None`` for what is unknown).

``events`` maps a table's canonical name to its :class:`DbEvent` list; lookups also accept the
0.7 class name (``events["User"]``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.legacy.address import Address

__all__ = [
    "DbEvent",
    "ReducerEvent",
    "TableNameDict",
    "TransactionUpdateMessage",
    "_ClientApiMessage",
    "_IdentityReceivedMessage",
    "_SubscriptionUpdateMessage",
]


class TableNameDict(dict[str, Any]):
    """A dict keyed by canonical table names that also finds entries by 0.7 names.

    ``resolve`` maps a name as old code spells it (``"User"``) to the canonical key; it is
    consulted only when the name is not a key itself.
    """

    def __init__(self, resolve: Callable[[str], str | None] | None = None) -> None:
        super().__init__()
        self._resolve = resolve

    def _key(self, key: str) -> str:
        if not dict.__contains__(self, key) and self._resolve is not None:
            found = self._resolve(key)
            if found is not None:
                return found
        return key

    def __getitem__(self, key: str) -> Any:
        return dict.__getitem__(self, self._key(key))

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            key = self._key(key)
        return dict.__contains__(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """The entry for ``key`` (canonical or 0.7 name), or ``default``."""
        return dict.get(self, self._key(key), default)


class DbEvent:
    """One row change of a message.

    ``row_op`` is ``"insert"``, ``"delete"`` or ``"update"`` (a delete and an insert with the
    same primary key). ``row_pk`` identifies the row in the client cache: in 2.x it is the
    row's BSATN bytes (0.7 used a server-side hash). ``update()`` sets ``old_value`` (and
    ``old_pk`` for updates) before the callbacks run.
    """

    def __init__(
        self, table_name: str, row_pk: Any, row_op: str, decoded_value: Any = None
    ) -> None:
        self.table_name = table_name
        self.row_pk = row_pk
        self.row_op = row_op
        self.decoded_value = decoded_value
        self.old_value: Any = None
        self.old_pk: Any = None
        #: True for a row of an event table: passed to callbacks, never cached.
        self.event_row = False

    def __repr__(self) -> str:
        return f"DbEvent({self.table_name!r}, {self.row_op!r}, {self.decoded_value!r})"


class _ClientApiMessage:
    """Base of the messages ``update()`` processes (internal in 0.7 too)."""

    def __init__(self, transaction_type: str) -> None:
        self.transaction_type = transaction_type
        self.events: dict[str, list[DbEvent]] = TableNameDict()

    def append_event(self, table_name: str, event: DbEvent) -> None:
        """Add a row change for ``table_name``."""
        self.events.setdefault(table_name, []).append(event)


class _IdentityReceivedMessage(_ClientApiMessage):
    """The server accepted the connection: who we are, and the token to keep."""

    def __init__(self, auth_token: str, identity: Identity, address: Address | None) -> None:
        super().__init__("IdentityReceived")
        self.auth_token = auth_token
        self.identity = identity
        self.address = address


class _SubscriptionUpdateMessage(_ClientApiMessage):
    """Rows that arrived or left because of a subscription change.

    ``applied`` is True when a subscription was applied by this message (then the
    ``on_subscription_applied`` callbacks run after the row callbacks).
    """

    def __init__(self, applied: bool = True) -> None:
        super().__init__("SubscriptionUpdate")
        self.applied = applied


class ReducerEvent:
    """Why rows changed in a transaction, as row and ``on_event`` callbacks see it.

    For this client's own calls every field is known: ``caller_identity`` and
    ``caller_address`` are ours, ``reducer_name``, ``status`` (``"committed"`` or
    ``"failed"``), ``message`` (the error text, or ``None``) and ``args`` (the arguments as
    passed). For other transactions 2.x only says that they committed: ``status`` is
    ``"committed"`` and the rest is ``None``.
    """

    def __init__(
        self,
        caller_identity: Identity | None,
        caller_address: Address | None,
        reducer_name: str | None,
        status: str,
        message: str | None,
        args: Any,
    ) -> None:
        self.caller_identity = caller_identity
        self.caller_address = caller_address
        self.reducer_name = reducer_name
        self.status = status
        self.message = message
        self.args = args

    def __repr__(self) -> str:
        return (
            f"ReducerEvent(reducer_name={self.reducer_name!r}, status={self.status!r}, "
            f"message={self.message!r}, args={self.args!r})"
        )


class TransactionUpdateMessage(_ClientApiMessage):
    """A transaction: its row changes (``events``) and its :class:`ReducerEvent`.

    The event's fields are also readable on the message itself (``message.status``,
    ``message.caller_identity``, ``message.reducer``...), as the 0.7 docs promised.
    """

    def __init__(
        self,
        caller_identity: Identity | None,
        caller_address: Address | None,
        status: str,
        message: str | None,
        reducer_name: str | None,
        args: Any,
    ) -> None:
        super().__init__("TransactionUpdate")
        self.reducer_event = ReducerEvent(
            caller_identity, caller_address, reducer_name, status, message, args
        )
        #: The request id of this client's own call (``None`` for other transactions).
        self.request_id: int | None = None
        #: The modern call object of this client's own call (``None`` otherwise).
        self.call: Any = None

    @property
    def caller_identity(self) -> Identity | None:
        """The caller's identity (ours for our calls; ``None`` when unknown)."""
        return self.reducer_event.caller_identity

    @property
    def caller_address(self) -> Address | None:
        """The caller's address (ours for our calls; ``None`` when unknown)."""
        return self.reducer_event.caller_address

    @property
    def reducer(self) -> str | None:
        """The reducer's name (``None`` for transactions other clients caused)."""
        return self.reducer_event.reducer_name

    @property
    def reducer_name(self) -> str | None:
        """Same as :attr:`reducer`."""
        return self.reducer_event.reducer_name

    @property
    def status(self) -> str:
        """``"committed"`` or ``"failed"``."""
        return self.reducer_event.status

    @property
    def message(self) -> str | None:
        """The error text of a failed call, else ``None``."""
        return self.reducer_event.message

    @property
    def args(self) -> Any:
        """The arguments of our call (``None`` when unknown)."""
        return self.reducer_event.args
