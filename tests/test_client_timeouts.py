"""Blocking waits honour their timeout, with every driver, against a server that stops answering.

The server process is frozen (SIGSTOP): the connection stays open and requests go unanswered,
so each wait can only end by its timeout. It must end then -- not a second timeout later.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from spacetimedb_sdk.client import DbConnection
from spacetimedb_sdk.client.bindings_support import RemoteModule
from tests.server_process import ServerProcess

TIMEOUT = 10.0
WAIT = 0.5
SHORT = 0.1
MODES = ["pumping", "run_threaded", "asyncio"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("timeouts"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def game(server: ServerProcess) -> RemoteModule:
    return server.module("game")


async def _built(builder: Any) -> Any:
    return await builder.build_async()


@contextmanager
def connection(server: ServerProcess, module: RemoteModule, mode: str) -> Iterator[Any]:
    """A connection to ``game``: threaded and pumped by the waits themselves, threaded with
    ``run_threaded()``, or asyncio on a loop in another thread (the waits block this one)."""
    builder = (
        DbConnection.builder().with_uri(server.url).with_database_name("game").with_module(module)
    )
    if mode == "asyncio":
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        try:
            conn = asyncio.run_coroutine_threadsafe(_built(builder), loop).result(TIMEOUT)
            try:
                yield conn
            finally:
                conn.disconnect()
                asyncio.run_coroutine_threadsafe(conn.run_async(), loop).result(TIMEOUT)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(TIMEOUT)
            loop.close()
        return
    conn = builder.build()
    if mode == "run_threaded":
        conn.run_threaded()
    conn.connected.result(TIMEOUT)
    try:
        yield conn
    finally:
        conn.disconnect()
        assert conn.wait_closed(TIMEOUT)


def timed(wait: Callable[[], Any]) -> tuple[float, Any]:
    """How long ``wait()`` blocked, and what it returned or raised."""
    started = time.monotonic()
    try:
        outcome: Any = wait()
    except BaseException as exc:
        outcome = exc
    return time.monotonic() - started, outcome


@pytest.mark.parametrize("mode", MODES)
def test_every_blocking_wait_ends_at_its_timeout(
    server: ServerProcess, game: RemoteModule, mode: str
) -> None:
    with connection(server, game, mode) as conn:
        assert conn.procedures.double(21).result(TIMEOUT) == 42  # answered while it runs
        waits: dict[str, Callable[[], Any]] = {
            "reducer result": lambda: conn.reducers.add_player("p", 1).result(timeout=WAIT),
            "reducer exception": lambda: conn.reducers.add_player("q", 1).exception(WAIT),
            "procedure result": lambda: conn.procedures.double(2).result(timeout=WAIT),
            "one-off query": lambda: conn.one_off_query("SELECT * FROM player").result(WAIT),
            "subscription applied": lambda: (
                conn.subscription_builder().subscribe("SELECT * FROM player").applied.result(WAIT)
            ),
        }
        if mode == "pumping":
            waits["advance_one_message_blocking"] = lambda: conn.advance_one_message_blocking(WAIT)
        server.pause()
        try:
            outcomes = {name: timed(wait) for name, wait in waits.items()}
            conn.disconnect()  # the close handshake cannot finish either
            outcomes["wait_closed"] = timed(lambda: conn.wait_closed(WAIT))
        finally:
            server.resume()
    for name, (elapsed, outcome) in outcomes.items():
        if name in ("advance_one_message_blocking", "wait_closed"):
            assert outcome is False, (name, outcome)
        else:
            assert isinstance(outcome, concurrent.futures.TimeoutError), (name, outcome)
        assert WAIT * 0.9 <= elapsed < WAIT + 0.4, (name, elapsed)


def test_a_wait_ends_at_its_timeout_while_another_thread_pumps(
    server: ServerProcess, game: RemoteModule
) -> None:
    """Two threads block on results of one connection nobody else processes: one of them
    pumps, the other must still return at its own, shorter, timeout."""
    with connection(server, game, "pumping") as conn:
        server.pause()
        try:
            long_wait = threading.Thread(
                target=timed, args=(lambda: conn.reducers.add_player("a", 1).result(3 * WAIT),)
            )
            long_wait.start()
            time.sleep(0.05)  # the other thread now holds the processing lock
            elapsed, outcome = timed(lambda: conn.reducers.add_player("b", 1).result(SHORT))
            long_wait.join(TIMEOUT)
        finally:
            server.resume()
    assert isinstance(outcome, concurrent.futures.TimeoutError)
    # Waiting for the lock instead would last until the other thread next lets go of it.
    assert SHORT * 0.9 <= elapsed < SHORT + 0.12, elapsed
