"""client/ works as the start of someone's own client, and its bindings name a wrong SDK.

The package index's ``spacetimedb-sdk`` is an unrelated 0.7.0; with it installed, generated
bindings used to stop at ``No module named 'spacetimedb_sdk.bsatn'``, which does not say what is
wrong. They now check the installed version first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

from tests.conftest import REPO_ROOT

CLIENT = REPO_ROOT / "client"


def _fake_index_sdk(site: Path) -> None:
    """A stand-in for the index's spacetimedb-sdk 0.7.0: its package and its metadata."""
    (site / "spacetimedb_sdk").mkdir(parents=True)
    (site / "spacetimedb_sdk" / "__init__.py").write_text("", encoding="utf-8")
    dist_info = site / "spacetimedb_sdk-0.7.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: spacetimedb-sdk\nVersion: 0.7.0\n", encoding="utf-8"
    )


def _python(
    code: str, cwd: Path, *path: Path, no_site: bool = False
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in path)}
    return subprocess.run(
        [sys.executable, *(["-S"] if no_site else []), "-c", code],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_bindings_with_the_index_sdk_say_what_is_wrong(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _fake_index_sdk(site)
    for code in ("import module_bindings", "from module_bindings.user import User"):
        # -S: without this venv's site-packages, whose editable install of this SDK would
        # otherwise still answer for spacetimedb_sdk's submodules.
        result = _python(code, tmp_path, site, CLIENT, no_site=True)
        assert result.returncode == 1
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(
            "ImportError: these bindings need spacetimedb-sdk >= 2.0, found 0.7.0"
        ), result.stderr
        assert "pip install -e '.[server]'" in last


def test_bindings_import_with_this_sdk(tmp_path: Path) -> None:
    result = _python(
        "import module_bindings; print(module_bindings.REMOTE_MODULE.cli_version)",
        tmp_path,
        REPO_ROOT,
        CLIENT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == version("spacetimedb-sdk")


def test_client_requirements_never_accept_the_index_package() -> None:
    lines = (CLIENT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    reqs = [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]
    assert [r.name for r in reqs] == ["spacetimedb-sdk"]
    assert reqs[0].extras == {"server"}
    assert not reqs[0].specifier.contains("0.7.0")
    assert reqs[0].specifier.contains(version("spacetimedb-sdk"))


def test_a_copy_of_client_runs_with_its_readme_steps(tmp_path: Path) -> None:
    copy = tmp_path / "client"
    shutil.copytree(CLIENT, copy, ignore=shutil.ignore_patterns("__pycache__", "module_bindings"))
    # Step 2 of client/README.md, with the module path of this repository.
    generate = subprocess.run(
        [
            *(sys.executable, "-m", "spacetimedb_sdk", "generate", "--lang", "python"),
            *("--out-dir", "module_bindings", "--project-path", str(REPO_ROOT / "server")),
        ],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert generate.returncode == 0, generate.stderr
    # main.py imports the SDK and the fresh bindings; its main block is not run on import.
    result = _python(
        "import main; print(main.run_client.__name__, main.User.__name__)", copy, REPO_ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["run_client", "User"]
    readme = (CLIENT / "README.md").read_text(encoding="utf-8")
    assert "--out-dir module_bindings --project-path ../server" in readme
    assert "pip install -r requirements.txt" in readme
