"""The official TypeScript client (npm ``spacetimedb`` 2.10.1) against the local server.

The chat module from ``server/`` is hosted; the client is driven through tests/ts_harness.py.
Needs Node.js >= 20; skipped only when ``node`` is not installed.
"""

from __future__ import annotations

import shutil

import pytest

from spacetimedb_sdk.local_server.pytest_plugin import ServerFactory, spacetimedb_local_server
from spacetimedb_sdk.local_server.server import LocalServer
from tests.local_server_support import CHAT_MODULE
from tests.ts_harness import TsChatClient

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
