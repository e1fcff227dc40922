"""client/module_bindings is exactly what the generator produces for server/, and loads the 0.7 way."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from spacetimedb_sdk.legacy.bindings import load_legacy_bindings
from tests.conftest import REPO_ROOT

BINDINGS = REPO_ROOT / "client" / "module_bindings"


def _files(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_regenerating_gives_identical_files(tmp_path: Path) -> None:
    out = tmp_path / "module_bindings"
    # The command the README gives, run from the repository root.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "spacetimedb_sdk",
            "generate",
            "--lang",
            "python",
            "--out-dir",
            str(out),
            "--project-path",
            "server",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    committed = _files(BINDINGS)
    regenerated = _files(out)
    assert sorted(committed) == sorted(regenerated)
    for name, data in regenerated.items():
        assert committed[name] == data, f"client/module_bindings/{name} differs: regenerate it"


def test_the_guide_files_are_there() -> None:
    for name in ("message.py", "send_message_reducer.py", "set_name_reducer.py", "user.py"):
        assert (BINDINGS / name).is_file()


def test_loads_with_the_0_7_rules() -> None:
    sys.path.insert(0, str(BINDINGS.parent))
    try:
        import module_bindings

        bindings = load_legacy_bindings(module_bindings)
    finally:
        sys.path.remove(str(BINDINGS.parent))
    assert {(t.legacy_name, t.name) for t in bindings.tables} == {
        ("Message", "message"),
        ("User", "user"),
    }
    assert {(r.legacy_name, r.name) for r in bindings.reducers} == {
        ("send_message", "send_message"),
        ("set_name", "set_name"),
    }
    assert bindings.resolve_table("User") == "user"
    module = bindings.remote_module()
    assert module.row_classes["user"].__name__ == "User"
