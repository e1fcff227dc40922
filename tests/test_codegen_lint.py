"""Generated code passes ``mypy --strict``, ``ruff check`` and ``ruff format --check`` unmodified.

Every fixture is generated twice (public only, and with ``--include-private``) into one
directory, which is then checked by one mypy run and one ruff run (mypy is the slow part).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from spacetimedb_sdk.codegen.pywriter import Imports, all_list
from tests.codegen_support import (
    PYPROJECT,
    fixture_names,
    generate_fixture,
    generate_reexport,
    generate_tricky,
)
from tests.conftest import REPO_ROOT

BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


def _run(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("codegen_lint")
    for name in fixture_names():
        for include_private in (False, True):
            generate_fixture(name, root, include_private=include_private)
    for policy in ("SnakeCase", "None"):
        generate_tricky(root, policy)
    for name in ("module-test-ts", "sdk-test-view-pk-ts"):
        for version in (9, 10):
            generate_reexport(name, root, version)
    return root


@pytest.mark.slow
def test_generated_code_passes_mypy_strict(generated: Path) -> None:
    env = {**os.environ, "MYPYPATH": str(REPO_ROOT)}
    packages = sorted(p.name for p in generated.iterdir() if p.is_dir())
    result = _run(
        [
            _tool("mypy"),
            "--config-file",
            str(PYPROJECT),
            "--strict",
            "--cache-dir",
            str(generated / ".mypy_cache"),
            *packages,
        ],
        generated,
        env,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


def test_generated_code_passes_ruff(generated: Path) -> None:
    ruff = _tool("ruff")
    check = _run([ruff, "check", "--config", str(PYPROJECT), "--no-cache", "."], generated)
    assert check.returncode == 0, check.stdout[-5000:]
    # ruff's defaults too (another project's configuration is unknown; these are its baseline).
    isolated = _run([ruff, "check", "--isolated", "--no-cache", "."], generated)
    assert isolated.returncode == 0, isolated.stdout[-5000:]
    for width in ("88", "100", "120"):
        fmt = _run(
            [ruff, "format", "--config", str(PYPROJECT), "--line-length", width, "--check", "."],
            generated,
        )
        assert fmt.returncode == 0, f"line length {width}:\n{fmt.stdout[-5000:]}"


def test_import_and_all_sorting_matches_ruff(tmp_path: Path) -> None:
    """Random member names: the import block and ``__all__`` are already in ruff's order."""
    rng = random.Random(1234)
    alphabet = "aAbBzZ_09"
    names = {
        rng.choice("aAbZ") + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6)))
        for _ in range(300)
    }
    names = {n for n in names if n.isidentifier()}
    imports = Imports()
    imports.names("__future__", "annotations")
    imports.module("typing", "_typing")
    imports.module("spacetimedb_sdk", "_stdb")
    imports.names(".types", *names)
    for n in sorted(names)[:20]:
        imports.aliased(".", n.lower() + "_mod", "_" + n.lower())
    source = "\n".join(imports.lines()) + "\n\n" + "\n".join(all_list(names)) + "\n"
    (tmp_path / "__init__.py").write_text(source)
    result = _run(
        [
            _tool("ruff"),
            "check",
            "--config",
            str(PYPROJECT),
            "--select",
            "I,RUF022",
            "--no-cache",
            ".",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:]
