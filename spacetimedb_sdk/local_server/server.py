"""``LocalServer``: host Python modules behind a SpacetimeDB-compatible HTTP + WebSocket API.

Three ways to run it::

    # in the current event loop
    async with LocalServer({"chat": "server/"}) as url:
        ...

    # in a background thread (blocking code, pytest)
    with LocalServer({"chat": "server/"}, port=0) as url:
        ...

    # from the command line, in the foreground
    spacetimedb-sdk serve --port 3000 --data-dir data chat=server/

``url`` is the HTTP base URL (``http://127.0.0.1:<port>``); clients derive ``ws://`` from it.
With ``data_dir`` every commit is durable and the signing key is kept in ``data_dir``, so
tokens and data survive a restart; without it everything lives in memory.

The database owner is a fixed identity whose token :attr:`LocalServer.owner_token` provides
(it sees private tables, may run SQL DML and call private reducers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Final

from aiohttp import web

from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.local_server.app import build_app
from spacetimedb_sdk.local_server.auth import JwtKeys, TokenIssuer
from spacetimedb_sdk.local_server.database_address import is_valid_database_name
from spacetimedb_sdk.local_server.database_runtime import DatabaseRuntime
from spacetimedb_sdk.local_server.server_state import ServerState
from spacetimedb_sdk.local_server.websocket_session import SessionConfig

__all__ = ["OWNER_SUBJECT", "LocalServer", "ModuleSource"]

log = logging.getLogger("spacetimedb_sdk.local_server")

#: Subject of the owner's token (with the local issuer it gives a stable owner identity).
OWNER_SUBJECT: Final = "spacetimedb-sdk-local-owner"
#: A module: a ``.py`` file, a package directory, or an imported module object.
ModuleSource = str | os.PathLike[str] | ModuleType

_STOP_TIMEOUT: Final = 10.0
#: How long stopping waits for HTTP requests in progress (aiohttp's default is a minute).
_HTTP_SHUTDOWN_TIMEOUT: Final = 5.0


class LocalServer:
    """Serves one or more databases (``{name: module}``) on one port."""

    def __init__(
        self,
        databases: Mapping[str, ModuleSource],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: str | os.PathLike[str] | None = None,
        session_config: SessionConfig | None = None,
    ) -> None:
        for name in databases:
            if not is_valid_database_name(name):
                raise ValueError(
                    f"invalid database name {name!r}: use lowercase letters, digits and "
                    "single inner hyphens"
                )
        if not databases:
            raise ValueError("a LocalServer needs at least one database")
        self.modules = dict(databases)
        self.host = host
        self._requested_port = port
        self.data_dir = Path(data_dir) if data_dir is not None else None
        keys = JwtKeys.load_or_create(self.data_dir) if self.data_dir is not None else None
        self.issuer = TokenIssuer(keys)
        claims, self.owner_token = self.issuer.mint(OWNER_SUBJECT)
        #: The identity that owns every hosted database.
        self.owner_identity: Identity = claims.identity
        self.state = ServerState(self.issuer, session_config or SessionConfig())
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # ============================================================================ addresses
    @property
    def port(self) -> int:
        """The bound port (known once started)."""
        if self._port is None:
            raise RuntimeError("the server is not running")
        return self._port

    @property
    def url(self) -> str:
        """The HTTP base URL, e.g. ``http://127.0.0.1:3000``."""
        return f"http://{self._url_host}:{self.port}"

    @property
    def ws_url(self) -> str:
        """The WebSocket base URL, e.g. ``ws://127.0.0.1:3000``."""
        return f"ws://{self._url_host}:{self.port}"

    @property
    def _url_host(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"[{host}]" if ":" in host else host

    def runtime(self, name: str) -> DatabaseRuntime:
        """The running database ``name`` (its ``database`` must only be touched on its
        worker thread; prefer the HTTP/WebSocket API)."""
        return self.state.databases[name]

    # ============================================================================ asyncio API
    async def start(self) -> str:
        """Open the databases and start listening; returns :attr:`url`."""
        if self._runner is not None:
            raise RuntimeError("the server is already running")
        try:
            for name, module in self.modules.items():
                data_dir = None
                if self.data_dir is not None:
                    data_dir = self.data_dir / "databases" / name
                    data_dir.mkdir(parents=True, exist_ok=True)
                runtime = await DatabaseRuntime.open(
                    name,
                    module if isinstance(module, ModuleType) else Path(module),
                    data_dir=data_dir,
                    owner=self.owner_identity,
                )
                self.state.databases[name] = runtime
                runtime.start()
            runner = web.AppRunner(
                build_app(self.state),
                handle_signals=False,
                access_log=None,
                shutdown_timeout=_HTTP_SHUTDOWN_TIMEOUT,
            )
            await runner.setup()
            self._runner = runner
            site = web.TCPSite(runner, self.host, self._requested_port)
            await site.start()
            self._port = _bound_port(runner, self._requested_port)
        except BaseException:
            await self._close_databases()
            if self._runner is not None:
                await self._runner.cleanup()
                self._runner = None
            raise
        log.info("local SpacetimeDB server listening on %s", self.url)
        return self.url

    async def stop(self) -> None:
        """Close every WebSocket (1001 ``module exited``), finish in-flight work, flush data."""
        runner = self._runner
        if runner is None:
            return
        state = self.state
        state.stopping = True
        for runtime in state.databases.values():
            runtime.begin_shutdown()  # requests not yet started are dropped, so stopping is quick
        for session in list(state.sessions):
            session.shutdown()
        deadline = time.monotonic() + _STOP_TIMEOUT
        while state.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await runner.cleanup()
        self._runner = None
        await self._close_databases()
        state.stopping = False

    async def _close_databases(self) -> None:
        for runtime in list(self.state.databases.values()):
            try:
                await runtime.close()
            except Exception:
                log.exception("closing database %s failed", runtime.name)
        self.state.databases.clear()

    async def __aenter__(self) -> str:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ============================================================================ thread API
    def start_in_thread(self) -> str:
        """Run the server on its own event loop in a daemon thread; returns :attr:`url`."""
        if self._thread is not None:
            raise RuntimeError("the server is already running")
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                failure.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            try:
                loop.run_forever()
            finally:
                with contextlib.suppress(Exception):
                    loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=main, name="spacetimedb-local-server", daemon=True)
        thread.start()
        started.wait()
        if failure:
            thread.join()
            raise failure[0]
        self._loop, self._thread = loop, thread
        return self.url

    def stop_thread(self, timeout: float = 30.0) -> None:
        """Stop a server started with :meth:`start_in_thread` and join its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            self._loop = self._thread = None

    def __enter__(self) -> str:
        return self.start_in_thread()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_thread()


def _bound_port(runner: web.AppRunner, requested: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return requested
