"""Drive chat clients the way a person at a terminal would, and check what they print.

Each client is a real ``python <script> [args]`` process with pipes for stdin and stdout. Its
``HOME`` points at a directory the test owns, so ``local_config`` files (the saved token) are
isolated from the developer's and shared only between processes that should share them (a
restart of the same client). Lines are read with timeouts, and every line read is kept so a
failing assertion shows the whole transcript so far.

Typical use::

    with ClientProcess.start(MAIN_PY, [], home=tmp_path) as alice:
        alice.expect("", "SYSTEM: Connected.")
        alice.send("hello")
        alice.expect("a1b2c3d4: hello")
        assert alice.finish() == 0
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, NoReturn

DEFAULT_TIMEOUT = 15.0

# A sentinel line pushed when the process closes its stdout.
_EOF = None


class TranscriptError(AssertionError):
    """A client printed something else than expected, or nothing in time."""


def _pump(stream: IO[str], lines: queue.Queue[str | None], keep: list[str]) -> None:
    for raw in iter(stream.readline, ""):
        line = raw.rstrip("\n").rstrip("\r")
        keep.append(line)
        lines.put(line)
    lines.put(_EOF)


class ClientProcess:
    """One running client process, its stdin and the lines it has printed."""

    def __init__(self, name: str, process: subprocess.Popen[str]) -> None:
        self.name = name
        self.process = process
        self.transcript: list[str] = []  # every stdout line read so far, in order
        self.printed: list[str] = []  # every stdout line the process printed
        self.stderr: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._errors: queue.Queue[str | None] = queue.Queue()
        self._eof = False
        assert process.stdout is not None and process.stderr is not None
        for stream, target, keep in (
            (process.stdout, self._lines, self.printed),
            (process.stderr, self._errors, self.stderr),
        ):
            threading.Thread(target=_pump, args=(stream, target, keep), daemon=True).start()

    @classmethod
    def start(
        cls,
        script: Path,
        args: Sequence[str] = (),
        *,
        home: Path,
        name: str | None = None,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        python: str = sys.executable,
    ) -> ClientProcess:
        """Start ``python script *args`` with ``HOME=home`` and unbuffered UTF-8 output."""
        return cls.start_command(
            [python, str(script), *args],
            home=home,
            name=name or " ".join([script.name, *args]),
            cwd=cwd if cwd is not None else script.parent,
            env=env,
        )

    @classmethod
    def start_command(
        cls,
        argv: Sequence[str],
        *,
        home: Path,
        name: str,
        cwd: Path,
        env: Mapping[str, str] | None = None,
    ) -> ClientProcess:
        """Start any command (e.g. ``bash scripts/run.sh``) the same way."""
        environment = dict(os.environ)
        environment.update(
            HOME=str(home),
            USERPROFILE=str(home),
            PYTHONUNBUFFERED="1",
            PYTHONIOENCODING="utf-8",
        )
        if env:
            environment.update(env)
        process = subprocess.Popen(
            list(argv),
            cwd=str(cwd),
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        return cls(name, process)

    # ------------------------------------------------------------------------------- input
    def send(self, line: str) -> None:
        """Type ``line`` and press Enter."""
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(line + "\n")
        stdin.flush()

    # ------------------------------------------------------------------------------ output
    def read_line(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        """The next printed line; raises :class:`TranscriptError` on timeout or exit."""
        if self._eof:
            self._fail("the process closed its output")
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self._fail(f"no output within {timeout} s")
        if line is _EOF:
            self._eof = True
            self._fail("the process closed its output")
        self.transcript.append(line)
        return line

    def expect(self, *expected: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        """The next lines are exactly ``expected``, in order."""
        for want in expected:
            got = self.read_line(timeout)
            if got != want:
                self._fail(f"expected {want!r}, got {got!r}")

    def expect_unordered(self, *expected: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        """The next ``len(expected)`` lines are ``expected`` in any order."""
        got = sorted(self.read_line(timeout) for _ in expected)
        if got != sorted(expected):
            self._fail(f"expected the lines {sorted(expected)!r} in any order, got {got!r}")

    def read_until(self, wanted: str, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
        """Read up to and including ``wanted``; returns the lines before it."""
        deadline = time.monotonic() + timeout
        before: list[str] = []
        while True:
            line = self.read_line(max(0.0, deadline - time.monotonic()))
            if line == wanted:
                return before
            before.append(line)

    def expect_quiet(self, duration: float = 0.5) -> None:
        """Nothing more is printed for ``duration`` seconds."""
        try:
            line = self._lines.get(timeout=duration)
        except queue.Empty:
            return
        if line is _EOF:
            self._eof = True
            self._fail("the process closed its output")
        self.transcript.append(line)
        self._fail(f"expected no output, got {line!r}")

    # --------------------------------------------------------------------------- lifetime
    def finish(self, timeout: float = 1.0) -> tuple[int, float]:
        """Press Enter on an empty line; the exit code and how long the process took to end.

        Raises :class:`TranscriptError` if it has not ended within ``timeout`` seconds.
        """
        started = time.monotonic()
        self.send("")
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._fail(f"still running {timeout} s after an empty input line")
        return code, time.monotonic() - started

    def rest(self, timeout: float = 5.0) -> list[str]:
        """Every line still unread once the process has ended."""
        self.process.wait(timeout)
        out: list[str] = []
        while True:
            line = self._lines.get(timeout=timeout)
            if line is _EOF:
                self._eof = True
                return out
            self.transcript.append(line)
            out.append(line)

    def stderr_text(self, settle: float = 0.2) -> str:
        """What the process wrote to stderr so far."""
        time.sleep(settle)
        return "\n".join(self.stderr)

    def kill(self) -> None:
        """End the process if it still runs (used on test failure)."""
        if self.process.poll() is None:
            self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(5)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def __enter__(self) -> ClientProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()

    def _fail(self, what: str) -> NoReturn:
        shown = "\n".join(f"    {line}" for line in self.transcript) or "    (nothing)"
        errors = "\n".join(f"    {line}" for line in self.stderr[-40:]) or "    (nothing)"
        raise TranscriptError(
            f"[{self.name}] {what}\n  transcript so far:\n{shown}\n  stderr (tail):\n{errors}"
        )


# ------------------------------------------------------------------------------- servers
def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) != 0


def server_answers(base_url: str, timeout: float = 1.0) -> bool:
    """Whether ``GET {base_url}/v1/ping`` succeeds."""
    try:
        with urllib.request.urlopen(f"{base_url}/v1/ping", timeout=timeout) as response:
            return bool(200 <= response.status < 300)
    except (OSError, urllib.error.URLError):
        return False


def wait_for_server(base_url: str, timeout: float = 30.0) -> None:
    """Block until the server at ``base_url`` answers ``/v1/ping``."""
    deadline = time.monotonic() + timeout
    while not server_answers(base_url):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no server answered {base_url}/v1/ping within {timeout} s")
        time.sleep(0.1)


QUICKSTART_PORT = 3000
REPO_ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def quickstart_server(port: int = QUICKSTART_PORT, data_dir: Path | None = None) -> Iterator[str]:
    """The local server hosting ``server/`` as ``chat`` on ``port`` (what client/main.py
    connects to: ``localhost:3000``), in a background thread; yields its base URL."""
    from spacetimedb_sdk.local_server.server import LocalServer

    if not port_is_free(port):
        raise RuntimeError(
            f"port {port} is busy: client/main.py connects to localhost:{port}, so these tests "
            "need it free (stop the server running there)"
        )
    server = LocalServer({"chat": REPO_ROOT / "server"}, port=port, data_dir=data_dir)
    url = server.start_in_thread()
    try:
        yield url
    finally:
        server.stop_thread()


@contextlib.contextmanager
def clients(*started: ClientProcess) -> Iterator[tuple[ClientProcess, ...]]:
    """Kill every client on the way out, whatever happened."""
    try:
        yield started
    finally:
        for client in started:
            client.kill()
