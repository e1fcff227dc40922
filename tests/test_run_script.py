"""scripts/run.sh, the README's main job: server up, client in the terminal, server down after."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.quickstart_harness import (
    QUICKSTART_PORT,
    ClientProcess,
    clients,
    port_is_free,
    quickstart_server,
    wait_for_server,
)

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def run_script(home: Path, state: Path) -> ClientProcess:
    return ClientProcess.start_command(
        ["bash", str(REPO_ROOT / "scripts" / "run.sh")],
        home=home,
        name="run.sh",
        cwd=REPO_ROOT,
        env={"QUICKSTART_STATE_DIR": str(state)},
    )


def test_run_sh_starts_a_server_runs_the_client_and_stops_the_server(tmp_path: Path) -> None:
    assert port_is_free(QUICKSTART_PORT), "port 3000 must be free for this test"
    state = tmp_path / "state"
    with clients(run_script(tmp_path, state)) as (terminal,):
        first = terminal.read_line(timeout=180)  # a first run may install requirements
        me = re.fullmatch(r"User (\S+) connected\.", first)
        assert me is not None, first
        terminal.expect("", "SYSTEM: Connected.")
        terminal.send("hello from run.sh")
        terminal.expect(f"{me.group(1)}: hello from run.sh")
        code, _ = terminal.finish(timeout=10)
        assert code == 0
    assert port_is_free(QUICKSTART_PORT)  # the server it started is gone
    assert (state / "data").is_dir() and (state / "server.log").is_file()


def test_run_sh_reuses_a_running_server(tmp_path: Path) -> None:
    with quickstart_server() as url:
        wait_for_server(url)
        with clients(run_script(tmp_path, tmp_path / "state")) as (terminal,):
            terminal.read_line(timeout=180)
            terminal.expect("", "SYSTEM: Connected.")
            code, _ = terminal.finish(timeout=10)
            assert code == 0
            assert "already running" in terminal.stderr_text()
        assert not port_is_free(QUICKSTART_PORT)  # not stopped: run.sh did not start it
    assert not (tmp_path / "state" / "server.log").exists()
