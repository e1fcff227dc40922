"""Observability: no token reaches any log record, at any level, of any logger the client
drives; failures are logged once, and only when nothing handled them."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

from spacetimedb_sdk.client import ConnectError, DbConnection, ReconnectPolicy
from spacetimedb_sdk.redaction import RedactingFilter, protect, redact, sdk_logger
from spacetimedb_sdk.spacetimedb_async_client import SpacetimeDBAsyncClient
from spacetimedb_sdk.spacetimedb_client import SpacetimeDBClient
from tests.client_helpers import TOKEN, connected
from tests.server_process import REPO, ServerProcess

TIMEOUT = 10.0

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"


def test_redact_masks_tokens_headers_and_query_parameters() -> None:
    assert JWT not in redact(f"token {JWT} here")
    assert redact("Authorization: Bearer abc.def") == "Authorization: Bearer <redacted>"
    assert redact("ws://h/v1/database/x/subscribe?token=abc&compression=Gzip") == (
        "ws://h/v1/database/x/subscribe?token=<redacted>&compression=Gzip"
    )
    assert redact("nothing secret") == "nothing secret"


def test_sdk_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, "spacetimedb_sdk"):
        sdk_logger("spacetimedb_sdk.client").warning("connecting with %s", JWT)
        sdk_logger("spacetimedb_sdk.driver").error(f"header Bearer {JWT}")
        # Inside an argument that is no string, and a header split over two arguments.
        sdk_logger("spacetimedb_sdk.driver").info("failed: %s", RuntimeError(f"bad {JWT}"))
        sdk_logger("spacetimedb_sdk.driver").debug(
            "< %s: %s", "spacetime-identity-token", "Xy9-secret"
        )
    assert JWT not in caplog.text and "Xy9-secret" not in caplog.text
    assert caplog.text.count("<redacted>") == 4
    assert all(record.args == () for record in caplog.records)  # no object keeps a token


def test_a_token_the_client_sent_is_redacted_whatever_its_form() -> None:
    protect("opaque-credential-0123")
    assert redact("user code quoting opaque-credential-0123.") == "user code quoting <redacted>."
    protect("short")  # too short to mask without masking ordinary words
    assert redact("a short word") == "a short word"


def test_a_callback_error_mentioning_the_token_is_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def leaky(conn: object, identity: object, token: str) -> None:
        raise RuntimeError(f"cannot save {token}")

    conn, _ = connected(on_connect=leaky)
    assert TOKEN not in caplog.text and "cannot save <redacted>" in caplog.text
    assert TOKEN not in repr(conn)


# ---------------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("logging"))
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def module_bindings() -> Iterator[ModuleType]:
    """The 0.7 quickstart's generated bindings (client/module_bindings)."""
    sys.path.insert(0, str(REPO / "client"))
    try:
        import module_bindings

        yield module_bindings
    finally:
        sys.path.remove(str(REPO / "client"))


def wait_until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def builder(server: ServerProcess, database: str = "chat") -> Any:
    return DbConnection.builder().with_uri(server.url).with_database_name(database)


def leaky(*args: object) -> None:
    """A user callback whose error message quotes its arguments (the token among them)."""
    raise RuntimeError(f"cannot save {args!r}")


def everything_logged(record: logging.LogRecord) -> str:
    """All the text a handler could emit for ``record``: message, arguments, traceback, stack."""
    formatted = logging.Formatter("%(name)s %(levelname)s %(message)s").format(record)
    return "\n".join(
        (formatted, record.getMessage(), repr(record.args), str(record.msg), record.exc_text or "")
    )


def test_no_token_reaches_any_log_record_in_any_session(
    server: ServerProcess,
    module_bindings: ModuleType,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every record of every logger at DEBUG (the WebSocket library logs the handshake headers)
    during connects, a reconnect, a refused token, the asyncio driver and a 0.7 session."""
    caplog.set_level(logging.DEBUG)  # the root logger: every propagating logger reaches it
    chat = server.module("chat")

    # A fresh identity: the server sends its token in a response header and in the first message.
    first = builder(server).with_module(chat).on_connect(leaky).build()
    first.run_threaded()
    first.connected.result(TIMEOUT)
    token = first.token
    assert token
    first.disconnect()
    assert first.wait_closed(TIMEOUT)

    # The token in the Authorization header; the server is killed, the client reconnects.
    reconnected: list[object] = []
    conn = (
        builder(server)
        .with_module(chat)
        .with_token(token)
        .with_auto_reconnect(ReconnectPolicy(initial_delay=0.2, max_delay=0.5, jitter=0.2))
        .on_connect(leaky)
        .on_reconnected(lambda c, identity, t: reconnected.append(identity))
        .build()
    )
    conn.run_threaded()
    conn.connected.result(TIMEOUT)
    server.kill()
    server.start()
    wait_until(lambda: reconnected, "the reconnect")
    conn.reducers.send_message("after the reconnect").result(TIMEOUT)
    conn.disconnect()
    assert conn.wait_closed(TIMEOUT)

    # A token that matches no pattern, refused by the server, quoted by an error callback.
    opaque = "opaque-credential-5f1d2e"
    with pytest.raises(ConnectError):
        builder(server).with_module(chat).with_token(opaque).on_connect_error(
            lambda ctx, error: leaky(error, opaque)  # user code quoting the token it used
        ).build()

    # The asyncio driver.
    async def asyncio_session() -> None:
        aconn = await builder(server).with_module(chat).with_token(token).build_async()
        await aconn.reducers.set_name("Ann")
        aconn.disconnect()
        await aconn.run_async()

    asyncio.run(asyncio_session())

    # The 0.7 layer: SpacetimeDBAsyncClient, whose on_connect(token, identity) raises.
    monkeypatch.setattr(SpacetimeDBAsyncClient, "exit_process", False)
    legacy = SpacetimeDBAsyncClient(module_bindings)
    applied: list[bool] = []
    legacy.client.register_on_subscription_applied(lambda: applied.append(True))
    outcome: list[object] = []
    thread = threading.Thread(
        target=lambda: outcome.append(
            asyncio.run(legacy.run(token, server.url, "chat", False, leaky, ["SELECT * FROM User"]))
        ),
        daemon=True,
    )
    thread.start()
    wait_until(lambda: applied, "the 0.7 subscription")
    legacy.force_close()
    thread.join(TIMEOUT)
    assert outcome == [None]

    # The 0.7 threaded client, pumped by update(): its on_identity(token, identity) raises too.
    identified: list[object] = []
    closed: list[str] = []

    def on_identity(*args: object) -> None:
        identified.append(args)
        leaky(*args)

    sync_client = SpacetimeDBClient.init(
        token,
        server.url.removeprefix("http://"),
        "chat",
        False,
        module_bindings,
        on_disconnect=closed.append,
        on_identity=on_identity,
    )

    def pumped() -> bool:
        sync_client.update()
        return bool(identified)

    wait_until(pumped, "the 0.7 identity")
    sync_client.close()
    wait_until(lambda: closed, "the 0.7 close")

    records = caplog.records
    leaks = [
        (r.name, everything_logged(r)[:200])
        for r in records
        if token in everything_logged(r) or opaque in everything_logged(r)
    ]
    assert not leaks
    # The capture saw what could have leaked: the handshakes and the callbacks' errors.
    by_logger = {r.name for r in records}
    assert {"websockets.client", "spacetimedb_sdk.client", "spacetimedb_sdk.legacy"} <= by_logger
    headers = [r.getMessage() for r in records if r.name == "websockets.client"]
    assert "> Authorization: Bearer <redacted>" in headers
    assert "< spacetime-identity-token: <redacted>" in headers
    callback_errors = [r for r in records if r.exc_text and "cannot save" in r.exc_text]
    assert {r.name for r in callback_errors} == {"spacetimedb_sdk.client", "spacetimedb_sdk.legacy"}
    assert len([r for r in callback_errors if r.name == "spacetimedb_sdk.legacy"]) == 2
    assert all("<redacted>" in (r.exc_text or "") for r in callback_errors)


def test_every_sdk_logger_redacts() -> None:
    """The redacting loggers are derived, not listed: whatever logger a client module creates
    (a filter on the ``spacetimedb_sdk`` parent would not apply to its children's records)."""
    check = """
import logging, pkgutil, importlib, spacetimedb_sdk
from spacetimedb_sdk.redaction import RedactingFilter
server_side = ("local_server", "module", "codegen", "cli", "__main__")
for info in pkgutil.walk_packages(spacetimedb_sdk.__path__, "spacetimedb_sdk."):
    if info.name.split(".")[1] not in server_side:
        importlib.import_module(info.name)
loggers = {
    name: logger for name, logger in logging.root.manager.loggerDict.items()
    if name.startswith("spacetimedb_sdk.") and isinstance(logger, logging.Logger)
}
assert len(loggers) >= 6, sorted(loggers)
bare = [n for n, l in loggers.items() if not any(isinstance(f, RedactingFilter) for f in l.filters)]
assert not bare, bare
print(sorted(loggers))
"""
    done = subprocess.run(
        [sys.executable, "-c", check],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert "spacetimedb_sdk.legacy" in done.stdout


def test_the_drivers_hand_the_websocket_library_a_redacting_logger(server: ServerProcess) -> None:
    conn = builder(server, "game").with_module(server.module("game")).build()
    conn.disconnect()
    assert conn.wait_closed(TIMEOUT)
    ws_logger = logging.getLogger("websockets.client")
    assert any(isinstance(f, RedactingFilter) for f in ws_logger.filters)


def test_a_failure_the_user_handled_is_not_reported_as_unobserved(
    server: ServerProcess, caplog: pytest.LogCaptureFixture
) -> None:
    conn = builder(server, "game").with_module(server.module("game")).build()
    conn.run_threaded()
    conn.connected.result(TIMEOUT)
    try:
        errors: list[Exception] = []
        results: list[object] = []
        (
            conn.subscription_builder()
            .on_error(lambda ctx, error: errors.append(error))
            .subscribe("SELECT * FROM no_such_table")
        )
        conn.reducers.on_result("fail", lambda ctx: results.append(ctx.event.status))
        conn.reducers.fail("handled")  # fire and forget: on_result sees the outcome
        # Messages are processed in order: once this answer is in, the failures were handled.
        assert conn.procedures.double(1).result(TIMEOUT) == 2
        assert len(errors) == 1 and len(results) == 1
        unobserved = [r for r in caplog.records if "nobody was waiting" in r.getMessage()]
        assert unobserved == []

        # The same failures nobody handles are reported, once each.
        conn.subscription_builder().subscribe("SELECT * FROM no_such_table")
        conn.reducers.set_level(404, 1)  # no player 404: the reducer fails
        assert conn.procedures.double(2).result(TIMEOUT) == 4
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert [w for w in warnings if w.startswith("subscription ")] == [
            f"subscription ['SELECT * FROM no_such_table'] failed: {errors[0]}"
        ]
        assert [w for w in warnings if "nobody was waiting" in w] == [
            "reducer set_level() failed and nobody was waiting for it: no player 404"
        ]
    finally:
        conn.disconnect()
        assert conn.wait_closed(TIMEOUT)
