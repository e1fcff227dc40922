"""The 0.7 quickstart, end to end: two ``python client/main.py`` processes against the local
server hosting ``server/`` as ``chat`` on localhost:3000, driven through pipes like a person at
two terminals, with every printed line checked in order.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from spacetimedb_sdk.local_server.server import LocalServer
from tests.quickstart_guide import MAIN_PY
from tests.quickstart_harness import (
    QUICKSTART_PORT,
    REPO_ROOT,
    ClientProcess,
    clients,
    port_is_free,
    quickstart_server,
    server_answers,
)

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


# ------------------------------------------------------------------ endings (issue 9, 4-7)
SETTINGS = Path(".spacetimedb-python-quickstart") / "settings.ini"


@pytest.fixture
def sigint_reaches_children() -> Iterator[None]:
    """Children inherit an ignored SIGINT (pytest run as a background job): undo that here,
    so the client gets Ctrl-C as it would in a terminal."""
    previous = signal.getsignal(signal.SIGINT)
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if previous == signal.SIG_IGN:
            signal.signal(signal.SIGINT, previous)


def wait_exit(client: ClientProcess, within: float) -> int:
    """The exit code of a client that should end by itself within ``within`` seconds (a
    generous bound: it only tells "ends by itself" from "hangs")."""
    try:
        return client.process.wait(within)
    except subprocess.TimeoutExpired:
        client._fail(f"still running {within} s later")


def test_no_server_gives_one_line_and_a_nonzero_exit(tmp_path: Path) -> None:
    if not port_is_free(QUICKSTART_PORT):
        pytest.fail(f"port {QUICKSTART_PORT} is busy: this test needs nothing listening there")
    with clients(start(tmp_path)) as (alone,):
        code = wait_exit(alone, within=10.0)  # nobody presses Enter: it ends by itself
        assert code != 0
        assert alone.rest() == []
        errors = alone.stderr_text().splitlines()
    assert len(errors) == 1, errors
    assert "Traceback" not in errors[0]
    assert "localhost:3000" in errors[0] and "connection refused" in errors[0]
    assert "bash scripts/run.sh" in errors[0]


def test_ctrl_c_closes_the_connection_and_exits(
    server: str, tmp_path: Path, sigint_reaches_children: None
) -> None:
    del server, sigint_reaches_children
    with clients(start(tmp_path)) as (alice,):
        a = own_prefix(alice.read_line())
        alice.expect("", "SYSTEM: Connected.")
        with clients(start(tmp_path, "--client", "2")) as (bob,):
            bob.read_until("SYSTEM: Connected.")
            own_prefix(alice.read_line())  # bob connected
            alice.process.send_signal(signal.SIGINT)  # one Ctrl-C
            code = wait_exit(alice, within=5.0)
            assert code in (130, 1), f"exit code {code}"
            assert "Traceback" not in alice.stderr_text()
            assert alice.rest() == []
            bob.expect(f"User {a} disconnected.")  # the server saw the connection close
            expect_exit(bob)


def test_server_stopping_mid_session_ends_the_client(tmp_path: Path) -> None:
    server = LocalServer({"chat": REPO_ROOT / "server"}, port=QUICKSTART_PORT)
    server.start_in_thread()
    try:
        with clients(start(tmp_path)) as (alice,):
            me = own_prefix(alice.read_line())
            alice.expect("", "SYSTEM: Connected.")
            alice.send("before the stop")
            alice.expect(f"{me}: before the stop")
            server.stop_thread()  # closes every socket (1001) as a stopping server does
            code = wait_exit(alice, within=10.0)
            assert alice.rest() == []
            errors = alice.stderr_text().splitlines()
    finally:
        server.stop_thread()
    assert code != 0
    assert len(errors) == 1, errors
    assert "went away" in errors[0] and "localhost:3000" in errors[0]
    assert "module exited" not in errors[0]


def test_server_killed_mid_session_ends_the_client(tmp_path: Path) -> None:
    if not port_is_free(QUICKSTART_PORT):
        pytest.fail(f"port {QUICKSTART_PORT} is busy: this test starts its own server there")
    serve = [sys.executable, "-m", "spacetimedb_sdk", "serve", "--port", str(QUICKSTART_PORT)]
    with clients(
        ClientProcess.start_command(
            [*serve, "chat=server"], home=tmp_path, name="serve", cwd=REPO_ROOT
        )
    ) as (server,):
        deadline = time.monotonic() + 30
        while not server_answers(f"http://127.0.0.1:{QUICKSTART_PORT}"):
            if server.process.poll() is not None or time.monotonic() > deadline:
                server._fail("the server did not start")
            time.sleep(0.1)
        with clients(start(tmp_path)) as (alice,):
            alice.read_until("SYSTEM: Connected.")
            server.process.kill()  # no close frame: the socket just drops
            code = wait_exit(alice, within=10.0)
            errors = alice.stderr_text().splitlines()
    assert code != 0
    assert len(errors) == 1, errors
    assert "went away" in errors[0] and "localhost:3000" in errors[0]


def test_a_token_from_another_server_is_explained(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    # First the durable server scripts/run.sh starts, then one in memory (other signing keys),
    # as "run the pieces yourself" serves it.
    with quickstart_server(data_dir=tmp_path / "durable"), clients(start(home)) as (first,):
        first.read_until("SYSTEM: Connected.")
        expect_exit(first)
    with quickstart_server(), clients(start(home)) as (again,):
        code = wait_exit(again, within=10.0)
        assert again.rest() == []
        errors = again.stderr_text().splitlines()
    assert code != 0
    assert len(errors) == 1, errors
    assert "different server" in errors[0]
    assert str(home / SETTINGS) in errors[0]  # which file to delete to start fresh
