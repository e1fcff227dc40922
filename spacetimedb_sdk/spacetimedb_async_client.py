"""The 0.7 ``spacetimedb_async_client`` module: ``SpacetimeDBAsyncClient``.

The asyncio wrapper of :class:`~spacetimedb_sdk.spacetimedb_client.SpacetimeDBClient`, as the 0.7
Python quickstart uses it::

    spacetime_client = SpacetimeDBAsyncClient(module_bindings)
    spacetime_client.client.register_on_subscription_applied(on_subscription_applied)
    spacetime_client.schedule_event(0.1, check_commands)
    thread = threading.Thread(target=lambda: asyncio.run(spacetime_client.run(
        token, "localhost:3000", "chat", False, on_connect, ["SELECT * FROM User"])))
    thread.start()
    ...
    spacetime_client.force_close()      # from any thread
    thread.join()

Every callback (row updates, reducer callbacks, ``on_connect``, scheduled events) runs on the
thread of ``run()``'s event loop, in message order, as soon as a message arrives (0.7 polled
every 100 ms). Fixed from 0.7 without changing a signature: ``force_close`` is safe from any
thread and before ``run``; ``call_reducer`` works (it returns the call's
``TransactionUpdateMessage``, failed or not); ``close`` works after ``force_close``; callbacks
that raise are logged instead of stopping the client.

While ``run()`` runs on a background thread (as above), Ctrl-C closes the connection and ends
the process (exit code 130), and a connection that fails or is lost prints one line saying what
happened and what to do, then ends the process (exit code 1): see
:mod:`spacetimedb_sdk.legacy.process_exit`. ``exit_process = False`` keeps 0.7's behaviour.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

from spacetimedb_sdk.client.errors import ConnectError
from spacetimedb_sdk.errors import SpacetimeDBError
from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.legacy.address import Address
from spacetimedb_sdk.legacy.conventions import wants_address
from spacetimedb_sdk.legacy.messages import TransactionUpdateMessage
from spacetimedb_sdk.legacy.notices import connect_failure_notice, connection_lost_notice
from spacetimedb_sdk.legacy.process_exit import process_exit
from spacetimedb_sdk.redaction import sdk_logger
from spacetimedb_sdk.spacetimedb_client import SpacetimeDBClient

__all__ = ["SpacetimeDBAsyncClient", "SpacetimeDBException", "SpacetimeDBScheduledEvent"]

_log = sdk_logger("spacetimedb_sdk.legacy")

_Event = tuple[str, Any]


class SpacetimeDBException(SpacetimeDBError):  # noqa: N818 (the 0.7 name)
    """The connection failed or closed unexpectedly, or a request timed out."""


class SpacetimeDBScheduledEvent:
    """A callback due at ``fire_time`` (see :meth:`SpacetimeDBAsyncClient.schedule_event`)."""

    def __init__(
        self, datetime: datetime, callback: Callable[..., Any], args: tuple[Any, ...]
    ) -> None:
        self.fire_time = datetime
        self.callback = callback
        self.args = args
        self._handle: asyncio.TimerHandle | None = None


class SpacetimeDBAsyncClient:
    """Run a :class:`SpacetimeDBClient` on an asyncio event loop."""

    #: Seconds ``call_reducer`` and ``close`` wait for the server.
    request_timeout: float = 5
    #: While ``run()`` runs on a background thread: Ctrl-C closes the connection and ends the
    #: process, and so does a failed or lost connection (after one line on stderr). Set it to
    #: False (on the class, before creating a client) to handle both yourself: ``run()`` then
    #: raises ``SpacetimeDBException`` and Ctrl-C raises ``KeyboardInterrupt``, as in 0.7.
    exit_process: bool = True

    is_connected = False
    is_closing = False
    identity: Identity | None = None

    def __init__(self, autogen_package: ModuleType) -> None:
        """``autogen_package``: the bindings package (``import module_bindings``)."""
        self.client = SpacetimeDBClient(autogen_package)
        self.prescheduled_events: list[tuple[float, Callable[..., Any], tuple[Any, ...]]] = []
        self.event_queue: asyncio.Queue[_Event] | None = None
        self.address: Address | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._scheduled: set[SpacetimeDBScheduledEvent] = set()
        self._on_connect: Callable[..., None] | None = None
        self._connect_result: tuple[str, Identity] | None = None
        self._force_closed: asyncio.Event | None = None
        self._host = ""
        self._run_done = threading.Event()
        if self.exit_process:
            process_exit.install()

    # ============================================================================ scheduling
    def schedule_event(self, delay_secs: float, callback: Callable[..., Any], *args: Any) -> None:
        """Call ``callback(*args)`` once, ``delay_secs`` seconds from now, on the loop.

        To repeat, schedule again from the callback. Events scheduled before ``run()`` start
        when it does; this may be called from any thread.
        """
        loop = self._loop
        if loop is None or self.event_queue is None:
            self.prescheduled_events.append((delay_secs, callback, args))
            return
        event = SpacetimeDBScheduledEvent(
            datetime.now() + timedelta(seconds=delay_secs), callback, args
        )
        if self._on_loop_thread():
            self._arm(event, delay_secs)
        else:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self._arm, event, delay_secs)

    def _arm(self, event: SpacetimeDBScheduledEvent, delay: float) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        event._handle = loop.call_later(max(0.0, delay), self._fire, event)
        self._scheduled.add(event)

    def _fire(self, event: SpacetimeDBScheduledEvent) -> None:
        self._scheduled.discard(event)
        try:
            event.callback(*event.args)
        except Exception:
            _log.exception("scheduled event %r raised", event.callback)

    def _cancel_scheduled(self) -> None:
        for event in list(self._scheduled):
            if event._handle is not None:
                event._handle.cancel()
        self._scheduled.clear()

    # ============================================================================ pass-through
    def register_on_subscription_applied(self, callback: Callable[[], None]) -> None:
        """Run ``callback()`` each time a subscription is applied."""
        self.client.register_on_subscription_applied(callback)

    def subscribe(self, queries: Sequence[str]) -> None:
        """Replace the subscription with ``queries``."""
        self.client.subscribe(queries)

    # ============================================================================ lifetime
    def force_close(self) -> None:
        """Make ``run()`` close the connection and return (safe from any thread, at any time).

        Scheduled events that have not fired are dropped.
        """
        self.is_closing = True
        loop = self._loop
        if loop is None:
            return  # run() has not started: it will return at once
        with contextlib.suppress(RuntimeError):  # the loop has already closed
            loop.call_soon_threadsafe(self._force_close_now)

    def _force_close_now(self) -> None:
        if self._force_closed is not None:
            self._force_closed.set()
        self._post(("force_close", None))

    async def run(
        self,
        auth_token: str | None,
        host: str,
        address_or_name: str,
        ssl_enabled: bool,
        on_connect: Callable[..., None] | None,
        subscription_queries: Sequence[str] = (),
    ) -> Any:
        """Connect, subscribe, call ``on_connect(auth_token, identity)``, then process messages
        and scheduled events until ``force_close()``.

        Returns after a requested close; raises :class:`SpacetimeDBException` when connecting
        fails or the connection drops -- except on a background thread with ``exit_process``
        set, where it prints the exception's one-line message and ends the process instead
        (see :mod:`spacetimedb_sdk.legacy.process_exit`).
        """
        self._on_async_loop_start()
        if self.is_closing:
            return None
        self._on_connect = on_connect
        self._run_done.clear()
        watched = process_exit.running(self)
        try:
            return await self._run(
                auth_token, host, address_or_name, ssl_enabled, subscription_queries
            )
        except SpacetimeDBException as exc:
            if self._closing_requested() or not self._ends_process():
                raise
            self._cancel_scheduled()
            process_exit.end_process(str(exc))
            return None
        finally:
            self._cancel_scheduled()
            watched()
            self._run_done.set()

    async def _run(
        self,
        auth_token: str | None,
        host: str,
        address_or_name: str,
        ssl_enabled: bool,
        subscription_queries: Sequence[str],
    ) -> Any:
        try:
            await self.connect(auth_token, host, address_or_name, ssl_enabled, subscription_queries)
        except SpacetimeDBException:
            if self._closing_requested():
                return None  # force_close() while connecting: not an error
            raise
        while not self._closing_requested():
            event, payload = await self._event()
            if event == "disconnected":
                if self._closing_requested():
                    return payload
                raise SpacetimeDBException(payload or "the connection closed")
            if event == "error":
                raise payload
            if event == "force_close":
                break
        await self.close()
        return None

    def _ends_process(self) -> bool:
        """Whether a lost connection ends the process (``run()`` on a background thread)."""
        return self.exit_process and threading.current_thread() is not threading.main_thread()

    def stop_for_exit(self, deadline: float) -> None:
        """Close the connection and wait until ``run()`` returned, or until ``deadline``
        (``time.monotonic()``); used on Ctrl-C, from the main thread."""
        self.force_close()
        self._run_done.wait(max(0.0, deadline - time.monotonic()))

    async def connect(
        self,
        auth_token: str | None,
        host: str,
        address_or_name: str,
        ssl_enabled: bool,
        subscription_queries: Sequence[str] = (),
    ) -> tuple[str, Identity]:
        """Connect and subscribe; returns ``(auth_token, identity)`` (the token to save).

        ``run()`` calls this; use it directly only without ``run()``.
        """
        self._on_async_loop_start()
        self._host = host
        client = self.client
        client._auto_update = True
        client._pending_queries = list(subscription_queries)
        client._on_identity = self._identity_received
        client._on_disconnect = self._disconnected
        client._on_error = self._error
        build = asyncio.ensure_future(
            client._connect_async(auth_token, host, address_or_name, ssl_enabled)
        )
        assert self._force_closed is not None
        closing = asyncio.ensure_future(self._force_closed.wait())
        try:
            done, _ = await asyncio.wait({build, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
        if build not in done:
            build.cancel()
            with contextlib.suppress(BaseException):
                await build
            client.close()  # the socket may already be open: close it properly
            raise SpacetimeDBException("closed while connecting")
        try:
            build.result()
        except (ConnectError, OSError, ValueError) as exc:
            notice = connect_failure_notice(exc, host, address_or_name, auth_token)
            raise SpacetimeDBException(notice) from exc
        self.is_connected = True
        if self._connect_result is None:
            raise SpacetimeDBException("connected without an identity")
        return self._connect_result

    def _identity_received(
        self, auth_token: str, identity: Identity, address: Address | None
    ) -> None:
        self.identity = identity
        self.address = address
        self._connect_result = (auth_token, identity)
        callback = self._on_connect
        if callback is None:
            return
        extra = (address,) if wants_address(callback, 2) else ()
        try:
            callback(auth_token, identity, *extra)
        except Exception:
            _log.exception("on_connect raised")

    def _disconnected(self, close_msg: str) -> None:
        self.is_connected = False
        if self.is_closing:
            self._post(("disconnected", close_msg))
        else:
            notice = connection_lost_notice(self.client._disconnect_error, self._host)
            self._post(("error", SpacetimeDBException(notice)))

    def _error(self, error: Any) -> None:
        self._post(("error", SpacetimeDBException(str(error))))

    async def call_reducer(self, reducer_name: str, *reducer_args: Any) -> TransactionUpdateMessage:
        """Call a reducer and wait (``request_timeout`` seconds) for its outcome.

        Returns the call's ``TransactionUpdateMessage`` (``status`` ``"committed"`` or
        ``"failed"``, ``message`` the error) after its callbacks ran; raises
        :class:`SpacetimeDBException` on timeout or when not connected.
        """
        client = self.client
        connection = client._connection
        if connection is None or not connection.is_active:
            raise SpacetimeDBException("Not connected.")
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[TransactionUpdateMessage | BaseException] = loop.create_future()

        def deliver(outcome: TransactionUpdateMessage | BaseException) -> None:
            def settle() -> None:
                if not answer.done():
                    answer.set_result(outcome)

            if self._on_loop_thread():
                settle()
            else:
                loop.call_soon_threadsafe(settle)

        name = client.client_cache.bindings.resolve_reducer(reducer_name)
        call = client._send_reducer_call(connection, name, tuple(reducer_args))
        if call is None:
            raise SpacetimeDBException(f"Cannot call reducer {reducer_name!r}.")
        client._awaited_calls[id(call)] = deliver
        try:
            outcome = await asyncio.wait_for(answer, self.request_timeout)
        except asyncio.TimeoutError:
            raise SpacetimeDBException("Reducer call timed out.") from None
        finally:
            client._awaited_calls.pop(id(call), None)
        if isinstance(outcome, BaseException):
            raise SpacetimeDBException(str(outcome)) from outcome
        return outcome

    async def close(self) -> None:
        """Close the connection and wait (``request_timeout`` seconds) until it is closed."""
        self.is_closing = True
        self._cancel_scheduled()
        connection = self.client._connection
        if connection is None or connection.is_closed:
            return
        self.client.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.request_timeout
        while not connection.is_closed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise SpacetimeDBException("Close time out.")
            try:
                event, _ = await asyncio.wait_for(self._event(), remaining)
            except asyncio.TimeoutError:
                raise SpacetimeDBException("Close time out.") from None
            if event in ("disconnected", "error"):
                break

    # ============================================================================ internals
    def _on_async_loop_start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop and self.event_queue is not None:
            return
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self.event_queue = asyncio.Queue()
        self._force_closed = asyncio.Event()
        pending, self.prescheduled_events = self.prescheduled_events, []
        for delay, callback, args in pending:
            self.schedule_event(delay, callback, *args)

    def _closing_requested(self) -> bool:
        # A method, not the attribute: force_close() sets it from another thread.
        return self.is_closing

    def _on_loop_thread(self) -> bool:
        return self._loop_thread == threading.get_ident()

    def _post(self, event: _Event) -> None:
        queue = self.event_queue
        if queue is not None:
            queue.put_nowait(event)

    async def _event(self) -> _Event:
        assert self.event_queue is not None
        return await self.event_queue.get()
