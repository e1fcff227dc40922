"""The official TypeScript client (npm ``spacetimedb`` 2.10.1) against the local server.

The chat module from ``server/`` is hosted; the client is driven through tests/ts_harness.py.
Needs Node.js >= 20; skipped only when ``node`` is not installed.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

from spacetimedb_sdk.local_server.pytest_plugin import ServerFactory, spacetimedb_local_server
from spacetimedb_sdk.local_server.server import LocalServer
from tests.local_server_support import CHAT_MODULE
from tests.ts_harness import TsChatClient

# The generated chat bindings of the quickstart (client/module_bindings) are the Python client.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "client"))

__all__ = ["spacetimedb_local_server"]

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")

ONLINE_USERS = 'SELECT * FROM "user" WHERE "user"."online" = TRUE'


@pytest.fixture
def server(spacetimedb_local_server: ServerFactory) -> LocalServer:
    return spacetimedb_local_server({"quickstart-chat": CHAT_MODULE})


def test_two_ts_clients_chat(server: LocalServer) -> None:
    with (
        TsChatClient(server.ws_url, "quickstart-chat") as alice,
        TsChatClient(server.ws_url, "quickstart-chat") as bob,
    ):
        alice_info = alice.wait_connected()
        bob_info = bob.wait_connected()
        assert alice_info["identity"] != bob_info["identity"]
        assert len(alice_info["connection_id"]) == 32

        alice.subscribe([ONLINE_USERS, "SELECT * FROM message"])
        bob.subscribe(["SELECT * FROM user", "SELECT * FROM message"])

        named = alice.call_reducer("set_name", name="Alice")
        assert named["status"] == "ok", named
        own = alice.wait_for(
            lambda e: e.get("event") == "user_update" and e["new"]["name"] == "Alice"
        )
        assert own["cause"] == "Reducer"  # the caller's own deltas came in its ReducerResult
        seen_by_bob = bob.wait_for(
            lambda e: e.get("event") == "user_update" and e["new"]["name"] == "Alice"
        )
        assert seen_by_bob["cause"] == "Transaction"

        rejected = bob.call_reducer("set_name", name="")
        assert (rejected["status"], rejected["error"]) == ("err", "Names must not be empty")

        assert alice.call_reducer("send_message", text="hello bob")["status"] == "ok"
        assert bob.call_reducer("send_message", text="hi alice")["status"] == "ok"
        assert bob.wait_for("message_insert", text="hello bob")["sender"] == alice_info["identity"]
        assert alice.wait_for("message_insert", text="hi alice")["sender"] == bob_info["identity"]

        long_text = "long " * 600  # > 1024 bytes: the update travels gzip-compressed
        assert bob.call_reducer("send_message", text=long_text)["status"] == "ok"
        assert alice.wait_for("message_insert", text=long_text)["sender"] == bob_info["identity"]

        dump = alice.dump()
        assert sorted(m["text"] for m in dump["message"]) == ["hello bob", "hi alice", long_text]
        users = {u["identity"]: u for u in dump["user"]}
        assert users[alice_info["identity"]]["name"] == "Alice"
        assert set(users) == {alice_info["identity"], bob_info["identity"]}  # both online

    # Both disconnected: the lifecycle reducer marked them offline.
    with TsChatClient(server.ws_url, "quickstart-chat", token=alice_info["token"]) as again:
        info = again.wait_connected()
        assert info["identity"] == alice_info["identity"]  # same identity via websocket-token
        again.subscribe(["SELECT * FROM user"])
        users = {u["identity"]: u for u in again.dump()["user"]}
        assert users[bob_info["identity"]]["online"] is False
        assert users[alice_info["identity"]]["online"] is True
        assert users[alice_info["identity"]]["name"] == "Alice"


def test_ts_client_sees_online_filter_updates(server: LocalServer) -> None:
    with TsChatClient(server.ws_url, "quickstart-chat") as watcher:
        watcher.wait_connected()
        watcher.subscribe([ONLINE_USERS])
        with TsChatClient(server.ws_url, "quickstart-chat") as visitor:
            visitor_id = visitor.wait_connected()["identity"]
            joined = watcher.wait_for(
                lambda e: e.get("event") == "user_insert" and e["row"]["identity"] == visitor_id
            )
            assert joined["row"]["online"] is True
        left = watcher.wait_for(
            lambda e: e.get("event") == "user_delete" and e["row"]["identity"] == visitor_id
        )
        assert left["cause"] == "Transaction"


def test_two_ts_clients_and_a_python_client_in_one_chat(server: LocalServer) -> None:
    """The official TS client and our Python client (generated bindings) talk through one server."""
    from module_bindings import DbConnection, Message, User

    from spacetimedb_sdk.client import EventContext, ReducerError

    inserted: list[tuple[str, str]] = []
    renamed: list[tuple[str | None, str | None]] = []

    def on_message(ctx: EventContext, row: Message) -> None:
        inserted.append((row.sender.to_hex(), row.text))

    def on_user_update(ctx: EventContext, old: User, new: User) -> None:
        renamed.append((old.name, new.name))

    conn = DbConnection.builder().with_uri(server.url).with_database_name("quickstart-chat").build()
    conn.run_threaded()
    try:
        conn.db.message.on_insert(on_message)
        conn.db.user.on_update(on_user_update)
        py_identity = conn.connected.result(timeout=30).identity
        assert py_identity is not None
        handle = conn.subscription_builder().subscribe_to_all_tables()
        handle.applied.result(timeout=30)

        with (
            TsChatClient(server.ws_url, "quickstart-chat") as alice,
            TsChatClient(server.ws_url, "quickstart-chat") as bob,
        ):
            alice_id = alice.wait_connected()["identity"]
            bob_id = bob.wait_connected()["identity"]
            alice.subscribe(["SELECT * FROM user", "SELECT * FROM message"])
            bob.subscribe(["SELECT * FROM user", "SELECT * FROM message"])

            assert alice.call_reducer("set_name", name="Alice")["status"] == "ok"
            conn.reducers.set_name("Py").result(timeout=30)
            with pytest.raises(ReducerError, match="Names must not be empty"):
                conn.reducers.set_name("").result(timeout=30)

            assert alice.call_reducer("send_message", text="from alice")["status"] == "ok"
            conn.reducers.send_message("from python").result(timeout=30)
            assert bob.call_reducer("send_message", text="from bob")["status"] == "ok"

            # Each TS client sees the Python client's message and its name; Python sees theirs.
            for ts in (alice, bob):
                seen = ts.wait_for("message_insert", text="from python")
                assert seen["sender"] == py_identity.to_hex()
                ts.wait_for(lambda e: e.get("event") == "user_update" and e["new"]["name"] == "Py")
            deadline = time.monotonic() + 30
            while len(inserted) < 3 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert inserted == [
                (alice_id, "from alice"),
                (py_identity.to_hex(), "from python"),
                (bob_id, "from bob"),
            ]
            assert (None, "Alice") in renamed and (None, "Py") in renamed
            names = {u.identity.to_hex(): u.name for u in conn.db.user.iter()}
            assert names[alice_id] == "Alice" and names[py_identity.to_hex()] == "Py"
            assert names[bob_id] is None
    finally:
        conn.disconnect()
        conn.wait_closed(10)
