"""Golden files: the bindings generated for the chat module (``chat-react-ts``).

After an intended change of the generator, refresh them with::

    SPACETIMEDB_SDK_UPDATE_GOLDENS=1 .venv/bin/python -m pytest tests/test_codegen_golden.py
"""

from __future__ import annotations

import os
import shutil

from spacetimedb_sdk.codegen.generator import generate_package
from spacetimedb_sdk.codegen.source import load_module_def_file
from spacetimedb_sdk.codegen.writer import write_package
from tests.codegen_support import CHAT_JSON, GOLDEN_CHAT


def _golden_files() -> dict[str, str]:
    return {
        p.relative_to(GOLDEN_CHAT).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(GOLDEN_CHAT.rglob("*.py"))
    }


def test_chat_bindings_match_the_golden_files() -> None:
    files = generate_package(load_module_def_file(CHAT_JSON)).files
    if os.environ.get("SPACETIMEDB_SDK_UPDATE_GOLDENS") == "1":
        shutil.rmtree(GOLDEN_CHAT, ignore_errors=True)
        write_package(GOLDEN_CHAT, files)
    golden = _golden_files()
    assert sorted(golden) == sorted(files), "file set changed; see the module docstring"
    for path, text in files.items():
        assert golden[path] == text, f"{path} differs from its golden file"


def test_golden_layout() -> None:
    assert sorted(_golden_files()) == [
        "__init__.py",
        "_module_def.py",
        "message.py",
        "message_table.py",
        "send_message_reducer.py",
        "set_name_reducer.py",
        "types/__init__.py",
        "types/procedures.py",
        "types/reducers.py",
        "user.py",
        "user_table.py",
    ]
