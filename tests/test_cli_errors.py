"""The command line's mistakes and failures: one line each, from the command they concern.

``serve`` used to print a 35-50 line traceback for a module path that does not exist, a module
with a syntax error, or a relative path given outside the repository; ``generate --bad-flag``
printed the top-level usage; a module without tables was served without a word.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spacetimedb_sdk", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def modules(tmp_path: Path) -> Path:
    (tmp_path / "syntax_error.py").write_text("def broken(:\n", encoding="utf-8")
    (tmp_path / "raises.py").write_text("raise RuntimeError('boom at import')\n", encoding="utf-8")
    (tmp_path / "no_tables.py").write_text("X = 1\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("chat=/nonexistent/module.py", "chat=/nonexistent/module.py: no module at"),
        # `chat=server` is the README's spec; here the cwd is not the repository.
        ("chat=server", "no module at server (relative to the current directory"),
        ("chat=syntax_error.py", "failed to import: SyntaxError: invalid syntax"),
        ("chat=raises.py", "RuntimeError: boom at import"),
    ],
)
def test_serve_start_failures_are_one_line(modules: Path, spec: str, expected: str) -> None:
    result = _cli("serve", "--port", "0", spec, cwd=modules)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("spacetimedb-sdk serve: error: ")
    assert expected in lines[0]


def test_serve_debug_adds_the_traceback(modules: Path) -> None:
    for flag in ("--debug", "--log-level=debug"):
        result = _cli("serve", "--port", "0", flag, "chat=syntax_error.py", cwd=modules)
        assert result.returncode == 1
        assert "Traceback (most recent call last)" in result.stderr
        assert result.stderr.rstrip().splitlines()[-1].startswith("spacetimedb-sdk serve: error:")


@pytest.mark.parametrize(
    ("args", "prefix"),
    [
        (
            ("generate", "--out-dir", "x", "--module-def", "f", "--bad-flag"),
            "spacetimedb-sdk generate",
        ),
        (("serve", "--bad-flag", "chat=server"), "spacetimedb-sdk serve"),
    ],
)
def test_unknown_options_are_reported_by_their_command(
    tmp_path: Path, args: tuple[str, ...], prefix: str
) -> None:
    result = _cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == f"{prefix}: error: unrecognized arguments: --bad-flag"
    assert "COMMAND ..." not in result.stderr  # not the top-level usage


def test_generate_usage_error_is_one_line(tmp_path: Path) -> None:
    result = _cli("generate", "--out-dir", "x", "--module-def", "f", "--bad-flag", cwd=tmp_path)
    assert len(result.stderr.splitlines()) == 1


def test_serving_a_module_without_tables_warns(modules: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "spacetimedb_sdk", "serve", "--port", "0", "chat=no_tables.py"],
        cwd=modules,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().startswith("Serving chat at ")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        stderr = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "spacetimedb-sdk serve: warning: the module of 'chat' defines no tables" in stderr


def test_serving_the_chat_module_does_not_warn() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "spacetimedb_sdk", "serve", "--port", "0", "chat=server"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().startswith("Serving chat at ")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        stderr = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "warning" not in stderr
