"""The package's structure: no import cycles between its modules (imports inside functions
count; those under ``if TYPE_CHECKING:`` do not), production code never imports a testing
module, the client never imports the local server, the module API or the code generator, the
asyncio driver does not load the threaded one, and no class name is defined twice without a
stated reason."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT

PACKAGE = "spacetimedb_sdk"
#: Modules that exist to help tests; production code must not depend on them.
TESTING_MODULES = {"spacetimedb_sdk.client.testing", "spacetimedb_sdk.local_server.pytest_plugin"}
#: The client's layers (what a client program loads).
CLIENT_PREFIXES = ("spacetimedb_sdk.client", "spacetimedb_sdk.core", "spacetimedb_sdk.sync")
SERVER_SIDE = ("spacetimedb_sdk.local_server", "spacetimedb_sdk.module", "spacetimedb_sdk.codegen")


def _modules() -> dict[str, Path]:
    root = Path(REPO_ROOT, PACKAGE)
    found: dict[str, Path] = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package modules ``module`` imports at run time (at any depth of its code)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for name in names:
            if name in known and name != module:
                out.add(name)
    return out


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {module: _imports(module, path, known) for module, path in known.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iteratively).

    Edges into a package's ``__init__`` are left out: importing ``a.b`` runs ``a/__init__``
    first, which commonly re-exports from ``a.b`` -- that is how packages work, not a cycle
    between two concepts."""
    packages = {m for m in graph if Path(REPO_ROOT, *m.split(".")).is_dir()}
    edges = {m: sorted(t for t in targets if t not in packages) for m, targets in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = edges[node]
            if child < len(targets):
                work.append((node, child + 1))
                target = targets[child]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def test_no_import_cycles_in_the_package() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_production_code_never_imports_a_testing_module() -> None:
    offenders = [
        f"{module} -> {target}"
        for module, targets in _graph().items()
        if module not in TESTING_MODULES
        for target in targets & TESTING_MODULES
    ]
    assert offenders == []


def test_the_client_never_imports_the_server_side() -> None:
    offenders = [
        f"{module} -> {target}"
        for module, targets in _graph().items()
        if module.startswith(CLIENT_PREFIXES) or module.startswith("spacetimedb_sdk.asyncio")
        for target in targets
        if target.startswith(SERVER_SIDE)
    ]
    assert offenders == []


def test_each_driver_loads_only_its_own_websocket_flavour() -> None:
    # The asyncio driver once borrowed helpers from the threaded one, loading websockets.sync.
    probe = (
        "import sys, spacetimedb_sdk.asyncio.connection, spacetimedb_sdk.client; "
        "print(sorted(m for m in sys.modules if m.startswith(('websockets.sync', "
        "'spacetimedb_sdk.sync'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    assert result.stdout.strip() == "[]"


#: Class names defined in more than one module, each allowed for a stated reason; any other
#: repeat fails, so a wire message, an event and an error can never share a name again.
SHARED_CLASS_NAMES: dict[str, set[str]] = {
    # The 0.7 contract: `spacetimedb_client.ReducerEvent` keeps its name; the modern event
    # is the official SDKs' name.
    "ReducerEvent": {"spacetimedb_sdk.core.events", "spacetimedb_sdk.legacy.messages"},
    # The modern client event (the official SDKs' name) and the datastore's transaction in
    # the local server, which the client never imports.
    "Transaction": {"spacetimedb_sdk.core.events", "spacetimedb_sdk.local_server.datastore"},
    # One concept seen from the client and from the module/server side (separate
    # subpackages the client never imports): the API each side's users know by this name.
    "BTreeIndex": {"spacetimedb_sdk.client.table", "spacetimedb_sdk.local_server.indexes"},
    "UniqueIndex": {"spacetimedb_sdk.client.table", "spacetimedb_sdk.local_server.indexes"},
    "TableHandle": {"spacetimedb_sdk.client.table", "spacetimedb_sdk.local_server.table_handles"},
    "TableDelta": {"spacetimedb_sdk.core.table_cache", "spacetimedb_sdk.local_server.tx_delta"},
    "Range": {"spacetimedb_sdk.client.table", "spacetimedb_sdk.module.ranges"},
    "Col": {"spacetimedb_sdk.client.query", "spacetimedb_sdk.module.query"},
    "QueryBuilder": {"spacetimedb_sdk.client.query", "spacetimedb_sdk.module.query"},
    # Query conditions: the client's typed query builder and the local server's SQL tree.
    "And": {"spacetimedb_sdk.client.query", "spacetimedb_sdk.local_server.sql.ast"},
    "Or": {"spacetimedb_sdk.client.query", "spacetimedb_sdk.local_server.sql.ast"},
    "Query": {"spacetimedb_sdk.local_server.sql.ast", "spacetimedb_sdk.module.query"},
    # The raw module definition's `Lifecycle` enum is the wire format's name; bsatn's
    # `Validator` checks bytes, the schema's is `SchemaValidator`.
}


def _class_names() -> dict[str, set[str]]:
    where: dict[str, set[str]] = {}
    for module, path in _modules().items():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                where.setdefault(node.name, set()).add(module)
    return where


def test_a_class_name_means_one_thing() -> None:
    repeated = {name: mods for name, mods in _class_names().items() if len(mods) > 1}
    unexplained = {n: sorted(m) for n, m in repeated.items() if SHARED_CLASS_NAMES.get(n) != m}
    assert not unexplained, f"class names defined in several modules: {unexplained}"
    stale = sorted(set(SHARED_CLASS_NAMES) - set(repeated))
    assert not stale, f"SHARED_CLASS_NAMES lists names no longer repeated: {stale}"
