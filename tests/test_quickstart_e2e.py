"""The 0.7 quickstart, end to end: two ``python client/main.py`` processes against the local
server hosting ``server/`` as ``chat`` on localhost:3000, driven through pipes like a person at
two terminals, with every printed line checked in order.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.quickstart_guide import MAIN_PY
from tests.quickstart_harness import ClientProcess, clients, quickstart_server

CONNECTED = re.compile(r"^User (\S+) connected\.$")


@pytest.fixture
def server() -> Iterator[str]:
    with quickstart_server() as url:
        yield url


def start(home: Path, *args: str) -> ClientProcess:
    return ClientProcess.start(MAIN_PY, list(args), home=home, name=" ".join(["main.py", *args]))


def own_prefix(line: str) -> str:
    match = CONNECTED.match(line)
    assert match, f"not a 'User … connected.' line: {line!r}"
    return match.group(1)


def expect_exit(client: ClientProcess) -> float:
    code, elapsed = client.finish(timeout=1.0)
    assert code == 0, f"exit code {code}; stderr:\n{client.stderr_text()}"
    assert client.rest() == []
    return elapsed


def test_two_clients_chat(server: str, tmp_path: Path) -> None:
    del server
    home = tmp_path / "home"
    home.mkdir()
    with clients(start(home)) as (alice,):
        # Alice is alone: her own row arrives with the subscription, then the empty backlog.
        a_line = alice.read_line()
        a = own_prefix(a_line)
        alice.expect("", "SYSTEM: Connected.")
        alice.expect_quiet(0.3)

        alice.send("/name alice")
        alice.expect(f"User {a} renamed to alice.")
        alice.send("Hello from alice")
        alice.expect("alice: Hello from alice")
        alice.send("second message")
        alice.expect("alice: second message")

        with clients(start(home, "--client", "2")) as (bob,):
            # Bob sees both online users (in server order), then the backlog in order.
            first_two = sorted([bob.read_line(), bob.read_line()])
            b = next(own_prefix(line) for line in first_two if line != "User alice connected.")
            assert first_two == sorted(["User alice connected.", f"User {b} connected."])
            assert b != a
            bob.expect("", "SYSTEM: Connected.", "alice: Hello from alice", "alice: second message")
            alice.expect(f"User {b} connected.")

            bob.send("/name bob")
            bob.expect("User " + b + " renamed to bob.")
            alice.expect("User " + b + " renamed to bob.")

            bob.send("hi alice")
            bob.expect("bob: hi alice")
            alice.expect("bob: hi alice")
            alice.send("hi bob")
            alice.expect("alice: hi bob")
            bob.expect("alice: hi bob")

            # Rejected names are reported to the sender only.
            bob.send("/name ")
            bob.expect("Failed to set name: Names must not be empty")
            alice.expect_quiet(0.5)

            # Interleaved messages arrive once each, in one order, on both sides.
            for i in range(5):
                alice.send(f"a{i}")
                bob.send(f"b{i}")
            seen_by_alice = [alice.read_line() for _ in range(10)]
            seen_by_bob = [bob.read_line() for _ in range(10)]
            assert sorted(seen_by_alice) == sorted(
                [f"alice: a{i}" for i in range(5)] + [f"bob: b{i}" for i in range(5)]
            )
            assert seen_by_alice == seen_by_bob
            assert [x for x in seen_by_alice if x.startswith("alice")] == [
                f"alice: a{i}" for i in range(5)
            ]
            assert [x for x in seen_by_alice if x.startswith("bob")] == [
                f"bob: b{i}" for i in range(5)
            ]

            elapsed = expect_exit(bob)
            assert elapsed < 1.0
            alice.expect("User bob disconnected.")

        # Bob comes back with the token local_config kept: same identity, so same name.
        with clients(start(home, "--client", "2")) as (bob,):
            lines = sorted([bob.read_line(), bob.read_line()])
            assert lines == ["User alice connected.", "User bob connected."]
            bob.expect("", "SYSTEM: Connected.")
            bob.expect(
                "alice: Hello from alice",
                "alice: second message",
                "bob: hi alice",
                "alice: hi bob",
                *seen_by_alice,
            )
            bob.expect_quiet(0.3)
            alice.expect("User bob connected.")
            expect_exit(bob)
            alice.expect("User bob disconnected.")

        expect_exit(alice)

    assert (home / ".spacetimedb-python-quickstart" / "settings.ini").exists()
    assert (home / ".spacetimedb-python-quickstart" / "settings_2.ini").exists()


def test_restart_keeps_identity_and_empty_line_exits(server: str, tmp_path: Path) -> None:
    del server
    home = tmp_path / "home"
    home.mkdir()
    with clients(start(home)) as (first,):
        me = own_prefix(first.read_line())
        first.expect("", "SYSTEM: Connected.")
        first.send("/name ")
        first.expect("Failed to set name: Names must not be empty")
        first.send("before restart")
        first.expect(f"{me}: before restart")
        started = time.monotonic()
        expect_exit(first)
        assert time.monotonic() - started < 1.0

    token_file = home / ".spacetimedb-python-quickstart" / "settings.ini"
    token = token_file.read_text(encoding="utf-8")
    assert token.startswith("[main]\nauth_token = ")

    with clients(start(home)) as (again,):
        assert again.read_line() == f"User {me} connected."
        again.expect("", "SYSTEM: Connected.", f"{me}: before restart")
        again.expect_quiet(0.3)
        expect_exit(again)
    assert token_file.read_text(encoding="utf-8") == token


def test_a_different_home_is_a_different_user(server: str, tmp_path: Path) -> None:
    del server
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    with clients(start(tmp_path / "one")) as (one,):
        first = own_prefix(one.read_line())
        one.expect("", "SYSTEM: Connected.")
        expect_exit(one)
    with clients(start(tmp_path / "two")) as (two,):
        # The first user is offline (not printed); this one is someone else.
        second = own_prefix(two.read_line())
        assert second != first
        two.expect("", "SYSTEM: Connected.")
        two.expect_quiet(0.3)
        expect_exit(two)
