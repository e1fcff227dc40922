"""What the official SDK test clients share, re-expressed for Python: named expectations that
callbacks report (:class:`TestCounter`), the hosted test databases (:class:`HostedModule`) and a
scenario's connections under either driver (:class:`Scenario`).

A scenario runs the way the official test client runs: it registers the callbacks it expects,
starts the calls from inside callbacks (``on_connect``, ``on_applied``, a reducer's completion),
and waits until every expectation has reported. A callback that raises (an ``assert``), a
subscription or connection error, or an expectation reported twice fails the scenario at once;
an expectation that never reports fails it after :data:`TEST_TIMEOUT` seconds.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import threading
import traceback
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

#: How long a scenario waits for its expectations. The official harness allows five minutes;
#: a passing scenario here takes well under a second, so the wait only matters when something
#: never arrives. ``SDK_SUITE_TIMEOUT`` overrides it (e.g. while debugging).
TEST_TIMEOUT: float = float(os.environ.get("SDK_SUITE_TIMEOUT", "300"))

Driver = Literal["threaded", "asyncio"]


class ScenarioError(AssertionError):
    """A scenario's expectation failed, timed out or was reported twice."""


class _Outcomes:
    """The failures of one scenario, shared by all its counters."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.failures: list[str] = []
        #: How many failures a wait has raised already.
        self.raised = 0

    def fail(self, what: str) -> None:
        with self.cond:
            self.failures.append(what)
            self.cond.notify_all()


class Reporter:
    """Reports one named expectation (once)."""

    def __init__(self, counter: TestCounter, name: str) -> None:
        self._counter = counter
        self.name = name

    def __call__(self, error: BaseException | str | None = None) -> None:
        """Report success (no argument) or failure (an exception or a message)."""
        self._counter._report(self.name, error)

    def check(self, checks: Callable[[], object]) -> None:
        """Run ``checks`` and report its outcome: an exception is a failure."""
        try:
            checks()
        except Exception as exc:
            self(exc)
        else:
            self()


class TestCounter:
    """Named expectations; :meth:`wait_for_all` returns once each has reported success."""

    __test__ = False  # not a pytest test class

    def __init__(self, outcomes: _Outcomes | None = None) -> None:
        self._outcomes = outcomes or _Outcomes()
        self._registered: list[str] = []
        self._done: set[str] = set()
        self._finished = False

    def add_test(self, name: str) -> Reporter:
        """Register the expectation ``name`` (unique per counter)."""
        with self._outcomes.cond:
            if name in self._registered:
                raise ValueError(f"duplicate expectation name {name!r}")
            if self._finished:
                # Registered too late to be waited for: the scenario must register each
                # expectation before reporting the one that lets its wait end.
                self._outcomes.fail(f"{name}: registered after wait_for_all returned")
            self._registered.append(name)
        return Reporter(self, name)

    def _report(self, name: str, error: BaseException | str | None) -> None:
        with self._outcomes.cond:
            if name in self._done:
                self._outcomes.fail(f"{name}: reported more than once")
                return
            self._done.add(name)
            if error is not None:
                detail = (
                    "".join(traceback.format_exception(error)).rstrip()
                    if isinstance(error, BaseException)
                    else error
                )
                self._outcomes.fail(f"{name}: {detail}")
            self._outcomes.cond.notify_all()

    def wait_for_all(self, timeout: float | None = None) -> None:
        """Wait until every expectation reported success; raise on any failure or timeout."""
        cond = self._outcomes.cond
        with cond:
            cond.wait_for(
                lambda: bool(self._outcomes.failures) or self._done >= set(self._registered),
                timeout=TEST_TIMEOUT if timeout is None else timeout,
            )
            if self._outcomes.failures:
                self._outcomes.raised = len(self._outcomes.failures)
                raise ScenarioError("\n".join(self._outcomes.failures))
            missing = [n for n in self._registered if n not in self._done]
            if missing:
                raise ScenarioError(f"timed out waiting for: {', '.join(missing)}")
            self._finished = True


# ============================================================================== hosted modules


@dataclass
class HostedModule:
    """One test module served as one database by a session-wide server process."""

    name: str
    url: str
    database: str
    owner_token: str
    bindings: ModuleType
    #: Canonical names of the tables (not views) whose rows persist, for :meth:`reset`.
    tables: list[str] = field(default_factory=list)
    #: A session-long owner connection subscribed to every table: it knows which tables hold
    #: rows, so a reset deletes only those.
    watcher: Any = None
    #: Unused databases of the same module, for scenarios that need one never touched.
    spares: list[str] = field(default_factory=list)

    def fresh(self) -> HostedModule:
        """The module on a database no scenario has used (as the official harness gives
        each scenario); fails when the session's spares are used up."""
        if not self.spares:
            raise RuntimeError(f"no unused {self.name} database left: raise its _FRESH count")
        database = self.spares.pop(0)
        return HostedModule(
            name=self.name, url=self.url, database=database, owner_token=self.owner_token,
            bindings=self.bindings, tables=self.tables,
        )  # fmt: skip

    def sql(self, query: str) -> Any:
        """Run ``query`` over ``/sql`` as the database owner; the decoded JSON answer."""
        host, port = self.url.removeprefix("http://").rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            conn.request(
                "POST", f"/v1/database/{self.database}/sql", body=query.encode(),
                headers={"Authorization": f"Bearer {self.owner_token}"},
            )  # fmt: skip
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(f"{query!r} failed with {response.status}: {body!r}")
        return json.loads(body)

    def reset(self) -> None:
        """Empty every table, as the official harness's fresh database is.

        The official harness publishes a new database for each scenario; opening one costs
        more than a second here, so the session's database is emptied instead (SQL ``DELETE``
        as the owner). The watcher's cache says which tables hold rows; a one-off query first
        makes sure it has seen every transaction committed so far.
        """
        watcher = self.watcher
        if watcher is None or not self.tables:
            for table in self.tables:
                self.sql(f"DELETE FROM {table}")
            return
        watcher.one_off_query(f"SELECT * FROM {self.tables[0]} WHERE FALSE").result(30)
        dirty = [t for t in self.tables if watcher.db[t].count()]
        for table in dirty:
            self.sql(f"DELETE FROM {table}")
        if dirty:
            watcher.one_off_query(f"SELECT * FROM {self.tables[0]} WHERE FALSE").result(30)
            left = [t for t in dirty if watcher.db[t].count()]
            assert not left, f"tables still hold rows after the reset: {left}"


# ============================================================================== scenarios


class Scenario:
    """One scenario's connections, under the threaded or the asyncio driver.

    ``threaded``: ``build()`` then ``run_threaded()``, as the official Rust client does.
    ``asyncio``: ``await builder.build_async()`` on an event loop of the scenario's own, in a
    thread; every callback then runs on that loop. Either way the test's own thread only waits.
    """

    def __init__(self, module: HostedModule, driver: Driver) -> None:
        self.module = module
        self.driver = driver
        self._outcomes = _Outcomes()
        self.connections: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------ expectations
    def counter(self) -> TestCounter:
        """A new counter; a failure reported to any counter fails every wait."""
        return TestCounter(self._outcomes)

    def fail(self, what: str) -> None:
        """Fail the scenario (e.g. from an error callback)."""
        self._outcomes.fail(what)

    def callback_error(self, _ctx: Any, error: BaseException) -> None:
        """``on_error`` of every connection: a callback that raised fails the scenario."""
        cause = error.__cause__ or error
        self.fail("".join(traceback.format_exception(cause)).rstrip())

    # ------------------------------------------------------------------------------ connecting
    def builder(self) -> Any:
        """``DbConnection.builder()`` for the module's database, reporting callback errors."""
        return (
            self.module.bindings.DbConnection.builder()
            .with_uri(self.module.url)
            .with_database_name(self.module.database)
            .on_error(self.callback_error)
        )

    def build_and_run(self, builder: Any) -> Any:
        """Connect with this scenario's driver and start processing messages."""
        if self.driver == "threaded":
            conn = builder.build()
            self.connections.append(conn)
            conn.run_threaded()
            return conn
        conn = self.on_loop(_build_async(builder))
        self.connections.append(conn)
        return conn

    def connect_with_then(
        self,
        counter: TestCounter,
        suffix: str,
        with_builder: Callable[[Any], Any],
        callback: Callable[[Any], None],
    ) -> Any:
        """``connect_with_then`` of the official client: expect ``on_connect_<suffix>``, which
        runs ``callback(conn)``; a connect error fails the scenario."""
        connected = counter.add_test(f"on_connect_{suffix}")

        def on_connect(conn: Any, _identity: Any, _token: str) -> None:
            callback(conn)
            connected()

        builder = (
            self.builder()
            .on_connect(on_connect)
            .on_connect_error(lambda _ctx, err: self.fail(f"Connect errored: {err!r}"))
        )
        return self.build_and_run(with_builder(builder))

    def connect_then(self, counter: TestCounter, callback: Callable[[Any], None]) -> Any:
        """Connect, running ``callback(conn)`` in ``on_connect``."""
        return self.connect_with_then(counter, "", lambda b: b, callback)

    def connect(self, counter: TestCounter) -> Any:
        """Connect (expecting ``on_connect``)."""
        return self.connect_then(counter, lambda _conn: None)

    def subscribe_these_then(
        self, ctx: Any, queries: list[str] | str, callback: Callable[[Any], None]
    ) -> Any:
        """Subscribe; ``callback(ctx)`` once applied; a subscription error fails the scenario."""
        return (
            ctx.subscription_builder()
            .on_applied(callback)
            .on_error(lambda _ctx, err: self.fail(f"Subscription errored: {err!r}"))
            .subscribe(queries)
        )

    def result(self, call: Any, timeout: float = 30) -> Any:
        """Wait from the test's thread for a call's outcome (``result()`` under threads,
        ``await`` on the scenario's loop under asyncio)."""
        if self.driver == "threaded":
            return call.result(timeout)
        return self.on_loop(_await(call))

    # ------------------------------------------------------------------------------ asyncio
    def on_loop(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` on the scenario's event loop (started on first use); its result."""
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="sdk-suite-loop", daemon=True)
            thread.start()
            self._loop, self._loop_thread = loop, thread
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(TEST_TIMEOUT)

    # ------------------------------------------------------------------------------ teardown
    def close(self) -> None:
        """Disconnect every connection and wait until each has closed; stop the loop; then
        fail if anything failed after the scenario's last wait (a late callback error)."""
        try:
            self._close_connections()
        finally:
            outcomes = self._outcomes
            with outcomes.cond:
                late = outcomes.failures[outcomes.raised :]
            if late:
                raise ScenarioError("after the scenario's waits:\n" + "\n".join(late))

    def _close_connections(self) -> None:
        for conn in self.connections:
            if not conn.is_closed:
                conn.disconnect()
        for conn in self.connections:
            if self.driver == "threaded":
                conn.wait_closed(10)
        loop, thread = self._loop, self._loop_thread
        if loop is not None and thread is not None:

            async def settle() -> None:
                for conn in self.connections:
                    for _ in range(1000):
                        if conn.is_closed:
                            break
                        await asyncio.sleep(0.01)

            asyncio.run_coroutine_threadsafe(settle(), loop).result(15)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()


async def _build_async(builder: Any) -> Any:
    return await builder.build_async()


async def _await(call: Any) -> Any:
    return await call


def scenario_of(module: HostedModule, driver: Driver) -> Iterator[Scenario]:
    """A scenario on an empty database, closed afterwards: a never-used one when the module
    has spares, else the module's, emptied."""
    if module.spares:
        module = module.fresh()
    else:
        module.reset()
    scenario = Scenario(module, driver)
    try:
        yield scenario
    finally:
        scenario.close()


__all__ = [
    "TEST_TIMEOUT",
    "Driver",
    "HostedModule",
    "Reporter",
    "Scenario",
    "ScenarioError",
    "TestCounter",
    "scenario_of",
]
