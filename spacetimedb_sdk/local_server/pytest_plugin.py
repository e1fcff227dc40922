"""pytest fixtures for testing against the local server.

Enable in a ``conftest.py`` with ``pytest_plugins = ["spacetimedb_sdk.local_server.pytest_plugin"]``
(or import the fixture into a test module), then::

    def test_chat(spacetimedb_local_server):
        server = spacetimedb_local_server({"chat": "server/"})
        # server.url == "http://127.0.0.1:<port>", server.ws_url, server.owner_token

Every server the factory starts runs in a background thread and is stopped (WebSockets closed,
data flushed) when the test ends. Keyword arguments go to
:class:`~spacetimedb_sdk.local_server.server.LocalServer` (``data_dir=``, ``session_config=``,
``port=``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from spacetimedb_sdk.local_server.server import LocalServer, ModuleSource

__all__ = ["ServerFactory", "spacetimedb_local_server"]

#: ``factory({name: module}, **LocalServer options) -> started LocalServer``.
ServerFactory = Callable[..., LocalServer]


@pytest.fixture
def spacetimedb_local_server() -> Iterator[ServerFactory]:
    """A factory of started local servers, each stopped at the end of the test."""
    servers: list[LocalServer] = []

    def start(databases: Mapping[str, ModuleSource], **options: Any) -> LocalServer:
        server = LocalServer(databases, **options)
        server.start_in_thread()
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        server.stop_thread()
