"""The 0.7 API against a live local server: events, reducer callbacks, conventions, closing."""

from __future__ import annotations

import asyncio
import importlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from spacetimedb_sdk.local_server.server import LocalServer
from spacetimedb_sdk.spacetimedb_async_client import (
    SpacetimeDBAsyncClient,
    SpacetimeDBException,
)
from spacetimedb_sdk.spacetimedb_client import (
    Address,
    Identity,
    ReducerEvent,
    SpacetimeDBClient,
    TransactionUpdateMessage,
)
from tests.conftest import REPO_ROOT

QUERIES = ["SELECT * FROM User", "SELECT * FROM Message"]


@pytest.fixture(scope="module")
def module_bindings() -> Iterator[ModuleType]:
    sys.path.insert(0, str(REPO_ROOT / "client"))
    try:
        import module_bindings

        yield module_bindings
    finally:
        sys.path.remove(str(REPO_ROOT / "client"))


@pytest.fixture(autouse=True)
def _keep_the_test_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """These runs share pytest's process: a lost connection must raise, not end the process
    (which is what the quickstart gets; test_quickstart_e2e.py checks that)."""
    monkeypatch.setattr(SpacetimeDBAsyncClient, "exit_process", False)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    server = LocalServer({"chat": REPO_ROOT / "server"}, port=0)
    server.start_in_thread()
    try:
        yield server
    finally:
        server.stop_thread()


def wait_until(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


class Runner:
    """``asyncio.run(client.run(...))`` on its own thread, as the quickstart does."""

    def __init__(self, client: SpacetimeDBAsyncClient) -> None:
        self.client = client
        self.loop: asyncio.AbstractEventLoop | None = None
        self.outcome: list[Any] = []
        self.thread: threading.Thread | None = None

    def start(
        self,
        host: str,
        on_connect: Callable[..., None] | None = None,
        token: str | None = None,
        queries: list[str] = QUERIES,
    ) -> None:
        async def main() -> Any:
            self.loop = asyncio.get_running_loop()
            return await self.client.run(token, host, "chat", False, on_connect, queries)

        def target() -> None:
            try:
                self.outcome.append(asyncio.run(main()))
            except BaseException as exc:
                self.outcome.append(exc)

        self.thread = threading.Thread(target=target, daemon=True)
        self.thread.start()

    def call(self, coroutine: Any, timeout: float = 10.0) -> Any:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> float:
        started = time.monotonic()
        self.client.force_close()
        assert self.thread is not None
        self.thread.join(5)
        assert not self.thread.is_alive()
        return time.monotonic() - started


def other_client(module_bindings: ModuleType, url: str) -> Any:
    """A modern (threaded) client: the 'someone else' of these tests."""
    return module_bindings.DbConnection.builder().with_uri(url).with_database_name("chat").build()


def test_events_of_the_async_client(module_bindings: ModuleType, server: LocalServer) -> None:
    from module_bindings import send_message_reducer, set_name_reducer
    from module_bindings.message import Message
    from module_bindings.user import User

    client = SpacetimeDBAsyncClient(module_bindings)
    rows: list[tuple[str, str, Any, Any, Any]] = []
    reducer_calls: list[tuple[Any, ...]] = []
    old_style: list[tuple[Any, ...]] = []
    applied: list[int] = []
    connects: list[tuple[Any, ...]] = []
    threads: set[int] = set()

    def on_user(op: str, old: Any, new: Any, event: ReducerEvent | None) -> None:
        threads.add(threading.get_ident())
        rows.append(("user", op, old, new, event))

    def on_message(op: str, old: Any, new: Any, event: ReducerEvent | None) -> None:
        rows.append(("message", op, old, new, event))

    def on_set_name(identity: Any, address: Any, status: str, message: Any, name: str) -> None:
        reducer_calls.append((identity, address, status, message, name))

    def on_set_name_06(identity: Any, status: str, message: Any, name: str) -> None:
        old_style.append((identity, status, message, name))

    User.register_row_update(on_user)
    Message.register_row_update(on_message)
    set_name_reducer.register_on_set_name(on_set_name)
    set_name_reducer.register_on_set_name(on_set_name_06)
    client.client.register_on_subscription_applied(lambda: applied.append(len(rows)))

    runner = Runner(client)
    runner.start(server.url, lambda token, identity: connects.append((token, identity)))
    wait_until(lambda: applied)
    token, me = connects[0]
    assert isinstance(token, str) and isinstance(me, Identity)
    assert client.identity == me
    assert isinstance(client.address, Address)

    # Rows from the subscription: reducer_event None, and they come before on_subscription_applied.
    assert applied == [1]
    assert [(t, op, old, event) for t, op, old, _, event in rows] == [
        ("user", "insert", None, None)
    ]
    assert rows[0][3].identity == me and rows[0][3].online is True
    assert list(User.iter()) == [rows[0][3]]
    assert User.filter_by_identity(me) is rows[0][3]

    # Our own call: a row update whose event names the reducer, and the reducer callback.
    set_name_reducer.set_name("ann")
    wait_until(lambda: reducer_calls)
    _, op, old, new, event = rows[1]
    assert (op, old.name, new.name) == ("update", None, "ann")
    assert event is not None
    assert (event.reducer_name, event.status, event.message, event.args) == (
        "set_name",
        "committed",
        None,
        ["ann"],
    )
    assert event.caller_identity == me and event.caller_address == client.address
    assert reducer_calls[0] == (me, client.address, "committed", None, "ann")
    assert old_style[0] == (me, "committed", None, "ann")  # 0.6 callbacks: no address

    # A failing call: no rows, the callbacks get "failed" and the error.
    set_name_reducer.set_name("")
    wait_until(lambda: len(reducer_calls) == 2)
    assert reducer_calls[1] == (me, client.address, "failed", "Names must not be empty", "")
    assert old_style[1] == (me, "failed", "Names must not be empty", "")
    assert len(rows) == 2

    # Someone else's transaction: row callbacks with an event that says what 2.x tells us.
    other = other_client(module_bindings, server.url)
    try:
        wait_until(lambda: len(rows) == 3)  # their user row (on_connect lifecycle)
        assert rows[2][1] == "insert" and rows[2][4] is not None
        other.reducers.send_message("from someone else").result(5)
        wait_until(lambda: len(rows) == 4)
    finally:
        other.disconnect()
    _, op, _, new, event = rows[3]
    assert (op, new.text) == ("insert", "from someone else")
    assert event is not None
    assert (event.status, event.reducer_name, event.caller_identity, event.args) == (
        "committed",
        None,
        None,
        None,
    )
    assert len(reducer_calls) == 2  # other clients' calls are invisible in 2.x

    # call_reducer works, failed or not, and its callbacks ran before it returns.
    send_message_reducer.register_on_send_message(lambda *args: reducer_calls.append(args))
    done = runner.call(client.call_reducer("send_message", "awaited"))
    assert isinstance(done, TransactionUpdateMessage)
    assert (done.status, done.reducer, done.caller_identity) == ("committed", "send_message", me)
    assert reducer_calls[-1][2:] == ("committed", None, "awaited")
    failed = runner.call(client.call_reducer("send_message", ""))
    assert (failed.status, failed.message) == ("failed", "Messages must not be empty")

    assert threads == {runner.thread.ident if runner.thread else 0}
    assert runner.stop() < 1.0
    assert runner.outcome == [None]


def test_force_close_before_run_returns_at_once(module_bindings: ModuleType) -> None:
    client = SpacetimeDBAsyncClient(module_bindings)
    client.force_close()
    assert asyncio.run(client.run(None, "localhost:9", "chat", False, None, QUERIES)) is None


def test_connection_refused_raises(module_bindings: ModuleType) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = SpacetimeDBAsyncClient(module_bindings)
    with pytest.raises(SpacetimeDBException, match="connection refused"):
        asyncio.run(client.run(None, f"127.0.0.1:{port}", "chat", False, None, QUERIES))


def test_server_going_away_makes_run_raise(module_bindings: ModuleType) -> None:
    server = LocalServer({"chat": REPO_ROOT / "server"}, port=0)
    server.start_in_thread()
    client = SpacetimeDBAsyncClient(module_bindings)
    applied: list[bool] = []
    client.client.register_on_subscription_applied(lambda: applied.append(True))
    runner = Runner(client)
    runner.start(f"127.0.0.1:{server.port}")
    wait_until(lambda: applied)
    server.stop_thread()
    assert runner.thread is not None
    runner.thread.join(10)
    assert len(runner.outcome) == 1 and isinstance(runner.outcome[0], SpacetimeDBException)
    assert "went away" in str(runner.outcome[0])


def test_schedule_event_and_subscribe(module_bindings: ModuleType, server: LocalServer) -> None:
    from module_bindings.message import Message
    from module_bindings.user import User

    client = SpacetimeDBAsyncClient(module_bindings)
    fired: list[str] = []
    applied: list[int] = []
    client.schedule_event(0.05, fired.append, "before run")
    client.client.register_on_subscription_applied(lambda: applied.append(1))
    runner = Runner(client)
    runner.start(server.url)
    wait_until(lambda: applied and fired)
    assert fired == ["before run"]
    client.schedule_event(0.01, fired.append, "from another thread")
    wait_until(lambda: len(fired) == 2)

    # Re-subscribing replaces the subscription: rows in both stay, no callbacks for them.
    changes: list[str] = []
    User.register_row_update(lambda op, old, new, ev: changes.append(f"user {op}"))
    Message.register_row_update(lambda op, old, new, ev: changes.append(f"message {op}"))
    client.subscribe(["SELECT * FROM User"])
    wait_until(lambda: len(applied) == 2)
    assert changes == []
    assert len(list(User.iter())) == 1
    runner.stop()


def test_sync_client_with_update_loop(module_bindings: ModuleType, server: LocalServer) -> None:
    from module_bindings import set_name_reducer
    from module_bindings.user import User

    identities: list[tuple[Any, ...]] = []
    seen_on: set[int] = set()
    rows: list[str] = []

    def on_identity(token: str, identity: Identity) -> None:  # the 0.6 form
        identities.append((token, identity))
        SpacetimeDBClient.instance.subscribe(["SELECT * FROM User"])  # type: ignore[union-attr]

    client = SpacetimeDBClient.init(
        None,
        server.url.removeprefix("http://"),
        "chat",
        False,
        module_bindings,
        on_identity=on_identity,
    )

    def on_user(op: str, old: Any, new: Any, event: Any) -> None:
        rows.append(op)
        seen_on.add(threading.get_ident())

    User.register_row_update(on_user)
    applied: list[bool] = []
    client.register_on_subscription_applied(lambda: applied.append(True))

    def pump_until(condition: Callable[[], Any]) -> None:
        def step() -> Any:
            client.update()
            return condition()

        wait_until(step)

    pump_until(lambda: applied)
    assert identities and rows == ["insert"]
    set_name_reducer.set_name("sync")
    pump_until(lambda: len(rows) == 2)
    assert rows == ["insert", "update"]
    assert seen_on == {threading.get_ident()}  # callbacks only ever run inside update()
    closed: list[str] = []
    client._on_disconnect = closed.append
    client.close()
    wait_until(lambda: closed)


def test_0_7_generated_bindings_work(module_bindings: ModuleType, server: LocalServer) -> None:
    import tests.legacy_bindings_07 as old
    from tests.legacy_bindings_07 import send_message_reducer
    from tests.legacy_bindings_07.message import Message
    from tests.legacy_bindings_07.user import User

    client = SpacetimeDBAsyncClient(old)
    messages: list[tuple[str, Any, Any]] = []
    results: list[tuple[Any, ...]] = []
    applied: list[bool] = []
    Message.register_row_update(lambda op, old_row, new, ev: messages.append((op, new, ev)))
    send_message_reducer.register_on_send_message(lambda *args: results.append(args))
    client.client.register_on_subscription_applied(lambda: applied.append(True))
    identity: list[Identity] = []
    runner = Runner(client)
    runner.start(server.url, lambda token, me: identity.append(me))
    wait_until(lambda: applied)
    me = identity[0]
    user = User.filter_by_identity(me)
    assert user is not None and user.online is True and user.data["name"] is None

    send_message_reducer.send_message("old bindings")
    wait_until(lambda: messages and results)
    op, row, event = messages[0]
    assert (op, row.text, row.sender) == ("insert", "old bindings", me)
    assert isinstance(row.sent, int)
    assert event.reducer_name == "send_message"
    assert results[0] == (me, client.address, "committed", None, "old bindings")
    runner.stop()


def test_event_table_alternative(tmp_path: Any) -> None:
    """Hearing about other clients' calls in 2.x: an event table, seen through the 0.7 API."""
    import subprocess

    module = REPO_ROOT / "tests" / "legacy_modules" / "chat_with_events.py"
    out = tmp_path / "said_bindings"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "spacetimedb_sdk",
            "generate",
            "--lang",
            "python",
            "--out-dir",
            str(out),
            "--project-path",
            str(module),
            "--quiet",
        ],
        check=True,
    )
    server = LocalServer({"chat": module}, port=0)
    server.start_in_thread()
    sys.path.insert(0, str(tmp_path))
    try:
        # Generated just now, so imported by name.
        said_bindings = importlib.import_module("said_bindings")
        said_table: Any = importlib.import_module("said_bindings.said").Said

        client = SpacetimeDBAsyncClient(said_bindings)
        heard: list[tuple[str, Any, Any]] = []
        applied: list[bool] = []
        said_table.register_row_update(lambda op, old, new, event: heard.append((op, new, event)))
        client.client.register_on_subscription_applied(lambda: applied.append(True))
        runner = Runner(client)
        runner.start(server.url, queries=["SELECT * FROM User"])  # then add the events
        wait_until(lambda: applied)
        client.subscribe(["SELECT * FROM User", "SELECT * FROM Said"])
        wait_until(lambda: len(applied) == 2)

        other = (
            said_bindings.DbConnection.builder()
            .with_uri(server.url)
            .with_database_name("chat")
            .build()
        )
        try:
            other.reducers.say("can you hear me?").result(5)
            wait_until(lambda: heard)
            other_identity = other.identity
        finally:
            other.disconnect()
        op, row, event = heard[0]
        assert (op, row.text, row.sender) == ("insert", "can you hear me?", other_identity)
        assert event is not None and event.status == "committed"
        assert list(said_table.iter()) == []  # event rows are never cached
        runner.stop()
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.startswith("said_bindings")]:
            del sys.modules[name]
        server.stop_thread()


def test_force_close_while_connecting_returns_quietly(module_bindings: ModuleType) -> None:
    import socket

    with socket.socket() as silent:  # accepts the TCP connection, never answers the handshake
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        client = SpacetimeDBAsyncClient(module_bindings)
        runner = Runner(client)
        runner.start(f"127.0.0.1:{silent.getsockname()[1]}")
        time.sleep(0.3)
        assert runner.stop() < 1.0
    assert runner.outcome == [None]
