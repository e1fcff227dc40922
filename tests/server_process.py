"""The local server in its own process (``python -m spacetimedb_sdk serve``), for client tests
that must stop it answering (SIGSTOP), kill it and start it again, or keep its log records out
of the test process.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from spacetimedb_sdk.client.bindings_support import RemoteModule
from spacetimedb_sdk.schema import ModuleSchema

REPO = Path(__file__).resolve().parent.parent
CHAT = REPO / "server"
GAME = REPO / "tests" / "local_server_modules" / "game.py"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ServerProcess:
    """``chat`` (the quickstart module) and ``game`` served on one port, data kept on disk."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        #: The server's stderr (its log), shown when it fails to start.
        self.log_path = data_dir.with_suffix(".log")
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        """Start serving (on the same port and data as before, after a kill)."""
        with self.log_path.open("a") as log:
            proc = self._proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "spacetimedb_sdk", "serve", "--port", str(self.port)),
                    *("--data-dir", str(self.data_dir), "--log-level", "warning"),
                    *(f"chat={CHAT}", f"game={GAME}"),
                ],
                stdout=subprocess.PIPE,
                stderr=log,  # a file: an unread pipe could fill up and block the server
                text=True,
            )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Serving "), self.log_path.read_text()[-2000:]
        proc.stdout.readline()  # the owner token

    def pause(self) -> None:
        """Freeze the process: connections stay open, nothing is answered."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Undo :meth:`pause`."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL: sockets drop without close frames."""
        assert self._proc is not None
        self._proc.kill()
        self._proc.wait(20)

    def stop(self) -> None:
        """Stop for good (resuming it first if paused)."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGCONT)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(20)

    def module(self, database: str) -> RemoteModule:
        """What a run-time client does: read the schema from the server."""
        url = f"{self.url}/v1/database/{database}/schema?version=10"
        with urllib.request.urlopen(url) as response:
            return RemoteModule(ModuleSchema.from_json(json.loads(response.read())))
