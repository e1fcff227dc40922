"""What a person is told when connecting fails or the connection is lost (issue 9, items 4-7):
the modern builder's 401 message, the 0.7 layer's one-line notices, and the Ctrl-C handler's
choices. The quickstart's ``main.py`` is driven end to end in ``test_quickstart_e2e.py``."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK
from websockets.frames import Close

from spacetimedb_sdk import local_config
from spacetimedb_sdk.client.errors import ConnectError, DisconnectedError
from spacetimedb_sdk.legacy.notices import connect_failure_notice, connection_lost_notice
from spacetimedb_sdk.legacy.process_exit import INTERRUPTED_EXIT_CODE, ProcessExit
from spacetimedb_sdk.local_server.server import LocalServer
from spacetimedb_sdk.spacetimedb_async_client import (
    SpacetimeDBAsyncClient,
    SpacetimeDBException,
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


@pytest.fixture
def token_from_another_server(module_bindings: ModuleType) -> Iterator[tuple[str, str]]:
    """A token issued by one server, and the URL of a second one (other keys): ``(token, url)``."""
    first = LocalServer({"chat": REPO_ROOT / "server"}, port=0)
    first_url = first.start_in_thread()
    try:
        tokens: list[str] = []
        conn = (
            module_bindings.DbConnection.builder()
            .with_uri(first_url)
            .with_database_name("chat")
            .on_connect(lambda conn, identity, token: tokens.append(token))
            .build()
        )
        conn.run_threaded()
        deadline = time.monotonic() + 10
        while not tokens and time.monotonic() < deadline:
            time.sleep(0.01)
        conn.disconnect()
        assert conn.wait_closed(10)
    finally:
        first.stop_thread()
    assert tokens, "the first server gave no token"
    second = LocalServer({"chat": REPO_ROOT / "server"}, port=0)
    second_url = second.start_in_thread()
    try:
        yield tokens[0], second_url
    finally:
        second.stop_thread()


# ------------------------------------------------------------------------- token (item 7)
def test_modern_builder_explains_a_token_from_another_server(
    module_bindings: ModuleType, token_from_another_server: tuple[str, str]
) -> None:
    token, url = token_from_another_server
    builder = (
        module_bindings.DbConnection.builder()
        .with_uri(url)
        .with_database_name("chat")
        .with_token(token)
        .on_connect_error(lambda ctx, error: None)
    )
    with pytest.raises(ConnectError) as raised:
        builder.build()
    error = raised.value
    assert error.status == 401
    assert "InvalidSignature" in str(error)
    assert "issued by a different server" in str(error)
    assert "with_token(None)" in str(error)


def test_legacy_client_names_the_settings_file_to_delete(
    module_bindings: ModuleType,
    token_from_another_server: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token, url = token_from_another_server
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["main.py"])
    monkeypatch.setattr(local_config, "config", None)
    monkeypatch.setattr(local_config, "settings_path", None)
    local_config.init(".spacetimedb-python-quickstart")
    local_config.set_string("auth_token", token)
    client = SpacetimeDBAsyncClient(module_bindings)
    host = url.removeprefix("http://")
    with pytest.raises(SpacetimeDBException) as raised:  # run() on the main thread: it raises
        asyncio.run(
            client.run(local_config.get_string("auth_token"), host, "chat", False, None, QUERIES)
        )
    message = str(raised.value)
    assert message.startswith(f"The SpacetimeDB server at {host} rejected the saved token")
    assert "different server" in message
    settings = tmp_path / ".spacetimedb-python-quickstart" / "settings.ini"
    assert f"delete {settings} and run this again" in message


# ------------------------------------------------------------------- notices (items 4, 7)
def test_refused_on_localhost_says_to_start_the_server() -> None:
    error = ConnectError("cannot connect: [Errno 111] Connect call failed")
    error.__cause__ = ConnectionRefusedError(111, "Connect call failed")
    notice = connect_failure_notice(error, "localhost:3000", "chat", None)
    assert notice.startswith("Cannot connect to the SpacetimeDB server at localhost:3000:")
    assert "connection refused" in notice
    assert "bash scripts/run.sh" in notice
    assert "\n" not in notice


def test_refused_while_reading_the_schema_of_old_bindings() -> None:
    # 0.7-era bindings fetch the schema over HTTP first: urllib wraps the socket error.
    url_error = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    error = ConnectError(f"could not read the schema of 'chat': {url_error}")
    error.__cause__ = url_error
    notice = connect_failure_notice(error, "http://127.0.0.1:3000", "chat", None)
    assert "connection refused" in notice and "bash scripts/run.sh" in notice


def test_unknown_remote_host_says_to_check_the_address() -> None:
    error = ConnectError("cannot connect")
    error.__cause__ = socket.gaierror(-2, "Name or service not known")
    notice = connect_failure_notice(error, "no-such-host.example:3000", "chat", None)
    assert "unknown host" in notice
    assert "Check the address" in notice and "scripts/run.sh" not in notice


def test_a_token_not_from_local_config_says_to_connect_without_it() -> None:
    error = ConnectError(
        "the server refused the connection (HTTP 401)", 401, "Invalid token: InvalidSignature"
    )
    notice = connect_failure_notice(error, "localhost:3000", "chat", "a-token-from-elsewhere")
    assert "different server" in notice
    assert "auth_token None" in notice


def test_server_going_away_is_said_so_not_module_exited() -> None:
    closed = ConnectionClosedOK(Close(1001, "module exited"), None)
    error = DisconnectedError("the connection closed (code 1001: module exited)")
    error.__cause__ = closed
    notice = connection_lost_notice(error, "localhost:3000")
    assert "server at localhost:3000 went away" in notice
    assert "module exited" not in notice


def test_a_dropped_socket_is_the_server_going_away() -> None:
    error = DisconnectedError("the connection closed (no close frame)")
    error.__cause__ = ConnectionClosedError(None, None)
    assert "went away" in connection_lost_notice(error, "localhost:3000")


def test_another_close_reason_is_shown() -> None:
    error = DisconnectedError("the connection closed (code 1011: the module trapped)")
    error.__cause__ = ConnectionClosedError(Close(1011, "the module trapped"), None)
    notice = connection_lost_notice(error, "localhost:3000")
    assert "closed the connection (code 1011: the module trapped)" in notice


# --------------------------------------------------------------------- Ctrl-C (item 5)
class _FakeRun:
    exit_process = True
    request_timeout = 1.0

    def __init__(self) -> None:
        self.stopped = False

    def stop_for_exit(self, deadline: float) -> None:
        self.stopped = True


def _run_elsewhere(handler: ProcessExit, client: _FakeRun) -> None:
    # running() watches only runs off the main thread, as the quickstart's is.
    import threading

    thread = threading.Thread(target=handler.running, args=(client,))
    thread.start()
    thread.join()


def test_ctrl_c_without_a_background_run_is_a_keyboard_interrupt() -> None:
    with pytest.raises(KeyboardInterrupt):
        ProcessExit()._on_sigint(2, None)


def test_ctrl_c_with_a_background_run_closes_it_and_exits_130() -> None:
    handler = ProcessExit()
    client = _FakeRun()
    _run_elsewhere(handler, client)
    with pytest.raises(SystemExit) as raised:
        handler._on_sigint(2, None)
    assert raised.value.code == INTERRUPTED_EXIT_CODE
    assert client.stopped


def test_ctrl_c_with_exit_process_off_is_a_keyboard_interrupt() -> None:
    handler = ProcessExit()
    client = _FakeRun()
    client.exit_process = False
    _run_elsewhere(handler, client)
    with pytest.raises(KeyboardInterrupt):
        handler._on_sigint(2, None)
    assert not client.stopped


def test_threaded_legacy_client_reports_the_notice_to_on_disconnect(
    module_bindings: ModuleType,
) -> None:
    from spacetimedb_sdk.spacetimedb_client import SpacetimeDBClient

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed: list[str] = []
    errors: list[object] = []
    SpacetimeDBClient.init(
        None,
        f"127.0.0.1:{port}",
        "chat",
        False,
        module_bindings,
        on_disconnect=closed.append,
        on_error=errors.append,
    )
    assert len(errors) == 1 and isinstance(errors[0], ConnectError)
    assert len(closed) == 1
    assert closed[0].startswith(f"Cannot connect to the SpacetimeDB server at 127.0.0.1:{port}:")
    assert "connection refused" in closed[0] and "bash scripts/run.sh" in closed[0]
