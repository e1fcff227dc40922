"""Calling reducers and procedures: ``conn.reducers.<name>(...)``, ``conn.procedures.<name>(...)``.

A call sends its message immediately and returns a future
(:class:`~spacetimedb_sdk.client.call_future.CallFuture`), matched to the server's answer by
``request_id``:

* ``await conn.reducers.set_name("Ann")`` returns the :class:`ReducerEvent` once the transaction
  committed (its row callbacks have already run), and raises
  :class:`~spacetimedb_sdk.client.errors.ReducerError` (the reducer returned an error) or
  :class:`~spacetimedb_sdk.client.errors.InternalError` (it panicked, or the host refused it);
* ``.result(timeout)`` does the same from a thread; ``.then(cb)`` runs ``cb(ctx, event_or_error)``
  on the callback thread; ignoring the future makes the call fire-and-forget;
* procedure calls return the procedure's decoded return value.

If the connection closes first, the call fails with
:class:`~spacetimedb_sdk.client.errors.DisconnectedError`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from spacetimedb_sdk.algebraic_type import AlgebraicType
from spacetimedb_sdk.bsatn import BsatnCodec
from spacetimedb_sdk.client.call_future import CallFuture
from spacetimedb_sdk.client.callbacks import CallbackId
from spacetimedb_sdk.client.errors import InternalError, ReducerError
from spacetimedb_sdk.core.events import ReducerEvent, ReducerStatus

if TYPE_CHECKING:
    from spacetimedb_sdk.client.db_connection import DbConnection
    from spacetimedb_sdk.client.events import ReducerEventContext

__all__ = [
    "DynamicRemoteProcedures",
    "DynamicRemoteReducers",
    "ProcedureCall",
    "QueryCall",
    "ReducerCall",
    "RemoteProceduresBase",
    "RemoteReducersBase",
]

T = TypeVar("T")


class ReducerCall(CallFuture[ReducerEvent]):
    """A reducer call in flight: await it, ``result()`` it, ``then()`` it, or ignore it."""

    __slots__ = ("args", "reducer")

    def __init__(
        self, conn: DbConnection[Any, Any, Any], reducer: str, args: tuple[Any, ...]
    ) -> None:
        super().__init__(conn, f"reducer {reducer}()")
        #: The reducer's name and the arguments it was called with.
        self.reducer = reducer
        self.args = args

    def then(self, callback: Callable[[Any, Any], None]) -> ReducerCall:
        """Run ``callback(ctx, event_or_error)`` when the call is answered (see CallFuture)."""
        super().then(callback)
        return self

    def _complete(self, ctx: ReducerEventContext, event: ReducerEvent) -> None:
        if event.status is ReducerStatus.COMMITTED:
            self._set_result(ctx, event)
        elif event.status is ReducerStatus.FAILED:
            self._set_exception(ctx, ReducerError(event.error or "", event.reducer))
        else:
            self._set_exception(ctx, InternalError(event.error or "", event.reducer))


class ProcedureCall(CallFuture[T]):
    """A procedure call in flight; its value is the procedure's decoded return value."""

    __slots__ = ("args", "procedure")

    def __init__(
        self, conn: DbConnection[Any, Any, Any], procedure: str, args: tuple[Any, ...]
    ) -> None:
        super().__init__(conn, f"procedure {procedure}()")
        self.procedure = procedure
        self.args = args


class QueryCall(CallFuture[T]):
    """A one-off query in flight; its value is the list of decoded rows."""

    __slots__ = ("query",)

    def __init__(self, conn: DbConnection[Any, Any, Any], query: str) -> None:
        super().__init__(conn, f"query {query!r}")
        self.query = query


class RemoteReducersBase:
    """``conn.reducers``: generated subclasses add one method per reducer calling ``_call``.

    Without generated code, ``conn.reducers.<name>(*args)`` and ``conn.reducers.call(name,
    *args)`` work for every reducer of the module.
    """

    def __init__(self, conn: DbConnection[Any, Any, Any]) -> None:
        self._conn = conn

    def _call(self, name: str, args: tuple[Any, ...]) -> ReducerCall:
        """Send a call of reducer ``name`` with positional ``args``; return its future."""
        return self._conn._call_reducer(name, args)

    def call(self, name: str, *args: Any) -> ReducerCall:
        """Call reducer ``name`` (canonical or accessor name) with positional arguments."""
        return self._call(name, args)

    def on_result(
        self, name: str | None, callback: Callable[[ReducerEventContext], None]
    ) -> CallbackId:
        """Call ``callback(ctx)`` whenever one of this client's calls of ``name`` (any reducer
        when None) finishes, whatever the outcome; ``ctx.event`` is the ReducerEvent."""
        return self._conn._dispatcher.reducer_result_callbacks(name).add(callback)

    def remove_on_result(self, name: str | None, callback: CallbackId | Callable[..., Any]) -> None:
        """Unregister an :meth:`on_result` callback."""
        self._conn._dispatcher.reducer_result_callbacks(name).remove(callback)


class RemoteProceduresBase:
    """``conn.procedures``: generated subclasses add one method per procedure calling ``_call``."""

    def __init__(self, conn: DbConnection[Any, Any, Any]) -> None:
        self._conn = conn
        self._codecs: dict[tuple[str, AlgebraicType], BsatnCodec[Any]] = {}

    def _call(
        self, name: str, args: tuple[Any, ...], return_type: AlgebraicType | None = None
    ) -> ProcedureCall[Any]:
        """Send a call of procedure ``name``; its answer is decoded as ``return_type``
        (default: the schema's return type)."""
        codec = None
        if return_type is not None:
            key = (name, return_type)
            codec = self._codecs.get(key)
            if codec is None:
                codec = self._codecs[key] = self._conn._core.module.calls.codec_for(return_type)
        return self._conn._call_procedure(name, args, codec)

    def call(self, name: str, *args: Any) -> ProcedureCall[Any]:
        """Call procedure ``name`` with positional arguments."""
        return self._call(name, args)


class DynamicRemoteReducers(RemoteReducersBase):
    """``conn.reducers`` without generated bindings: ``conn.reducers.<name>(*args)``."""

    def __getattr__(self, name: str) -> Callable[..., ReducerCall]:
        if name.startswith("_"):
            raise AttributeError(name)
        info = self._conn._core.module.schema.find_reducer(name)
        if info is None:
            raise AttributeError(f"the module has no reducer {name!r}")

        def call(*args: Any) -> ReducerCall:
            return self._call(info.name, args)

        call.__name__ = name
        return call


class DynamicRemoteProcedures(RemoteProceduresBase):
    """``conn.procedures`` without generated bindings: ``conn.procedures.<name>(*args)``."""

    def __getattr__(self, name: str) -> Callable[..., ProcedureCall[Any]]:
        if name.startswith("_"):
            raise AttributeError(name)
        info = self._conn._core.module.schema.find_procedure(name)
        if info is None:
            raise AttributeError(f"the module has no procedure {name!r}")

        def call(*args: Any) -> ProcedureCall[Any]:
            return self._call(info.name, args)

        call.__name__ = name
        return call
