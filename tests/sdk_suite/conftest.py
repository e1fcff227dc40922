"""Fixtures of the official SDK test suite's port.

* One local-server process per test module for the whole session (started on first use),
  serving the module's port from ``tests/sdk_suite/modules`` as one database.
* Bindings generated once per module and session by our generator, from the running server
  (``spacetimedb-sdk generate --lang python --server URL --database NAME``) into a temporary
  directory, imported as ``sdk_suite_<module>_bindings``.
* ``driver``: ``threaded`` or ``asyncio`` (see :class:`tests.sdk_suite.harness.Scenario`).
* Each scenario starts on an empty database (see :meth:`HostedModule.reset`) and its
  connections are closed after it.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from spacetimedb_sdk.codegen import dynamic
from tests.sdk_suite.harness import Driver, HostedModule
from tests.server_process import free_port

MODULES = Path(__file__).resolve().parent / "modules"

#: Module port name -> its database name (the official module names).
DATABASES = {
    "sdk_test": "sdk-test",
    "sdk_test_connect_disconnect": "sdk-test-connect-disconnect",
    "sdk_test_event_table": "sdk-test-event-table",
    "sdk_test_procedure": "sdk-test-procedure",
    "sdk_test_procedure_concurrency": "sdk-test-procedure-concurrency",
    "sdk_test_view": "sdk-test-view",
    "sdk_test_view_pk": "sdk-test-view-pk",
    "sdk_test_procedural_view_pk": "sdk-test-procedural-view-pk",
    "sdk_test_case_conversion": "sdk-test-case-conversion",
}


#: Modules with more tables than this get a watcher (see HostedModule.reset); smaller ones
#: are emptied table by table (and a watcher's own connection would show in the tables that
#: lifecycle reducers write, as sdk-test-connect-disconnect's do).
_WATCH_ABOVE = 20


#: Modules whose scenarios each get a database of their own, never used before: emptying
#: one over SQL is not enough when the module's lifecycle reducers record connections
#: (``/sql`` requests connect too, as on the real server). Module -> scenario runs.
_FRESH = {
    "sdk_test_connect_disconnect": 2,
    # Auto-incremented ids must start at 1 (test_query_view adds a person for player 1).
    "sdk_test_case_conversion": 6,
    # Each starts with no schedule rows, as on a new database (scheduled_proc repeats every
    # second for as long as its row lives).
    "sdk_test_procedure": 10,
    "sdk_test_procedure_concurrency": 6,
}


class _ModuleServer:
    """``python -m spacetimedb_sdk serve NAME=PATH`` in its own process (its own core)."""

    def __init__(self, module: str, log_dir: Path, spares: int = 0) -> None:
        self.database = DATABASES[module]
        #: Extra databases of the same module, each used by one scenario only.
        self.spares = [f"{self.database}-fresh-{i}" for i in range(1, spares + 1)]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{module}.log"
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "spacetimedb_sdk", "serve", "--port", str(self.port)),
                    *("--log-level", "warning", f"{self.database}={MODULES / module}.py"),
                    *(f"{name}={MODULES / module}.py" for name in self.spares),
                ],
                stdout=subprocess.PIPE,
                stderr=log,  # a file: an unread pipe could fill up and block the server
                text=True,
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("Serving "):
            self.stop()
            raise RuntimeError(f"{module} did not start: {self.log_path.read_text()[-3000:]}")
        token_line = self.proc.stdout.readline()
        self.owner_token = token_line.split(":", 1)[1].strip()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(20)


def _generate(server: _ModuleServer, module: str, out_root: Path) -> Any:
    """Generate the module's bindings from the running server and import them."""
    package = f"sdk_suite_{module}_bindings"
    out_dir = out_root / package
    result = subprocess.run(
        [
            *(sys.executable, "-m", "spacetimedb_sdk", "generate", "--lang", "python"),
            *("--out-dir", str(out_dir), "--server", server.url, "--database", server.database),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"generating {module}'s bindings failed: {result.stderr}")
    if str(out_root) not in sys.path:
        sys.path.insert(0, str(out_root))
    return importlib.import_module(package)


def _watcher(module: HostedModule) -> Any:
    """An owner connection subscribed to every persistent table (see HostedModule.reset);
    dynamic mode builds its classes from the server's schema, private tables included."""
    conn: Any = dynamic.connect(module.url, module.database, token=module.owner_token).build()
    conn.run_threaded()
    queries = [f"SELECT * FROM {t}" for t in module.tables]
    conn.subscription_builder().subscribe(queries).applied.result(60)
    return conn


@pytest.fixture(scope="session")
def hosted_module(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[str], HostedModule]]:
    """``hosted_module("sdk_test")``: the module's session-wide database (started once)."""
    root = tmp_path_factory.mktemp("sdk_suite")
    servers: dict[str, _ModuleServer] = {}
    hosted: dict[str, HostedModule] = {}

    def get(module: str) -> HostedModule:
        if module in hosted:
            return hosted[module]
        server = servers[module] = _ModuleServer(module, root, _FRESH.get(module, 0))
        bindings = _generate(server, module, root / "bindings")
        schema = dynamic.fetch_module(server.url, server.database).schema
        tables = sorted(t.name for t in schema.tables if not t.is_event)
        entry = HostedModule(
            name=module, url=server.url, database=server.database,
            owner_token=server.owner_token, bindings=bindings, tables=tables,
            spares=list(server.spares),
        )  # fmt: skip
        if len(tables) > _WATCH_ABOVE:
            entry.watcher = _watcher(entry)
        hosted[module] = entry
        return entry

    yield get
    for entry in hosted.values():
        if entry.watcher is not None:
            entry.watcher.disconnect()
    for server in servers.values():
        server.stop()


@pytest.fixture
def driver() -> Driver:
    """The threaded driver, unless a test parametrizes ``driver`` (both, or asyncio)."""
    return "threaded"
