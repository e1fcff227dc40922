"""The local server's procedure runtime over real sockets: ``ctx.http`` against an HTTP server on
127.0.0.1, procedures that wait without holding the database, a client's calls answered as the
real server answers them, the caller's token claims in ``ctx.sender_auth``, time-ordered UUIDs
from a reducer, and the module log route."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from spacetimedb_sdk.local_server.pytest_plugin import ServerFactory, spacetimedb_local_server
from spacetimedb_sdk.local_server.server import LocalServer
from spacetimedb_sdk.messages import (
    CallProcedureMsg,
    CallReducerMsg,
    ProcedureResultMsg,
    ReducerOk,
    ReducerResultMsg,
    Returned,
)
from tests.local_server_support import RawClient, encode_args, http_json, http_request
from tests.server_process import free_port

__all__ = ["spacetimedb_local_server"]

MODULE = Path(__file__).parent / "local_server_modules" / "procedure_host.py"
DB = "proc"


class _Web:
    """A small HTTP server on 127.0.0.1 for procedures to call."""

    def __init__(self) -> None:
        self.slow_arrived = threading.Event()
        self.release = threading.Event()
        self.slow_answered = threading.Event()
        web = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                if self.path == "/hello":
                    self._reply(200, b"hi")
                elif self.path == "/slow":
                    web.slow_arrived.set()
                    web.release.wait(5)
                    web.slow_answered.set()
                    self._reply(200, b"slow done")
                else:
                    self._reply(404, b"nope")

            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                body = self.rfile.read(length)
                self._reply(200, self.headers["X-Test"].encode() + b":" + body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def web() -> Iterator[_Web]:
    server = _Web()
    yield server
    server.close()


@pytest.fixture
def server(spacetimedb_local_server: ServerFactory) -> LocalServer:
    return spacetimedb_local_server({DB: MODULE})


def call(server: LocalServer, function: str, *args: Any, token: str | None = None) -> Any:
    """``POST …/call/<function>`` that must succeed; the JSON answer (None when empty)."""
    return http_json("POST", f"{server.url}/v1/database/{DB}/call/{function}", list(args), token)


def sql(server: LocalServer, query: str) -> list[list[Any]]:
    status, _, data = http_request(
        "POST", f"{server.url}/v1/database/{DB}/sql", query,
        {"Authorization": f"Bearer {server.owner_token}"},
    )  # fmt: skip
    assert status == 200, data
    rows: list[list[Any]] = json.loads(data)[0]["rows"]
    return rows


def run(main: Any) -> None:
    asyncio.run(asyncio.wait_for(main(), 60))


# ============================================================================ ctx.http


def test_http_requests_reach_a_local_server(server: LocalServer, web: _Web) -> None:
    assert call(server, "fetch", f"{web.url}/hello") == "200 hi"
    # Any status is a response; only a transport failure is an HttpError.
    assert call(server, "fetch", f"{web.url}/missing") == "404 nope"
    assert call(server, "post_echo", f"{web.url}/echo", "payload") == "200 yes:payload"
    closed = f"http://127.0.0.1:{free_port()}/"
    failure = call(server, "fetch", closed)
    assert failure.startswith(f"failed: error sending request for url ({closed})"), failure


def test_no_http_request_or_nested_transaction_inside_a_transaction(
    server: LocalServer, web: _Web
) -> None:
    """As on the real server: a blocking call while the procedure holds its transaction open is
    refused (the database thread would wait on itself)."""
    assert call(server, "http_in_tx", f"{web.url}/hello") == (
        "ABI call not allowed while holding open a transaction: ProcedureHttpRequest / "
        "ABI call not allowed while holding open a transaction: ProcedureStartMutTransaction"
    )


def test_a_procedure_waiting_on_http_leaves_the_database_free(
    server: LocalServer, web: _Web
) -> None:
    answer: list[Any] = []
    caller = threading.Thread(
        target=lambda: answer.append(call(server, "fetch", f"{web.url}/slow"))
    )
    caller.start()
    try:
        assert web.slow_arrived.wait(10)
        call(server, "add_event", "meanwhile")  # the database is not waiting for the procedure
        assert not web.slow_answered.is_set() and not answer
    finally:
        web.release.set()
        caller.join(10)
    assert answer == ["200 slow done"]
    assert [row[1] for row in sql(server, "SELECT * FROM event")] == ["meanwhile"]


# ============================================================================ interleaving


def test_a_clients_later_calls_do_not_wait_for_its_procedure(server: LocalServer) -> None:
    """As on the real server, a procedure is started in request order and runs alongside the
    same client's later reducer calls, which are answered in their own order first."""
    schema = server.runtime(DB).database.schema

    async def main() -> None:
        client = await RawClient.connect(server.ws_url, DB)
        await client.send(
            CallProcedureMsg(1, 0, "wait_then_add", encode_args(schema, "wait_then_add", 300, "p")),
            CallReducerMsg(2, 0, "add_event", encode_args(schema, "add_event", "r1")),
            CallReducerMsg(3, 0, "add_event", encode_args(schema, "add_event", "r2")),
        )
        first = await client.expect(ReducerResultMsg)
        second = await client.expect(ReducerResultMsg)
        assert [first.request_id, second.request_id] == [2, 3]
        assert isinstance(first.result, ReducerOk) and isinstance(second.result, ReducerOk)
        done = await client.expect(ProcedureResultMsg)
        assert done.request_id == 1 and isinstance(done.status, Returned)
        # A procedure's result carries its start and how long it ran (it waited 300 ms).
        assert done.total_host_execution_duration.micros >= 300_000
        await client.close()

    run(main)
    events = [row[1] for row in sorted(sql(server, "SELECT * FROM event"))]
    assert events.index("r1") < events.index("r2") < events.index("p-after")
    assert sorted(events) == ["p-after", "p-before", "r1", "r2"]


def test_stopping_the_server_ends_a_waiting_procedure(tmp_path: Path) -> None:
    server = LocalServer({DB: MODULE})
    server.start_in_thread()
    schema = server.runtime(DB).database.schema

    async def main() -> None:
        client = await RawClient.connect(server.ws_url, DB)
        args = encode_args(schema, "wait_then_add", 60_000, "long")
        await client.send(CallProcedureMsg(1, 0, "wait_then_add", args))
        for _ in range(100):  # until the procedure is waiting
            if server.runtime(DB).database.table("event").count():
                break
            await asyncio.sleep(0.05)
        await client.close()

    run(main)
    started = time.monotonic()
    server.stop_thread()
    assert time.monotonic() - started < 10


# ============================================================================ sender_auth


def _payload(token: str) -> str:
    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()


def test_calls_see_the_callers_token_claims(server: LocalServer) -> None:
    created = http_json("POST", f"{server.url}/v1/identity")
    token = created["token"]
    claims = json.loads(_payload(token))
    schema = server.runtime(DB).database.schema

    async def main() -> None:
        client = await RawClient.connect(server.ws_url, DB, token=token)
        await client.send(
            CallReducerMsg(1, 0, "record_claims", encode_args(schema, "record_claims"))
        )
        assert isinstance((await client.expect(ReducerResultMsg)).result, ReducerOk)
        await client.send(
            CallProcedureMsg(2, 0, "record_claims_proc", encode_args(schema, "record_claims_proc"))
        )
        assert isinstance((await client.expect(ProcedureResultMsg)).status, Returned)
        await client.close()

    run(main)
    call(server, "record_claims", token=token)
    call(server, "schedule_claims", token=token)
    for _ in range(100):
        rows = sql(server, "SELECT * FROM claims")
        if len(rows) == 4:
            break
        time.sleep(0.05)
    by_kind = {(row[1], row[2], row[3], row[4], row[5]) for row in rows}
    mine = (False, claims["sub"], claims["iss"], _payload(token))
    assert by_kind == {
        ("reducer", *mine),
        ("procedure", *mine),
        ("scheduled", True, "", "", ""),  # the database's own call: internal, no token
    }
    assert len(rows) == 4  # the reducer over WebSocket and over HTTP


# ============================================================================ UUIDs


def test_uuid_v7_from_a_reducer_increase_within_the_transaction(server: LocalServer) -> None:
    call(server, "mint_uuids", 200)
    rows = sorted(sql(server, "SELECT * FROM minted"))
    ids = [uuid.UUID(int=row[1][0]) for row in rows]  # a Uuid is a product of one u128
    assert len(ids) == 201
    v7, v4 = ids[:-1], ids[-1]
    assert [u.version for u in v7] == [7] * 200 and v4.version == 4
    assert all(a < b for a, b in itertools.pairwise(v7)), "v7 UUIDs out of order"
    # The first 48 bits are the reducer's timestamp in milliseconds.
    millis = {u.int >> 80 for u in v7}
    assert len(millis) == 1 and abs(millis.pop() - time.time() * 1000) < 60_000


# ============================================================================ module logs


def _logs(server: LocalServer, query: str = "", token: str | None = None) -> Any:
    token = server.owner_token if token is None else token
    return http_request(
        "GET", f"{server.url}/v1/database/{DB}/logs{query}",
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip


def test_module_logs_are_served_to_the_owner(server: LocalServer) -> None:
    before = time.time()
    call(server, "say", "hello")
    status, _, _ = http_request(
        "POST", f"{server.url}/v1/database/{DB}/call/fail_loudly", "[]",
        {"Content-Type": "application/json"},
    )  # fmt: skip
    assert status == 530
    status, headers, body = _logs(server)
    assert status == 200
    assert headers["content-type"] == "application/x-ndjson"
    assert headers["cache-control"] == "no-cache"
    lines = [json.loads(line) for line in body.decode().splitlines()]
    said = next(line for line in lines if line.get("function") == "say")
    assert said["level"] == "Warn" and said["message"] == "said hello"
    assert said["target"] == "procedure_host" and said["filename"].endswith("procedure_host.py")
    assert isinstance(said["line_number"], int)
    assert before * 1e6 - 1e6 <= said["ts"] <= time.time() * 1e6 + 1e6
    assert list(said) == ["level", "ts", "target", "filename", "line_number", "function", "message"]
    failed = lines[-1]
    assert (failed["level"], failed["function"], failed["message"]) == (
        "Error", "fail_loudly", "ValueError: no luck",
    )  # fmt: skip
    status, _, body = _logs(server, "?num_lines=1")
    assert [json.loads(line) for line in body.decode().splitlines()] == [failed]


def test_module_logs_refuse_others_and_bad_queries(server: LocalServer) -> None:
    other = http_json("POST", f"{server.url}/v1/identity")
    status, _, body = _logs(server, token=other["token"])
    database = server.runtime(DB).identity.to_hex()
    assert (status, body.decode()) == (
        403,
        f"{other['identity']} is not authorized to perform action on database {database}: "
        "view module logs",
    )
    status, _, body = _logs(server, "?num_lines=many")
    assert status == 400 and body.decode().startswith("Failed to deserialize query string")
    status, _, body = _logs(server, "?follow=yes")
    assert status == 400 and body.decode().startswith("Failed to deserialize query string")


def test_following_module_logs_streams_new_lines(server: LocalServer) -> None:
    call(server, "say", "old")

    async def main() -> None:
        headers = {"Authorization": f"Bearer {server.owner_token}"}
        url = f"{server.url}/v1/database/{DB}/logs?follow=true&num_lines=1"
        async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
            assert resp.status == 200
            first = json.loads(await resp.content.readline())
            assert first["message"] == "said old"
            await asyncio.to_thread(call, server, "say", "new")
            second = json.loads(await asyncio.wait_for(resp.content.readline(), 10))
            assert second["message"] == "said new"

    run(main)
