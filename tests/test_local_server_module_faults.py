"""Module code that raises ``SystemExit`` / ``KeyboardInterrupt`` (or exits at import) fails only
its own call, over real sockets: the server keeps serving everyone."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from spacetimedb_sdk.errors import ModuleDefError
from spacetimedb_sdk.local_server.host import Database
from spacetimedb_sdk.local_server.module_loader import ModuleLoadError
from spacetimedb_sdk.local_server.pytest_plugin import ServerFactory, spacetimedb_local_server
from spacetimedb_sdk.local_server.server import LocalServer
from spacetimedb_sdk.messages import (
    CallProcedureMsg,
    CallReducerMsg,
    InternalErrorOutcome,
    OneOffQueryMsg,
    OneOffQueryResultMsg,
    ProcedureResultMsg,
    ReducerOk,
    ReducerResultMsg,
)
from spacetimedb_sdk.values import Ok
from tests.local_server_support import RawClient, encode_args, http_request

__all__ = ["spacetimedb_local_server"]

ROGUE = Path(__file__).parent / "local_server_modules" / "rogue.py"
FATAL = "The instance encountered a fatal error."
PROCEDURE_FATAL = "The module instance encountered a fatal error: "
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def server(spacetimedb_local_server: ServerFactory) -> LocalServer:
    return spacetimedb_local_server({"rogue": ROGUE})


def call(
    server: LocalServer, function: str, body: list[object] | None = None, token: str | None = None
) -> tuple[int, bytes]:
    headers = dict(JSON) if token is None else {**JSON, "Authorization": f"Bearer {token}"}
    status, _, data = http_request(
        "POST", f"{server.url}/v1/database/rogue/call/{function}", json.dumps(body or []), headers
    )
    return status, data


def sql(server: LocalServer, query: str) -> list[list[object]]:
    status, _, data = http_request(
        "POST",
        f"{server.url}/v1/database/rogue/sql",
        query,
        {"Authorization": f"Bearer {server.owner_token}"},
    )
    assert status == 200, data
    rows: list[list[object]] = json.loads(data)[0]["rows"]
    return rows


def assert_alive(server: LocalServer) -> None:
    status, _, _ = http_request("GET", f"{server.url}/v1/ping")
    assert status == 200
    assert call(server, "note", ["still here"], server.owner_token)[0] == 200


def run(coro: object) -> None:
    asyncio.run(asyncio.wait_for(coro, 60))  # type: ignore[arg-type]


@pytest.mark.parametrize("reducer", ["exit_now", "interrupt"])
def test_http_reducer_raising_base_exceptions_is_that_calls_error(
    server: LocalServer, reducer: str
) -> None:
    status, body = call(server, reducer)
    assert (status, body.decode()) == (530, FATAL)
    assert_alive(server)
    assert ["before exit"] not in [row[1:] for row in sql(server, "SELECT * FROM note")]


@pytest.mark.parametrize(("procedure", "code"), [("exit_proc", 6), ("exit_in_tx", 7)])
def test_http_procedure_raising_system_exit_is_that_calls_error(
    server: LocalServer, procedure: str, code: int
) -> None:
    status, body = call(server, procedure)
    # The real server's words for a procedure that fails, then what the module raised.
    assert (status, body.decode()) == (500, f"{PROCEDURE_FATAL}SystemExit: {code}")
    assert_alive(server)
    assert all(row[1] != "in tx" for row in sql(server, "SELECT * FROM note"))


def test_websocket_calls_raising_base_exceptions_answer_with_internal_errors(
    server: LocalServer,
) -> None:
    schema = server.runtime("rogue").database.schema

    async def main() -> None:
        client = await RawClient.connect(server.ws_url, "rogue")
        await client.send(CallReducerMsg(1, 0, "exit_now", b""))
        result = await client.expect(ReducerResultMsg)
        assert result.result == InternalErrorOutcome(FATAL)
        await client.send(CallReducerMsg(2, 0, "interrupt", b""))
        result = await client.expect(ReducerResultMsg)
        assert result.result == InternalErrorOutcome(FATAL)
        await client.send(CallProcedureMsg(3, 0, "exit_proc", b""))
        answer = await client.expect(ProcedureResultMsg)
        assert answer.status == InternalErrorOutcome(f"{PROCEDURE_FATAL}SystemExit: 6")
        # A failed procedure's result carries the Unix epoch and no duration, as the real
        # server's does.
        assert (
            answer.timestamp.micros_since_unix_epoch,
            answer.total_host_execution_duration.micros,
        ) == (0, 0)
        await client.send(CallReducerMsg(4, 0, "note", encode_args(schema, "note", "after")))
        result = await client.expect(ReducerResultMsg)
        assert isinstance(result.result, ReducerOk)
        await client.close()

    run(main())
    assert_alive(server)


def test_lifecycle_reducers_raising_base_exceptions_leave_the_server_up(
    server: LocalServer,
) -> None:
    owner = server.owner_token
    assert call(server, "set_mode", ["exit_on_connect"], owner)[0] == 200

    async def refused() -> None:
        client = await RawClient.connect(server.ws_url, "rogue", read_initial=False)
        with pytest.raises(ConnectionClosed) as info:  # dropped without a message: a refusal
            await client.recv(5)
        assert info.value.rcvd is None

    run(refused())
    assert_alive(server)
    assert call(server, "set_mode", ["interrupt_on_disconnect"], owner)[0] == 200

    async def leaves() -> None:
        client = await RawClient.connect(server.ws_url, "rogue")
        await client.send(OneOffQueryMsg(1, "SELECT * FROM note"))
        answer = await client.expect(OneOffQueryResultMsg)
        assert isinstance(answer.result, Ok)
        await client.close()

    run(leaves())
    time.sleep(0.3)  # let the disconnect run on the database thread
    assert_alive(server)
    assert server.runtime("rogue").database.connected_clients() == []


def test_scheduled_reducer_raising_system_exit_leaves_the_server_up(server: LocalServer) -> None:
    assert call(server, "schedule_exit")[0] == 200
    time.sleep(0.3)
    assert_alive(server)
    assert call(server, "schedule_exit")[0] == 200  # the timer still works afterwards
    time.sleep(0.3)
    assert_alive(server)
    assert sql(server, "SELECT * FROM exit_schedule") == []  # one-shot rows go, even on failure


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("import sys\nsys.exit(2)\n", "called sys.exit() during import"),
        ("raise KeyboardInterrupt\n", "failed to import: KeyboardInterrupt"),
        ("raise RuntimeError('no config')\n", "failed to import: RuntimeError: no config"),
    ],
)
def test_module_code_failing_at_import_is_a_module_load_error(
    tmp_path: Path, source: str, message: str
) -> None:
    path = tmp_path / "bad.py"
    path.write_text(source, encoding="utf-8")
    with pytest.raises(ModuleLoadError) as info:
        Database.open("bad", path)
    assert str(info.value) == f"module {path.resolve()} {message}"
    assert isinstance(info.value, ModuleDefError)
    with pytest.raises(ModuleLoadError) as info:  # in the server: the same error from start()
        LocalServer({"bad": path}).start_in_thread()
    assert str(info.value) == f"module {path.resolve()} {message}"


def test_an_init_reducer_calling_sys_exit_fails_the_publish_with_a_clear_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "exits_in_init.py"
    path.write_text(
        "import sys\n"
        "from spacetimedb_sdk.module import ReducerContext, reducer, table, u32\n"
        "@table\nclass T:\n    a: u32\n"
        "@reducer(init=True)\ndef init(ctx: ReducerContext) -> None:\n    sys.exit(1)\n",
        encoding="utf-8",
    )
    with pytest.raises(ModuleDefError, match="init reducer failed"):
        Database.open("exits-in-init", path)
