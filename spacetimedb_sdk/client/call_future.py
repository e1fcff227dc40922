"""``CallFuture``: the answer to a request, usable from asyncio, from threads and by callback.

A future is completed on the connection's callback thread. It can be

* awaited, in a coroutine running on any event loop (``await conn.reducers.x(...)``);
* waited for with :meth:`CallFuture.result` from a plain thread (when nothing else is pumping
  the connection, ``result`` pumps it itself, so a script needs no ``run_threaded``);
* observed with :meth:`CallFuture.then`, whose callback runs on the callback thread with the
  event context and the value (or the exception).

A request that nobody observes and that fails is logged at WARNING, so fire-and-forget calls do
not fail silently.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from spacetimedb_sdk.redaction import sdk_logger

if TYPE_CHECKING:
    from spacetimedb_sdk.client.db_connection import DbConnection

__all__ = ["CallFuture"]

T = TypeVar("T")
_log = sdk_logger("spacetimedb_sdk.client")


class CallFuture(Generic[T]):
    """A request's eventual value (or exception)."""

    __slots__ = ("_conn", "_ctx", "_future", "_observed", "_then", "description", "request_id")

    def __init__(self, conn: DbConnection[Any, Any, Any] | None, description: str) -> None:
        self._conn = conn
        self._future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._then: list[Callable[[Any, Any], None]] = []
        self._observed = False
        self._ctx: Any = None
        #: What was asked (for logs and reprs).
        self.description = description
        #: The request id the server answers with (-1 for futures that are not requests).
        self.request_id = -1

    # ------------------------------------------------------------------------------ observing
    def __await__(self) -> Generator[Any, None, T]:
        self._observed = True
        return _awaitable(self._future).__await__()

    def result(self, timeout: float | None = None) -> T:
        """Block until answered; return the value or raise the error.

        Must not be called from a callback (it would wait for a message that can only be
        processed after the callback returns): use :meth:`then` there, or ``await`` in asyncio.
        """
        self._observed = True
        future = self._future
        if not future.done() and self._conn is not None:
            # The connection's wait honours the timeout (and pumps messages if need be): the
            # time is spent by now, so a future still pending has timed out.
            self._conn._wait_for(future, timeout)
            return future.result(timeout=0)
        return future.result(timeout=timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Block like :meth:`result`; return the error, or None on success."""
        try:
            self.result(timeout)
        except concurrent.futures.TimeoutError:
            raise
        except BaseException as exc:
            return exc
        return None

    def done(self) -> bool:
        """True once answered (or failed)."""
        return self._future.done()

    def then(self, callback: Callable[[Any, Any], None]) -> CallFuture[T]:
        """Run ``callback(ctx, value_or_exception)`` on the callback thread when answered.

        If the answer is already in, the callback runs now, on the calling thread.
        """
        self._observed = True
        run_now = False
        with _LOCK:
            if self._future.done():
                run_now = True
            else:
                self._then.append(callback)
        if run_now:
            future = self._future
            value: Any = future.exception() or future.result()
            self._run(callback, value)
        return self

    def add_done_callback(self, fn: Callable[[concurrent.futures.Future[T]], None]) -> None:
        """``concurrent.futures`` style hook (called with the underlying future)."""
        self._observed = True
        self._future.add_done_callback(fn)

    @property
    def future(self) -> concurrent.futures.Future[T]:
        """The underlying :class:`concurrent.futures.Future`."""
        self._observed = True
        return self._future

    # ------------------------------------------------------------------------------ completing
    def _mark_handled(self) -> None:
        """A user callback (``on_error``, ``on_result``) deals with the outcome: a failure
        is not logged as unobserved."""
        self._observed = True

    def _set_result(self, ctx: Any, value: T) -> None:
        self._ctx = ctx
        with _LOCK:
            if self._future.done():
                return
            self._future.set_result(value)
            callbacks, self._then = self._then, []
        for cb in callbacks:
            self._run(cb, value)

    def _set_exception(self, ctx: Any, error: BaseException) -> None:
        self._ctx = ctx
        with _LOCK:
            if self._future.done():
                return
            self._future.set_exception(error)
            callbacks, self._then = self._then, []
        if not self._observed and not callbacks:
            _log.warning("%s failed and nobody was waiting for it: %s", self.description, error)
        for cb in callbacks:
            self._run(cb, error)

    def _run(self, callback: Callable[[Any, Any], None], value: Any) -> None:
        if self._conn is not None:
            self._conn._invoke(f"{self.description} .then callback", callback, self._ctx, value)
        else:  # pragma: no cover - futures always belong to a connection
            callback(self._ctx, value)

    def __repr__(self) -> str:
        state = "done" if self._future.done() else "pending"
        return f"<{type(self).__name__} {self.description} {state}>"


_LOCK = threading.Lock()


def _awaitable(future: concurrent.futures.Future[T]) -> asyncio.Future[T]:
    """``asyncio.wrap_future``, minus its thread hop when the answer arrives on the awaiting
    loop's own thread (the asyncio driver): the waiter is completed directly instead of through
    ``call_soon_threadsafe``, whose wake-up write costs a system call and a loop iteration."""
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[T] = loop.create_future()
    loop_thread = threading.get_ident()

    def copy(done: concurrent.futures.Future[T]) -> None:
        if waiter.done():
            return
        if done.cancelled():
            waiter.cancel()
            return
        error = done.exception()
        if error is not None:
            waiter.set_exception(error)
        else:
            waiter.set_result(done.result())

    def transfer(done: concurrent.futures.Future[T]) -> None:
        if threading.get_ident() == loop_thread:
            copy(done)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(copy, done)

    def cancel_source(_: asyncio.Future[T]) -> None:
        if waiter.cancelled():
            future.cancel()  # as wrap_future does: an abandoned await gives the call up

    waiter.add_done_callback(cancel_source)
    future.add_done_callback(transfer)
    return waiter
