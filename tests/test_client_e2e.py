"""END-TO-END tests: the client (both drivers) against the local SpacetimeDB-compatible server
hosting the quickstart chat module (server/) and the game test module, over real sockets.

The client is used in run-time mode: the schema comes from the server's schema endpoint, rows
are dicts.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from spacetimedb_sdk.client import (
    ConnectError,
    DbConnection,
    InternalError,
    ReconnectPolicy,
    ReducerError,
    credentials,
)
from spacetimedb_sdk.client.bindings_support import RemoteModule
from spacetimedb_sdk.schema import ModuleSchema

pytest.importorskip("aiohttp")
from spacetimedb_sdk.local_server.server import LocalServer

REPO = Path(__file__).resolve().parent.parent
GAME = REPO / "tests" / "local_server_modules" / "game.py"
TIMEOUT = 10.0


def fetch_module(url: str, database: str) -> RemoteModule:
    """What a run-time client does: read the schema from the server."""
    with urllib.request.urlopen(f"{url}/v1/database/{database}/schema?version=10") as response:
        return RemoteModule(ModuleSchema.from_json(json.loads(response.read())))


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    srv = LocalServer({"chat": REPO / "server", "game": GAME})
    srv.start_in_thread()
    try:
        yield srv
    finally:
        srv.stop_thread()


@pytest.fixture(scope="module")
def chat_module(server: LocalServer) -> RemoteModule:
    return fetch_module(server.url, "chat")


@pytest.fixture(scope="module")
def game_module(server: LocalServer) -> RemoteModule:
    return fetch_module(server.url, "game")


def threaded(server: LocalServer, module: RemoteModule, db: str = "chat", **kw: Any) -> Any:
    builder = DbConnection.builder().with_uri(server.url).with_database_name(db).with_module(module)
    for name, value in kw.items():
        builder = getattr(builder, name)(value)
    conn = builder.build()
    conn.run_threaded()
    return conn


def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def test_connect_identity_and_token_reuse(
    server: LocalServer, chat_module: RemoteModule, tmp_path: Path
) -> None:
    store = credentials.File("chat", directory=tmp_path)
    first = threaded(server, chat_module, on_connect=lambda c, i, t: store.save(t))
    identity = first.connected.result(TIMEOUT).identity
    first.disconnect()
    assert first.wait_closed(TIMEOUT)
    token = store.load()
    assert token and token == first.token
    again = threaded(server, chat_module, with_token=token)
    assert again.connected.result(TIMEOUT).identity == identity
    anonymous = threaded(server, chat_module)
    assert anonymous.connected.result(TIMEOUT).identity != identity
    for conn in (again, anonymous):
        conn.disconnect()
        assert conn.wait_closed(TIMEOUT)


def test_subscribe_reducers_and_two_clients(server: LocalServer, chat_module: RemoteModule) -> None:
    alice = threaded(server, chat_module)
    bob = threaded(server, chat_module)
    seen: dict[str, list[Any]] = {"alice": [], "bob": []}
    for name, conn in (("alice", alice), ("bob", bob)):
        conn.db.message.on_insert(
            lambda ctx, row, n=name: seen[n].append((type(ctx.event).__name__, row["text"]))
        )
    handles = [c.subscription_builder().subscribe_to_all_tables() for c in (alice, bob)]
    for h in handles:
        h.applied.result(TIMEOUT)
    assert alice.reducers.set_name("Alice").result(TIMEOUT).committed
    event = alice.reducers.send_message("hello bob").result(TIMEOUT)
    assert event.committed and event.reducer == "send_message"
    wait_until(lambda: bool(seen["bob"]))
    assert seen["alice"][-1] == ("Reducer", "hello bob")
    assert seen["bob"][-1] == ("Transaction", "hello bob")
    me = alice.db.user.identity.find(alice.identity)
    assert me is not None and me["name"] == "Alice" and me["online"]
    wait_until(lambda: (bob.db.user.identity.find(alice.identity) or {}).get("name") == "Alice")

    with pytest.raises(ReducerError, match="Names must not be empty"):
        alice.reducers.set_name("").result(TIMEOUT)

    # bob sees alice go offline (an update of her user row)
    went_offline: list[Any] = []
    bob.db.user.on_update(
        lambda ctx, old, new: (
            went_offline.append(new["online"]) if new["identity"] == alice.identity else None
        )
    )
    alice.disconnect()
    assert alice.wait_closed(TIMEOUT)
    wait_until(lambda: went_offline == [False])

    handles[1].unsubscribe_then(lambda ctx: None)
    wait_until(lambda: handles[1].is_ended)
    assert bob.db.message.count() == 0 and bob.db.user.count() == 0
    bob.disconnect()
    assert bob.wait_closed(TIMEOUT)


def test_game_errors_procedures_events_and_joins(
    server: LocalServer, game_module: RemoteModule
) -> None:
    conn = threaded(server, game_module, db="game")
    damage: list[Any] = []
    conn.db.damage.on_insert(lambda ctx, row: damage.append((row["target"], row["amount"])))
    players = conn.subscription_builder().subscribe(
        [
            conn.from_.player.where(lambda p: p.level >= 10),
            "SELECT * FROM damage",
        ]
    )
    items = conn.subscription_builder().subscribe(
        conn.from_.item.left_semijoin(
            conn.from_.player.where(lambda p: p.level >= 10), lambda i, p: i.owner_id == p.id
        )
    )
    players.applied.result(TIMEOUT)
    items.applied.result(TIMEOUT)

    with pytest.raises(ReducerError, match="nope"):
        conn.reducers.fail("nope").result(TIMEOUT)
    with pytest.raises(InternalError):
        conn.reducers.crash().result(TIMEOUT)

    conn.reducers.add_player("low", 1).result(TIMEOUT)
    conn.reducers.add_player("high", 12).result(TIMEOUT)
    assert [p["name"] for p in conn.db.player.iter()] == ["high"]  # the rolled-back row is absent
    high = next(iter(conn.db.player.iter()))
    low_id = high["id"] - 1
    conn.reducers.add_item(high["id"], "sword").result(TIMEOUT)
    conn.reducers.add_item(low_id, "stick").result(TIMEOUT)
    assert [i["name"] for i in conn.db.item.iter()] == ["sword"]
    # promoting the low player brings its item in through the join
    conn.reducers.set_level(low_id, 20).result(TIMEOUT)
    assert sorted(i["name"] for i in conn.db.item.iter()) == ["stick", "sword"]

    conn.reducers.hit(high["id"], 7).result(TIMEOUT)
    assert damage == [(high["id"], 7)] and conn.db.damage.count() == 0

    assert conn.procedures.double(21).result(TIMEOUT) == 42
    new_id = conn.procedures.add_player_proc("proc").result(TIMEOUT)
    assert isinstance(new_id, int)

    rows = conn.one_off_query("SELECT * FROM player WHERE level = 1").result(TIMEOUT)
    assert [r["name"] for r in rows] == ["proc"]
    conn.disconnect()
    assert conn.wait_closed(TIMEOUT)


def test_a_refused_client_gets_a_connect_error(
    server: LocalServer, game_module: RemoteModule
) -> None:
    victim = threaded(server, game_module, db="game")
    identity = victim.connected.result(TIMEOUT).identity
    token = victim.token
    victim.disconnect()
    victim.wait_closed(TIMEOUT)
    admin = threaded(server, game_module, db="game")
    admin.reducers.ban(identity).result(TIMEOUT)
    errors: list[Exception] = []
    refused = threaded(
        server,
        game_module,
        db="game",
        with_token=token,
        on_connect_error=lambda c, e: errors.append(e),
    )
    assert refused.wait_closed(TIMEOUT)
    assert len(errors) == 1 and isinstance(errors[0], ConnectError)
    admin.disconnect()
    admin.wait_closed(TIMEOUT)


def test_asyncio_driver_end_to_end(server: LocalServer, chat_module: RemoteModule) -> None:
    async def main() -> None:
        async with (
            DbConnection.builder()
            .with_uri(server.url)
            .with_database_name("chat")
            .with_module(chat_module)
            .build_async() as conn
        ):
            causes: list[str] = []
            conn.db.message.on_insert(lambda ctx, row: causes.append(type(ctx.event).__name__))
            await conn.subscription_builder().subscribe("SELECT * FROM message").applied
            before = conn.db.message.count()
            await conn.reducers.send_message("from asyncio")
            assert conn.db.message.count() == before + 1 and causes[-1] == "Reducer"
            with pytest.raises(ReducerError):
                await conn.reducers.set_name("")
            rows = await conn.one_off_query("SELECT * FROM user")
            assert any(r["identity"] == conn.identity for r in rows)
        assert conn.is_closed

    asyncio.run(main())


def test_reconnect_after_a_server_restart(chat_module: RemoteModule, tmp_path: Path) -> None:
    first = LocalServer({"chat": REPO / "server"}, data_dir=tmp_path)
    first.start_in_thread()
    port = first.port
    log: list[Any] = []
    conn = threaded(
        first,
        chat_module,
        with_auto_reconnect=ReconnectPolicy(initial_delay=0.1, max_delay=0.5, max_attempts=40),
        on_reconnected=lambda c, i, t: log.append("reconnected"),
        on_disconnect=lambda ctx, e: log.append(("disconnected", e)),
    )
    conn.db.message.on_insert(lambda ctx, row: log.append(("insert", row["text"])))
    conn.db.message.on_delete(lambda ctx, row: log.append(("delete", row["text"])))
    identity = conn.connected.result(TIMEOUT).identity
    conn.subscription_builder().subscribe("SELECT * FROM message").applied.result(TIMEOUT)
    conn.reducers.send_message("before").result(TIMEOUT)
    first.stop_thread()
    second = LocalServer({"chat": REPO / "server"}, data_dir=tmp_path, port=port)
    second.start_in_thread()
    try:
        wait_until(lambda: "reconnected" in log, timeout=20)
        assert conn.identity == identity
        conn.reducers.send_message("after").result(TIMEOUT)
        # the message from before the restart fired no second insert, and nothing was deleted
        assert log == [("insert", "before"), "reconnected", ("insert", "after")]
        conn.disconnect()
        assert conn.wait_closed(TIMEOUT)
    finally:
        second.stop_thread()
    assert threading.active_count() >= 1


def test_generated_bindings(server: LocalServer, tmp_path: Path) -> None:
    """Typed mode: bindings generated by ``spacetimedb-sdk generate`` from the chat module."""
    import argparse
    import sys

    codegen = pytest.importorskip("spacetimedb_sdk.codegen.cli")
    parser = argparse.ArgumentParser()
    codegen.register(parser.add_subparsers())
    out = tmp_path / "chat_bindings"
    args = parser.parse_args(
        ["generate", "--out-dir", str(out), "--project-path", str(REPO / "server"), "--quiet"]
    )
    assert codegen.run_generate(args) == 0
    sys.path.insert(0, str(tmp_path))
    try:
        import chat_bindings  # type: ignore[import-not-found]

        conn = (
            chat_bindings.DbConnection.builder()
            .with_uri(server.url)
            .with_database_name("chat")
            .build()
        )
        conn.run_threaded()
        inserted: list[Any] = []
        conn.db.message.on_insert(lambda ctx, m: inserted.append(m))
        conn.subscription_builder().subscribe_to_all_tables().applied.result(TIMEOUT)
        conn.reducers.set_name("Typed").result(TIMEOUT)
        conn.reducers.send_message("typed hello").result(TIMEOUT)
        me = conn.db.user.identity.find(conn.identity)
        assert type(me).__name__ == "User" and me.name == "Typed" and me.online
        assert {type(m).__name__ for m in inserted} == {"Message"}
        assert inserted[-1].text == "typed hello"
        online = conn.from_.user.where(lambda u: u.online == True)  # noqa: E712
        assert online.matches(me)
        conn.disconnect()
        assert conn.wait_closed(TIMEOUT)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.split(".")[0] == "chat_bindings"]:
            del sys.modules[name]


def test_overlapping_query_sets_are_reference_counted(chat_module: RemoteModule) -> None:
    """Two sets share rows: a row fires one insert, survives the first unsubscribe, and fires
    one delete when the last set holding it goes; rows only one set held go with that set."""
    server = LocalServer({"chat": REPO / "server"}, port=0)  # a fresh database: no old messages
    server.start_in_thread()
    try:
        _overlapping_sets(server, chat_module)
    finally:
        server.stop_thread()


def _overlapping_sets(server: LocalServer, chat_module: RemoteModule) -> None:
    writer = threaded(server, chat_module)
    reader = threaded(server, chat_module)
    log: list[tuple[str, str]] = []
    reader.db.message.on_insert(lambda ctx, row: log.append(("insert", row["text"])))
    reader.db.message.on_delete(lambda ctx, row: log.append(("delete", row["text"])))
    for text in ("shared", "only in all"):
        writer.reducers.send_message(text).result(TIMEOUT)

    everything = reader.subscription_builder().subscribe("SELECT * FROM message")
    everything.applied.result(TIMEOUT)
    shared = reader.subscription_builder().subscribe("SELECT * FROM message WHERE text = 'shared'")
    shared.applied.result(TIMEOUT)
    assert sorted(log) == [("insert", "only in all"), ("insert", "shared")]  # no second insert
    assert reader.db.message.count() == 2

    writer.reducers.send_message("later").result(TIMEOUT)
    wait_until(lambda: ("insert", "later") in log)

    everything.unsubscribe()
    wait_until(lambda: everything.is_ended)
    assert sorted(m["text"] for m in reader.db.message.iter()) == ["shared"]
    assert sorted(log[3:]) == [("delete", "later"), ("delete", "only in all")]

    shared.unsubscribe()
    wait_until(lambda: shared.is_ended)
    assert reader.db.message.count() == 0
    assert log[-1] == ("delete", "shared") and len(log) == 6
    for conn in (writer, reader):
        conn.disconnect()
        assert conn.wait_closed(TIMEOUT)
