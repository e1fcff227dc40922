"""``spacetimedb-sdk generate``: the command line, the output directory rules and every failure
path (one line on stderr, a non-zero exit, nothing written)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from spacetimedb_sdk.cli import main
from spacetimedb_sdk.codegen.pywriter import GENERATED_MARKER
from spacetimedb_sdk.local_server.pytest_plugin import ServerFactory, spacetimedb_local_server
from spacetimedb_sdk.schema import ModuleSchema
from tests.codegen_support import CHAT_BSATN, CHAT_JSON, imported
from tests.conftest import REPO_ROOT

__all__ = ["spacetimedb_local_server"]


def _generate(*args: str) -> int:
    return main(["generate", "--lang", "python", *args])


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_generate_from_a_module_def_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "module_bindings"
    assert _generate("--out-dir", str(out), "--module-def", str(CHAT_JSON)) == 0
    summary = capsys.readouterr().out
    assert "Generated 11 files" in summary and "11 written" in summary
    assert (out / "__init__.py").read_text().startswith(GENERATED_MARKER)
    assert _generate("--out-dir", str(out), "--module-def", str(CHAT_BSATN), "-q") == 0
    assert capsys.readouterr().out == ""
    with imported(out) as mb:
        assert ModuleSchema.from_json(CHAT_JSON.read_text()) == mb.SCHEMA


def test_only_generated_files_are_overwritten_or_removed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bindings"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "helpers.py").write_text("# my own helpers\n")
    stale = out / "old_table.py"
    stale.write_text(GENERATED_MARKER + "\n# from an earlier run\n")
    assert _generate("--out-dir", str(out), "--module-def", str(CHAT_JSON)) == 0
    assert "1 stale removed" in capsys.readouterr().out
    assert not stale.exists()
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "helpers.py").read_text() == "# my own helpers\n"
    # A generated file edited by hand but still carrying the header is regenerated.
    (out / "user.py").write_text(GENERATED_MARKER + "\n# edited\n")
    assert _generate("--out-dir", str(out), "--module-def", str(CHAT_JSON), "-q") == 0
    assert "# edited" not in (out / "user.py").read_text()


def test_a_hand_written_file_in_the_way_stops_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bindings"
    out.mkdir()
    (out / "user.py").write_text("class User: ...\n")
    assert _generate("--out-dir", str(out), "--module-def", str(CHAT_JSON)) == 1
    line = _one_error_line(capsys)
    assert line.startswith("error: refusing to overwrite") and "user.py" in line
    assert sorted(p.name for p in out.iterdir()) == ["user.py"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda d: ["--module-def", str(d / "missing.json")], "module def file not found"),
        (lambda d: ["--module-def", str(d)], "is a directory"),
        (
            lambda d: ["--module-def", str(_write(d / "bad.bin", b"\x09\x01\x02"))],
            "not a module definition",
        ),
        (
            lambda d: ["--module-def", str(_write(d / "v11.json", b'{"V11": {"sections": []}}'))],
            "not a module definition",
        ),
        (lambda d: ["--module-def", str(_write(d / "t.json", b"{oops"))], "not valid JSON"),
        (
            lambda d: ["--server", f"http://127.0.0.1:{_closed_port()}", "--database", "chat"],
            "cannot reach server",
        ),
        (lambda d: ["--server", "http://127.0.0.1:9"], "--server needs --database"),
        (
            lambda d: ["--module-def", str(CHAT_JSON), "--database", "chat"],
            "only go with --server",
        ),
        (lambda d: ["--bin-path", str(d / "missing.wasm")], "module file not found"),
        (lambda d: ["--bin-path", str(_write(d / "m.txt", b"x"))], "takes a .wasm module or a .js"),
        (lambda d: ["--project-path", str(d)], "not a module project"),
        (
            lambda d: [
                "--project-path",
                str(_write(d / "broken.py", b"raise RuntimeError('no')\n")),
            ],
            "importing the Python module",
        ),
    ],
    ids=[
        "missing-file",
        "directory",
        "bad-bytes",
        "unknown-version",
        "bad-json",
        "unreachable-server",
        "server-without-database",
        "database-without-server",
        "missing-bin",
        "bin-suffix",
        "not-a-project",
        "broken-python-module",
    ],
)
def test_failures_are_one_line_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_args: object, message: str
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    out = tmp_path / "out"
    args = make_args(inputs)  # type: ignore[operator]
    assert _generate("--out-dir", str(out), *args) == 1
    line = _one_error_line(capsys)
    assert line.startswith("error: ") and message in line, line
    assert not out.exists()


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_exactly_one_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        _generate("--out-dir", str(out), "--module-def", str(CHAT_JSON), "--server", "x")
    assert exc.value.code == 2
    assert "not allowed with" in _one_error_line(capsys)
    with pytest.raises(SystemExit) as exc:
        _generate("--out-dir", str(out))
    assert exc.value.code == 2
    assert "one of the arguments" in _one_error_line(capsys)
    assert not out.exists()


def test_generate_from_the_local_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spacetimedb_local_server: ServerFactory
) -> None:
    server = spacetimedb_local_server({"chat": REPO_ROOT / "server"})
    out = tmp_path / "chat_bindings"
    assert _generate("--out-dir", str(out), "--server", server.url, "--database", "chat") == 0
    header = (out / "__init__.py").read_text().splitlines()[3]
    assert f"database chat at {server.url}" in header
    with imported(out) as mb:
        assert {t.name for t in mb.SCHEMA.tables} == {"user", "message"}
        assert mb.User.__dataclass_fields__.keys() == {"identity", "name", "online"}
        assert hasattr(mb.RemoteReducers, "set_name")
        # The generated DbConnection talks to the server through the ordinary runtime.
        applied = threading.Event()
        conn = mb.DbConnection.builder().with_uri(server.url).with_database_name("chat").build()
        try:
            conn.run_threaded()
            conn.subscription_builder().on_applied(lambda ctx: applied.set()).subscribe(
                ["SELECT * FROM user"]
            )
            assert applied.wait(10)
            conn.reducers.set_name("generated").result(timeout=10)
            me = conn.db.user.identity.find(conn.identity)
            assert type(me) is mb.User and me.name == "generated" and me.online
        finally:
            conn.disconnect()
    capsys.readouterr()
    missing = tmp_path / "missing"
    assert _generate("--out-dir", str(missing), "--server", server.url, "--database", "nope") == 1
    assert "database 'nope' not found" in _one_error_line(capsys)
    assert not missing.exists()


def test_python_project_and_server_give_the_same_bindings_body(
    tmp_path: Path, spacetimedb_local_server: ServerFactory
) -> None:
    """The Python chat module described directly, and as the local server serves it."""
    server = spacetimedb_local_server({"chat": REPO_ROOT / "server"})
    assert (
        _generate(
            "--out-dir", str(tmp_path / "a"), "--project-path", str(REPO_ROOT / "server"), "-q"
        )
        == 0
    )
    assert (
        _generate(
            "--out-dir", str(tmp_path / "b"), "--server", server.url, "--database", "chat", "-q"
        )
        == 0
    )
    for name in ("types/__init__.py", "user_table.py", "user.py", "set_name_reducer.py"):
        # Past the header; the docstrings name the module (``server`` / ``chat``).
        a = [
            ln
            for ln in (tmp_path / "a" / name).read_text().splitlines()[4:]
            if "``server``" not in ln
        ]
        b = [
            ln
            for ln in (tmp_path / "b" / name).read_text().splitlines()[4:]
            if "``chat``" not in ln
        ]
        assert a == b, name


def test_module_entry_point(tmp_path: Path) -> None:
    out = tmp_path / "bindings"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "spacetimedb_sdk",
            "generate",
            "--out-dir",
            str(out),
            "--module-def",
            str(CHAT_JSON),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(json.dumps(sorted(p.name for p in out.iterdir()))) == [
        "__init__.py",
        "_module_def.py",
        "message.py",
        "message_table.py",
        "send_message_reducer.py",
        "set_name_reducer.py",
        "types",
        "user.py",
        "user_table.py",
    ]
