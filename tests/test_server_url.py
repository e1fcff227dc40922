"""The one home of server addresses and the schema fetch (spacetimedb_sdk.server_url): every
caller (the client's with_uri, the 0.7 layer's host, the generator's --server) gets the same
parsing, the same version fallback rule and the same typed errors."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from spacetimedb_sdk.legacy.bindings import fetch_schema
from spacetimedb_sdk.server_url import (
    SchemaFetchError,
    ServerUrlError,
    fetch_schema_json,
    parse_server_url,
)


def test_addresses() -> None:
    assert parse_server_url("localhost:3000/").http == "http://localhost:3000"
    assert parse_server_url("localhost:3000", default_scheme="ws").ws == "ws://localhost:3000"
    assert parse_server_url("WSS://h/base/").http == "https://h/base"
    assert parse_server_url("https://h").ws == "wss://h"
    assert parse_server_url("ws://h:1").with_tls().as_given == "wss://h:1"
    with pytest.raises(ServerUrlError, match="scheme 'ftp'"):
        parse_server_url("ftp://h")
    with pytest.raises(ValueError, match="empty"):
        parse_server_url("  ")


@contextmanager
def schema_server(statuses: dict[str, int]) -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server answering ``version=N`` with ``statuses["N"]`` (a tiny schema body
    with 200); yields its URL and the versions asked for, in order."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            version = self.path.rpartition("version=")[2]
            asked.append(version)
            status = statuses.get(version, 404)
            body = b'{"typespace": {"types": []}}' if status == 200 else b"nope"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            del format, args

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_version_9_is_asked_only_after_a_4xx() -> None:
    with schema_server({"10": 400, "9": 200}) as (url, asked):
        _, _, version = fetch_schema_json(parse_server_url(url), "db", timeout=5)
    assert version == 9 and asked == ["10", "9"]


@pytest.mark.parametrize("status", [500, 503])
def test_a_server_error_is_not_retried_with_version_9(status: int) -> None:
    with (
        schema_server({"10": status, "9": 200}) as (url, asked),
        pytest.raises(SchemaFetchError) as caught,
    ):
        fetch_schema_json(parse_server_url(url), "db", timeout=5)
    assert caught.value.status == status and asked == ["10"]


def test_the_0_7_layer_follows_the_same_rule_with_typed_errors() -> None:
    # It used to retry with version=9 after any HTTP error and raise urllib's HTTPError.
    with (
        schema_server({"10": 500, "9": 200}) as (url, asked),
        pytest.raises(SchemaFetchError, match="HTTP 500"),
    ):
        fetch_schema(url, "db", timeout=5)
    assert asked == ["10"]
    with (
        schema_server({"10": 404, "9": 404}) as (url, _),
        pytest.raises(SchemaFetchError, match="database 'db' not found") as caught,
    ):
        fetch_schema(url, "db", timeout=5)
    assert caught.value.status == 404


def test_an_unreachable_server_is_a_schema_fetch_error_with_its_cause() -> None:
    with schema_server({}) as (url, _):
        pass  # closed again: nothing listens on its port now
    with pytest.raises(SchemaFetchError, match="cannot reach server") as caught:
        fetch_schema(url, "db", timeout=5)
    assert isinstance(caught.value.__cause__, OSError)
