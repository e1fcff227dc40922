"""What scripts/run.sh tells the user, checked with stand-ins for pip, the server and the client.

The real script runs in a copy of the repository whose ``.venv/bin/python`` and
``.venv/bin/spacetimedb-sdk`` are small shell scripts: no network, no port 3000, a second or two.
(tests/test_run_script.py runs it for real.)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")

# `python -c` (the requirements hash) is the real Python; `-m pip` prints what pip prints when
# it works; `-` is the script's ping, answered once the fake server has started.
_FAKE_PYTHON = """#!/usr/bin/env bash
case "$1" in
  -c) exec "{python}" "$@" ;;
  -m) sleep 0.2
      echo "Obtaining file://$PWD"
      echo "Requirement already satisfied: brotli>=1.1"
      echo "Collecting aiohttp>=3.9"
      echo "Successfully installed aiohttp-3.9.0"
      exit 0 ;;
  -) cat >/dev/null; [ -f "$FAKE_STATE/server-up" ] ;;
  client/main.py) echo "client ran" ;;
esac
"""
_FAKE_SERVER = """#!/usr/bin/env bash
echo "fake server started with: $*"
touch "$FAKE_STATE/server-up"
trap 'rm -f "$FAKE_STATE/server-up"; echo "fake server stopped"; exit 0' TERM
while true; do sleep 0.05; done
"""


@pytest.fixture
def fake_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "scripts" / "run.sh", repo / "scripts" / "run.sh")
    for name in ("requirements.txt", "pyproject.toml"):
        shutil.copy(REPO_ROOT / name, repo / name)
    bin_dir = repo / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (
        ("python", _FAKE_PYTHON.replace("{python}", sys.executable)),
        ("spacetimedb-sdk", _FAKE_SERVER),
    ):
        (bin_dir / name).write_text(text, encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    return repo


def _run(repo: Path) -> subprocess.CompletedProcess[str]:
    state = repo.parent / "fake-state"
    state.mkdir(exist_ok=True)
    return subprocess.run(
        ["bash", str(repo / "scripts" / "run.sh")],
        cwd=repo,
        env={"PATH": "/usr/bin:/bin", "FAKE_STATE": str(state), "HOME": str(repo.parent)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_install_says_what_pip_is_doing(fake_repo: Path) -> None:
    first = _run(fake_repo)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "client ran\n"
    lines = first.stderr.splitlines()
    assert lines[0].startswith("Installing the SDK and the local server (requirements.txt)")
    assert "  pip: Collecting aiohttp>=3.9" in lines
    assert "  pip: Successfully installed aiohttp-3.9.0" in lines
    assert not any("already satisfied" in line for line in lines)  # progress, not noise
    assert "Installed." in lines
    log = (fake_repo / ".spacetimedb-sdk" / "pip.log").read_text(encoding="utf-8")
    assert "Requirement already satisfied: brotli>=1.1" in log  # the whole output is kept
    second = _run(fake_repo)  # nothing changed: no install
    assert second.returncode == 0 and "Installing" not in second.stderr


def test_server_log_keeps_earlier_runs(fake_repo: Path) -> None:
    for _ in range(2):
        result = _run(fake_repo)
        assert result.returncode == 0, result.stderr
        assert "Starting the local server" in result.stderr
    log = (fake_repo / ".spacetimedb-sdk" / "server.log").read_text(encoding="utf-8")
    assert log.count("scripts/run.sh starts the local server") == 2
    assert log.count("fake server started with: serve --port 3000") == 2
    assert log.count("fake server stopped") == 2
