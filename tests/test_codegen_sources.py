"""Where ``generate`` gets a module def from: files, a server, compiled modules (.wasm via
wasmtime, .js via node) and project directories."""

from __future__ import annotations

import http.server
import json
import os
import stat
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from spacetimedb_sdk.codegen.errors import CodegenError
from spacetimedb_sdk.codegen.extract_project import extract_project_module_def
from spacetimedb_sdk.codegen.extract_server import fetch_module_def, normalise_server_url
from spacetimedb_sdk.codegen.source import load_module_def_file, module_def_from_bytes
from spacetimedb_sdk.local_server.pytest_plugin import ServerFactory, spacetimedb_local_server
from spacetimedb_sdk.raw_module_def import RawModuleDefV9, RawModuleDefV10, raw_module_def_to_json
from spacetimedb_sdk.schema import ModuleSchema
from tests.codegen_support import CHAT_BSATN, CHAT_JSON, fixture_json
from tests.conftest import REPO_ROOT

__all__ = ["spacetimedb_local_server"]

CHAT_MODULE = REPO_ROOT / "server"
GAME_MODULE = REPO_ROOT / "tests" / "local_server_modules" / "game.py"
CHAT_SCHEMA = ModuleSchema.from_json(CHAT_JSON.read_text())


# ========================================================================= module def files


@pytest.mark.parametrize("wrapped", [True, False], ids=["wrapped", "bare"])
def test_json_forms_and_bsatn_read_the_same_module(tmp_path: Path, wrapped: bool) -> None:
    raw = load_module_def_file(CHAT_BSATN).raw
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(raw_module_def_to_json(raw, wrapped=wrapped)))
    source = load_module_def_file(path)
    assert source.raw == raw
    # A module's own output carries a CaseConversionPolicy section: not canonical either way.
    assert source.canonical is False
    assert source.schema == CHAT_SCHEMA


def test_v9_and_server_v10_bodies_are_read_as_canonical(tmp_path: Path) -> None:
    for version, body in ((10, CHAT_SCHEMA.to_raw_v10()), (9, CHAT_SCHEMA.to_raw_v9())):
        path = tmp_path / f"chat.v{version}.json"
        path.write_text(json.dumps(raw_module_def_to_json(body, wrapped=False)))
        source = load_module_def_file(path)
        assert isinstance(source.raw, RawModuleDefV10 if version == 10 else RawModuleDefV9)
        assert source.canonical is True
        assert {t.name for t in source.schema.tables} == {"user", "message"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\x07garbage", "not a module definition"),
        (b"\x02\x01\x00", "not a module definition"),
        (b"{not json", "not valid JSON"),
        (b'{"V11": {}}', "not a module definition"),
        (b'{"V8BackCompat": {}}', "V8BackCompat"),
        (b'{"hello": 1}', "not a module definition"),
        (b"[1, 2]", "not a module definition"),
    ],
    ids=["empty", "bad-tag", "truncated", "bad-json", "unknown-version", "v8", "not-a-def", "list"],
)
def test_bad_module_def_bytes_are_one_clear_error(content: bytes, message: str) -> None:
    with pytest.raises(CodegenError, match=message):
        module_def_from_bytes(content, origin="module def file x", name="x")


# ============================================================================== server


def test_server_url_forms() -> None:
    assert normalise_server_url("localhost:3000/") == "http://localhost:3000"
    assert normalise_server_url("ws://h:1") == "http://h:1"
    assert normalise_server_url("wss://h") == "https://h"
    with pytest.raises(CodegenError, match="scheme"):
        normalise_server_url("ftp://h")


def test_fetch_from_the_local_server(spacetimedb_local_server: ServerFactory) -> None:
    server = spacetimedb_local_server({"chat": CHAT_MODULE})
    source = fetch_module_def(server.url, "chat")
    assert source.version == 10 and source.canonical
    assert source.origin == f"database chat at {server.url}"
    tables = {t.name: t for t in source.schema.tables}
    assert set(tables) == {"user", "message"}
    assert tables["user"].primary_key_column is not None
    assert {r.name for r in source.schema.reducers} >= {"set_name", "send_message"}
    with pytest.raises(CodegenError, match="database 'nope' not found"):
        fetch_module_def(server.url, "nope")


class _SchemaHandler(http.server.BaseHTTPRequestHandler):
    """Serves one canned answer per ``version`` query; remembers request headers."""

    answers: ClassVar[dict[str, tuple[int, bytes]]] = {}
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        version = self.path.rsplit("version=", 1)[-1]
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        status, body = type(self).answers.get(version, (400, b"bad version"))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fake_server() -> Iterator[tuple[str, type[_SchemaHandler]]]:
    handler = type("Handler", (_SchemaHandler,), {"answers": {}, "seen": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_fetch_falls_back_to_version_9(fake_server: tuple[str, type[_SchemaHandler]]) -> None:
    url, handler = fake_server
    v9 = json.dumps(raw_module_def_to_json(CHAT_SCHEMA.to_raw_v9(), wrapped=False)).encode()
    handler.answers = {"10": (400, b"unknown version `10`"), "9": (200, v9)}
    source = fetch_module_def(url, "chat", token="secret")
    assert source.version == 9 and source.canonical
    assert [p for p, _ in handler.seen] == [
        "/v1/database/chat/schema?version=10",
        "/v1/database/chat/schema?version=9",
    ]
    assert all(auth == "Bearer secret" for _, auth in handler.seen)
    assert {t.name for t in source.schema.tables} == {"user", "message"}


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"10": (404, b"`x` not found"), "9": (404, b"`x` not found")}, "database 'x' not found"),
        ({"10": (500, b"boom")}, "answered HTTP 500"),
        ({"10": (200, b"<html>")}, "not JSON"),
        ({"10": (200, b'{"sections": [{"Nope": 1}]}')}, "invalid module definition"),
    ],
    ids=["unknown-database", "server-error", "not-json", "bad-def"],
)
def test_server_failures(
    fake_server: tuple[str, type[_SchemaHandler]],
    answers: dict[str, tuple[int, bytes]],
    message: str,
) -> None:
    url, handler = fake_server
    handler.answers = answers
    with pytest.raises(CodegenError, match=message):
        fetch_module_def(url, "x")


def test_unreachable_server() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(CodegenError, match="cannot reach server"):
        fetch_module_def(f"http://127.0.0.1:{port}", "chat", timeout=5)


# ================================================================================= wasm


def chat_wat(
    data: bytes,
    *,
    describe: str | None = None,
    extra_imports: str = "",
    exports_describe: bool = True,
) -> str:
    """A hand-written module following the describe sequence of docs/module-def.md#webassembly: two
    ``__preinit__`` functions that must run in name order, then ``__describe_module__``
    writing ``data`` to the sink in two chunks."""
    escaped = "".join(f"\\{b:02x}" for b in data)
    half = len(data) // 2
    body = (
        describe
        or f"""
    (if (i32.ne (global.get $stage) (i32.const 2)) (then unreachable))
    (i32.store (i32.const 0) (i32.const {half}))
    (if (call $sink_write (local.get $sink) (i32.const 1024) (i32.const 0)) (then unreachable))
    (i32.store (i32.const 0) (i32.const {len(data) - half}))
    (if (call $sink_write (local.get $sink) (i32.const {1024 + half}) (i32.const 0))
      (then unreachable))"""
    )
    describe_export = '(export "__describe_module__")' if exports_describe else ""
    return f"""
(module
  (import "spacetime_10.0" "bytes_sink_write" (func $sink_write (param i32 i32 i32) (result i32)))
  (import "spacetime_10.0" "console_log"
    (func $console_log (param i32 i32 i32 i32 i32 i32 i32 i32)))
  (import "spacetime_10.0" "datastore_insert_bsatn" (func $insert (param i32 i32 i32) (result i32)))
  (import "spacetime_10.1" "bytes_source_remaining_length"
    (func $remaining (param i32 i32) (result i32)))
  {extra_imports}
  (memory (export "memory") 1)
  (global $stage (mut i32) (i32.const 0))
  (data (i32.const 512) "boom: bad schema")
  (data (i32.const 1024) "{escaped}")
  ;; Declared out of order on purpose: the host sorts __preinit__ exports by name.
  (func (export "__preinit__20_second")
    (if (i32.ne (global.get $stage) (i32.const 1)) (then unreachable))
    (global.set $stage (i32.const 2)))
  (func (export "__preinit__10_first")
    (if (i32.ne (global.get $stage) (i32.const 0)) (then unreachable))
    (global.set $stage (i32.const 1)))
  (func {describe_export} (param $sink i32) {body})
  (func (export "__call_reducer__")
    (param i32 i64 i64 i64 i64 i64 i64 i64 i32 i32) (result i32) (i32.const 0))
)
"""


@pytest.fixture
def wasmtime_module() -> Any:
    return pytest.importorskip("wasmtime")


def _write_wasm(wasmtime: Any, path: Path, wat: str) -> Path:
    path.write_bytes(wasmtime.wat2wasm(wat))
    return path


def test_wasm_module_is_described(tmp_path: Path, wasmtime_module: Any) -> None:
    from spacetimedb_sdk.codegen.extract_wasm import extract_wasm_module_def

    data = CHAT_BSATN.read_bytes()
    wasm = _write_wasm(wasmtime_module, tmp_path / "chat.wasm", chat_wat(data))
    source = extract_wasm_module_def(wasm)
    assert source.raw == load_module_def_file(CHAT_BSATN).raw
    assert source.schema == CHAT_SCHEMA
    assert source.origin == "wasm module chat.wasm"


PANIC = """
    (call $console_log (i32.const 101) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
      (i32.const 7) (i32.const 512) (i32.const 16))
    unreachable"""
HOST_CALL = """
    (drop (call $insert (i32.const 1) (i32.const 0) (i32.const 0)))"""
GARBAGE = """
    (i32.store (i32.const 0) (i32.const 3))
    (drop (call $sink_write (local.get $sink) (i32.const 512) (i32.const 0)))"""


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"describe": PANIC}, "failed while describing itself: boom: bad schema"),
        ({"describe": HOST_CALL}, "datastore_insert_bsatn is not available while describing"),
        ({"describe": GARBAGE}, "not a module definition"),
        ({"describe": "(nop)"}, "wrote no module definition"),
        ({"exports_describe": False}, "does not export __describe_module__"),
        (
            {"extra_imports": '(import "env" "abort" (func))'},
            "only spacetime_10.\\* imports are supported",
        ),
    ],
    ids=["panic", "host-call", "garbage", "nothing", "no-describe", "foreign-import"],
)
def test_wasm_failures(
    tmp_path: Path, wasmtime_module: Any, kwargs: dict[str, Any], message: str
) -> None:
    from spacetimedb_sdk.codegen.extract_wasm import extract_wasm_module_def

    wasm = _write_wasm(wasmtime_module, tmp_path / "bad.wasm", chat_wat(b"\x00", **kwargs))
    with pytest.raises(CodegenError, match=message):
        extract_wasm_module_def(wasm)


def test_not_a_wasm_file(tmp_path: Path, wasmtime_module: Any) -> None:
    from spacetimedb_sdk.codegen.extract_wasm import extract_wasm_module_def

    path = tmp_path / "x.wasm"
    path.write_bytes(b"not wasm at all")
    with pytest.raises(CodegenError, match="not a valid WebAssembly module"):
        extract_wasm_module_def(path)


def test_missing_wasmtime_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    from spacetimedb_sdk.codegen.extract_wasm import extract_wasm_module_def

    monkeypatch.setitem(sys.modules, "wasmtime", None)
    path = tmp_path / "x.wasm"
    path.write_bytes(b"\x00asm\x01\x00\x00\x00")
    with pytest.raises(CodegenError, match=r"pip install -e '\.\[wasm\]'"):
        extract_wasm_module_def(path)


# =================================================================================== js

CHAT_TS = """
import { schema, t, table, SenderError } from 'spacetimedb/server';

const spacetimedb = schema({
  user: table(
    { name: 'user', public: true },
    { identity: t.identity().primaryKey(), name: t.string().optional(), online: t.bool() }
  ),
  message: table(
    { name: 'message', public: true },
    { sender: t.identity(), sent: t.timestamp(), text: t.string() }
  ),
});
export default spacetimedb;

export const init = spacetimedb.init(_ctx => {});
export const onConnect = spacetimedb.clientConnected(ctx => {
  const user = ctx.db.user.identity.find(ctx.sender);
  if (user) ctx.db.user.identity.update({ ...user, online: true });
  else ctx.db.user.insert({ identity: ctx.sender, name: undefined, online: true });
});
export const onDisconnect = spacetimedb.clientDisconnected(ctx => {
  const user = ctx.db.user.identity.find(ctx.sender);
  if (user) ctx.db.user.identity.update({ ...user, online: false });
});
export const send_message = spacetimedb.reducer({ text: t.string() }, (ctx, { text }) => {
  if (!text) throw new SenderError('Messages must not be empty');
  ctx.db.message.insert({ sender: ctx.sender, text, sent: ctx.timestamp });
});
export const set_name = spacetimedb.reducer({ name: t.string() }, (ctx, { name }) => {
  if (!name) throw new SenderError('Names must not be empty');
  const user = ctx.db.user.identity.find(ctx.sender);
  if (!user) throw new SenderError('Cannot set name for unknown user');
  ctx.db.user.identity.update({ ...user, name });
});
"""


@pytest.fixture(scope="module")
def esbuild() -> Path:
    from tests.ts_harness import TS_CLIENT_DIR, TsHarnessError, ensure_ts_client

    try:
        ensure_ts_client()
    except TsHarnessError as exc:
        pytest.skip(f"TypeScript toolchain unavailable: {exc}")
    binary = TS_CLIENT_DIR / "node_modules" / ".bin" / "esbuild"
    if not binary.exists():
        pytest.skip("esbuild is not installed under tests/ts_client")
    return binary


def bundle_chat_module(esbuild: Path, directory: Path) -> Path:
    """Bundle the chat module like ``spacetime build`` (ESM, ``spacetime:sys*`` external),
    down-levelled for Node 20."""
    from tests.ts_harness import TS_CLIENT_DIR

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "node_modules").symlink_to(TS_CLIENT_DIR / "node_modules")
    (directory / "index.ts").write_text(CHAT_TS)
    out = directory / "dist" / "bundle.js"
    subprocess.run(
        [
            str(esbuild),
            "index.ts",
            "--bundle",
            "--format=esm",
            "--platform=node",
            "--target=node20",
            "--external:spacetime:sys*",
            f"--outfile={out}",
            "--log-level=warning",
        ],
        cwd=directory,
        check=True,
        timeout=120,
    )
    return out


def test_js_bundle_is_described(tmp_path: Path, esbuild: Path) -> None:
    from spacetimedb_sdk.codegen.extract_js import extract_js_module_def, module_def_bytes_from_js

    bundle = bundle_chat_module(esbuild, tmp_path / "chat")
    # Byte for byte what the official package described for the chat template.
    assert module_def_bytes_from_js(bundle) == CHAT_BSATN.read_bytes()
    source = extract_js_module_def(bundle)
    assert source.schema == CHAT_SCHEMA
    assert source.origin == "JavaScript bundle bundle.js"


def test_js_failures(tmp_path: Path, esbuild: Path) -> None:
    from spacetimedb_sdk.codegen.extract_js import extract_js_module_def

    not_schema = tmp_path / "plain.js"
    not_schema.write_text("export default 42;\n")
    with pytest.raises(CodegenError, match="default export is not a SpacetimeDB schema"):
        extract_js_module_def(not_schema)
    broken = tmp_path / "broken.js"
    broken.write_text("export default {;\n")
    with pytest.raises(CodegenError, match="node could not describe the module: SyntaxError"):
        extract_js_module_def(broken)
    old = tmp_path / "old.js"
    old.write_text("import * as sys from 'spacetime:sys@1.0';\nexport default sys;\n")
    with pytest.raises(CodegenError, match=r"only 2\.x bundles"):
        extract_js_module_def(old)


def test_js_without_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from spacetimedb_sdk.codegen import extract_js

    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(CodegenError, match=r"needs Node\.js"):
        extract_js.module_def_bytes_from_js(tmp_path / "x.js")


# ============================================================================== projects


def test_python_module_projects() -> None:
    package = extract_project_module_def(CHAT_MODULE)
    assert package.origin == "Python module server"
    assert {t.name for t in package.schema.tables} == {"user", "message"}
    single_file = extract_project_module_def(GAME_MODULE)
    assert single_file.name == "game"
    assert single_file.schema.tables


def _fake_spacetime(bin_dir: Path, script: str) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / "spacetime"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_project_without_the_spacetime_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "rust_module"
    project.mkdir()
    (project / "Cargo.toml").write_text("[package]\nname = 'm'\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(CodegenError, match=r"needs the `spacetime` CLI.*--module-def"):
        extract_project_module_def(project)


def test_rust_project_built_with_spacetime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wasmtime_module: Any
) -> None:
    project = tmp_path / "rust_module"
    project.mkdir()
    (project / "Cargo.toml").write_text("[package]\nname = 'chat'\n")
    built = _write_wasm(
        wasmtime_module, tmp_path / "prebuilt.wasm", chat_wat(CHAT_BSATN.read_bytes())
    )
    bin_dir = tmp_path / "bin"
    _fake_spacetime(
        bin_dir,
        'test "$1" = build && test "$2" = -p || exit 9\n'
        'mkdir -p "$3/target/wasm32-unknown-unknown/release"\n'
        f'cp "{built}" "$3/target/wasm32-unknown-unknown/release/chat.wasm"\n',
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    source = extract_project_module_def(project)
    assert source.schema == CHAT_SCHEMA
    assert source.origin == "wasm module chat.wasm"

    _fake_spacetime(bin_dir, 'echo "error: could not compile `chat`" >&2\nexit 101\n')
    with pytest.raises(CodegenError, match=r"spacetime build.*failed: error: could not compile"):
        extract_project_module_def(project)


def test_not_a_project(tmp_path: Path) -> None:
    with pytest.raises(CodegenError, match="not a module project"):
        extract_project_module_def(tmp_path)
    with pytest.raises(CodegenError, match="project path not found"):
        extract_project_module_def(tmp_path / "missing")


def test_fixture_json_is_loadable() -> None:
    assert load_module_def_file(fixture_json("bench")).schema.tables
