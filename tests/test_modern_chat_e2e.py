"""examples/modern_chat.py end to end: two users chatting through pipes against a live server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from spacetimedb_sdk.local_server.server import LocalServer
from tests.conftest import REPO_ROOT
from tests.quickstart_harness import ClientProcess, clients

EXAMPLE = REPO_ROOT / "examples" / "modern_chat.py"
CONNECTED = re.compile(r"^User (\S+) connected\.$")
READY = [
    "Fully connected and all subscriptions applied.",
    "Use /name to set your name, or type a message!",
]


@pytest.fixture
def server() -> Iterator[LocalServer]:
    server = LocalServer({"chat": REPO_ROOT / "server"}, port=0)
    server.start_in_thread()
    try:
        yield server
    finally:
        server.stop_thread()


def start(server: LocalServer, home: Path, *args: str) -> ClientProcess:
    argv = ["--uri", server.url, *args]
    return ClientProcess.start(EXAMPLE, argv, home=home, name=" ".join(["modern_chat.py", *args]))


def prefix(line: str) -> str:
    match = CONNECTED.match(line)
    assert match is not None, line
    return match.group(1)


def read_startup(client: ClientProcess, users: int) -> tuple[list[str], list[str]]:
    """The backlog (in order, ending with the two 'ready' lines) and the 'User … connected.'
    lines of the users online (in any order: the runtime may print them on either side of the
    backlog)."""
    backlog: list[str] = []
    online: list[str] = []
    while len(online) < users or backlog[-2:] != READY:
        line = client.read_line()
        (online if CONNECTED.match(line) else backlog).append(line)
    return backlog, online


def test_two_users(server: LocalServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with clients(start(server, home)) as (ann,):
        backlog, online = read_startup(ann, 1)
        assert backlog == READY
        a = prefix(online[0])
        ann.send("/name ann")
        ann.expect(f"User {a} renamed to ann.")
        ann.send("first")
        ann.expect("ann: first")
        ann.send("/name ")
        ann.expect("Failed to set name: Names must not be empty")
        code, _ = ann.finish(timeout=1.0)  # an empty line ends the client
        assert code == 0

    with clients(start(server, home)) as (ann,):
        backlog, online = read_startup(ann, 1)
        assert (backlog, online) == (["ann: first", *READY], ["User ann connected."])
        with clients(start(server, home, "--client", "2")) as (ben,):
            backlog, online = read_startup(ben, 2)
            assert backlog == ["ann: first", *READY]
            b = next(prefix(x) for x in online if x != "User ann connected.")
            assert sorted(online) == sorted(["User ann connected.", f"User {b} connected."])
            ann.expect(f"User {b} connected.")

            ben.send("/name ben")
            ben.expect(f"User {b} renamed to ben.")
            ann.expect(f"User {b} renamed to ben.")
            ben.send("hello ann")
            ben.expect("ben: hello ann")
            ann.expect("ben: hello ann")
            ann.send("hello ben")
            ann.expect("ann: hello ben")
            ben.expect("ann: hello ben")
            ben.send("/name ")
            ben.expect("Failed to set name: Names must not be empty")
            ann.expect_quiet(0.5)

            code, elapsed = ben.finish(timeout=1.0)
            assert code == 0 and elapsed < 1.0
            assert ben.rest() == []
            ann.expect("User ben disconnected.")
            code, _ = ann.finish(timeout=1.0)
            assert code == 0
    # The Rust SDK's credentials files, one per --client.
    saved = sorted(p.name for p in (home / ".spacetimedb_client_credentials").iterdir())
    assert saved == ["quickstart-chat", "quickstart-chat-2"]
