"""Auto-reconnect end to end: the server process is killed (SIGKILL) mid-session.

While the client is cut off the database changes: another user posts and gets a name, and a
third user, whose connection died with the server, goes offline. When the client is back its
cache must equal the server's state, with exactly the callbacks those changes call for (an
insert, an insert, an update) and none for the rows that did not change.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from spacetimedb_sdk.client import EventContext, ReconnectPolicy
from spacetimedb_sdk.identity import Identity
from tests.local_server_support import CHAT_MODULE, http_request

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "client"))

from module_bindings import DbConnection, Message, User

TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _serve(port: int, data_dir: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "spacetimedb_sdk", "serve", "--port", str(port)),
            *("--data-dir", str(data_dir), "--log-level", "warning", f"chat={CHAT_MODULE}"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # unread: a full pipe must never block the server
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("Serving "), line
    proc.stdout.readline()  # the owner token
    return proc


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_until(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def _call(url: str, reducer: str, args: list[object], token: str) -> None:
    status, _, body = http_request(
        "POST",
        f"{url}/v1/database/chat/call/{reducer}",
        json.dumps(args),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert status == 200, body


def _sql(url: str, query: str, token: str) -> list[list[object]]:
    status, _, body = http_request(
        "POST", f"{url}/v1/database/chat/sql", query, headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 200, body
    rows: list[list[object]] = json.loads(body)[0]["rows"]
    return rows


def test_server_killed_mid_session_then_cache_and_callbacks_match(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = _serve(port, data)
    events: list[tuple[str, ...]] = []

    def on_user_insert(ctx: EventContext, user: User) -> None:
        events.append(("user insert", user.identity.to_hex(), str(user.name), str(user.online)))

    def on_user_update(ctx: EventContext, old: User, new: User) -> None:
        events.append(("user update", new.identity.to_hex(), str(old.online), str(new.online)))

    def on_user_delete(ctx: EventContext, user: User) -> None:
        events.append(("user delete", user.identity.to_hex()))

    def on_message_insert(ctx: EventContext, message: Message) -> None:
        events.append(("message insert", message.text))

    def on_message_delete(ctx: EventContext, message: Message) -> None:
        events.append(("message delete", message.text))

    reconnected: list[Identity] = []
    conn = (
        DbConnection.builder()
        .with_uri(url)
        .with_database_name("chat")
        .with_auto_reconnect(ReconnectPolicy(initial_delay=0.2, max_delay=0.5, jitter=0.2))
        .on_reconnected(lambda c, identity, token: reconnected.append(identity))
        .build()
    )
    carol = DbConnection.builder().with_uri(url).with_database_name("chat").build()
    conn.run_threaded()
    carol.run_threaded()
    try:
        me = conn.connected.result(TIMEOUT).identity
        carol_id = carol.connected.result(TIMEOUT).identity
        assert me is not None and carol_id is not None
        conn.db.user.on_insert(on_user_insert)
        conn.db.user.on_update(on_user_update)
        conn.db.user.on_delete(on_user_delete)
        conn.db.message.on_insert(on_message_insert)
        conn.db.message.on_delete(on_message_delete)
        handle = conn.subscription_builder().subscribe(
            ["SELECT * FROM user", "SELECT * FROM message"]
        )
        handle.applied.result(TIMEOUT)
        conn.reducers.send_message("before the crash").result(TIMEOUT)
        assert ("message insert", "before the crash") in events
        assert conn.db.user.identity.find(carol_id) is not None
        events.clear()

        server.kill()  # SIGKILL: no close frames, no lifecycle reducers
        server.wait(20)

        # The database changes while our client is away (on another port it cannot reach).
        side_port = _free_port()
        side_url = f"http://127.0.0.1:{side_port}"
        side = _serve(side_port, data)
        try:
            status, _, body = http_request("POST", f"{side_url}/v1/identity")
            assert status == 200
            bob = json.loads(body)
            _call(side_url, "set_name", ["Bob"], bob["token"])
            _call(side_url, "send_message", ["while you were away"], bob["token"])
        finally:
            _stop(side)

        server = _serve(port, data)
        _wait_until(lambda: bool(reconnected), "the reconnect")
        assert reconnected == [me]
        _wait_until(lambda: len(events) >= 3, "the reconciliation callbacks")
        time.sleep(0.3)  # nothing more may arrive

        assert sorted(events) == sorted(
            [
                ("message insert", "while you were away"),
                ("user insert", bob["identity"], "Bob", "False"),
                ("user update", carol_id.to_hex(), "True", "False"),
            ]
        )

        # The cache equals the server's state. Every HTTP request runs the lifecycle reducers
        # for its caller (the chat module then inserts or updates that caller's user row), so
        # ask as a fresh observer and leave the observer's own row out of the comparison.
        status, _, body = http_request("POST", f"{url}/v1/identity")
        observer = json.loads(body)
        observer_id = Identity.from_hex(observer["identity"])
        server_messages = _sql(url, "SELECT * FROM message", observer["token"])
        assert sorted(str(row[2]) for row in server_messages) == sorted(
            m.text for m in conn.db.message.iter()
        )
        server_users = {
            Identity.from_hex(str(row[0][0])): (row[1], row[2])  # type: ignore[index]
            for row in _sql(url, "SELECT * FROM user", observer["token"])
        }
        cached_users = {
            u.identity: ([0, u.name] if u.name is not None else [1, []], u.online)
            for u in conn.db.user.iter()
        }
        server_users.pop(observer_id)
        cached_users.pop(observer_id, None)
        assert cached_users == server_users
        assert cached_users[me][1] is True  # we are back online

        conn.reducers.send_message("after the crash").result(TIMEOUT)
        _wait_until(lambda: ("message insert", "after the crash") in events, "the new message")
    finally:
        conn.disconnect()
        carol.disconnect()
        conn.wait_closed(10)
        carol.wait_closed(10)
        _stop(server)
