"""A clone with nothing beside it runs the tests: every fixture a test reads is in the repository.

The reference vectors once lived in a directory laid beside the clone; a bare clone then failed
at collection. These tests copy the repository's own files to a fresh directory and run the
fixture-reading tests there, and check nothing still points outside the repository.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import FIXTURES, REPO_ROOT

# Spelled in pieces so this file does not match its own search.
_OUTSIDE_REFERENCES = ("../" + "shared", "SPACETIMEDB_SDK_" + "SHARED", "/work/" + "shared")
# Tests that look for these references name them.
_CHECKERS = {"tests/test_standalone_checkout.py", "tests/test_repository_standalone.py"}
_SCANNED_TOP = ("tests", "scripts", ".ci", "benchmarks", "spacetimedb_sdk", "docs", "client")
_TEXT_SUFFIXES = {".py", ".md", ".sh", ".ts", ".json", ".toml", ".txt", ".mjs", ""}


_NOT_SOURCE = {".git", ".venv", "node_modules", "__pycache__", ".pytest_cache", ".mypy_cache"}


def _repository_files() -> list[Path]:
    """Tracked files plus new ones not ignored (what a commit of this work tree would hold);
    every file but caches and environments when this copy is not a git work tree."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT,
        capture_output=True,
        check=False,
    )
    if listing.returncode == 0:
        names = listing.stdout.decode().split("\0")
        return [Path(name) for name in names if name and (REPO_ROOT / name).is_file()]
    return [
        path.relative_to(REPO_ROOT)
        for path in REPO_ROOT.rglob("*")
        if path.is_file() and _NOT_SOURCE.isdisjoint(path.relative_to(REPO_ROOT).parts)
    ]


def test_fixtures_live_inside_the_repository() -> None:
    assert FIXTURES.resolve().is_relative_to(REPO_ROOT.resolve())
    for name in ("bsatn_values.json", "v2_client_messages.json", "v2_server_messages.json"):
        assert (FIXTURES / "vectors" / name).is_file()
    assert (FIXTURES / "module_defs" / "index.json").is_file()
    assert (FIXTURES / "quickstart_0.7" / "python_blocks.json").is_file()
    assert (FIXTURES / "README.md").is_file()


def test_nothing_points_outside_the_repository() -> None:
    offenders = []
    for rel in _repository_files():
        if rel.parts[0] not in _SCANNED_TOP and rel.name != "README.md":
            continue
        if rel.suffix not in _TEXT_SUFFIXES or "node_modules" in rel.parts:
            continue
        if rel.as_posix() in _CHECKERS:
            continue
        text = (REPO_ROOT / rel).read_text(encoding="utf-8", errors="replace")
        offenders += [f"{rel}: {ref}" for ref in _OUTSIDE_REFERENCES if ref in text]
    assert offenders == []


def test_fixture_tests_pass_in_a_bare_copy(tmp_path: Path) -> None:
    clone = tmp_path / "repo"
    for rel in _repository_files():
        if "node_modules" in rel.parts or rel.parts[0] in {".venv", "benchmarks", "examples"}:
            continue
        target = clone / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO_ROOT / rel, target)
    env = {**os.environ, "PYTHONPATH": str(clone)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_bsatn_vectors.py",
            "tests/test_quickstart_main.py",
            "tests/test_messages.py",
            "tests/test_codegen_golden.py",
        ],
        check=False,
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"\d+ passed", result.stdout), result.stdout[-3000:]


# `pip install spacetimedb-sdk...` with the bare index name (no `-e`, no `@ git+...` URL) fetches
# the unrelated 0.7.0 package from the index.
_INDEX_INSTALL = re.compile(
    r"pip install\s+['\"]?spacetimedb[-_]sdk(\[[a-z,]+\])?['\"]?(?!\S*\s*@)"
)
_INSTALL_TEXTS = ("README.md", "client/README.md", "client/requirements.txt", "requirements.txt")


def test_no_install_line_fetches_the_index_package() -> None:
    paths = [REPO_ROOT / name for name in _INSTALL_TEXTS]
    paths += sorted((REPO_ROOT / "docs").glob("*.md"))
    paths += [REPO_ROOT / "spacetimedb_sdk" / "cli.py"]
    paths += sorted((REPO_ROOT / "spacetimedb_sdk" / "codegen").glob("*.py"))
    paths += [REPO_ROOT / "spacetimedb_sdk" / "local_server" / "serve_command.py"]
    offenders = [
        f"{path.relative_to(REPO_ROOT)}: {match.group(0)}"
        for path in paths
        if path.exists()
        for match in _INDEX_INSTALL.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_readme_installs_this_checkout() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install -e '.[server]'" in readme
    assert "0.7.0" in readme  # says why the index's package is not this one
