"""Drive the official SpacetimeDB TypeScript client (npm `spacetimedb`, pinned) from pytest.

`ensure_ts_client()` installs and bundles tests/ts_client once (guarded by a file lock, so
parallel test processes do not race) and returns the driver script. `TsChatClient` runs that
driver against a server as a subprocess: commands go in as JSON lines on stdin, events come back
as JSON lines on stdout (see tests/ts_client/src/chat_driver.ts for both vocabularies).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any

TS_CLIENT_DIR = Path(__file__).resolve().parent / "ts_client"
DIST_DIR = TS_CLIENT_DIR / "dist"
DRIVER_SCRIPT = DIST_DIR / "chat_driver.mjs"
SMOKE_SCRIPT = DIST_DIR / "smoke_offline.mjs"
MIN_NODE_MAJOR = 20

_INSTALL_STAMP = TS_CLIENT_DIR / "node_modules" / ".ts-harness-install.sha256"
_BUILD_STAMP = DIST_DIR / ".ts-harness-build.sha256"
_LOCK_FILE = DIST_DIR / ".ts-harness.lock"
_BUILD_INPUTS = ("package.json", "package-lock.json", "build.mjs", "tsconfig.json")

# Driver exit codes (chat_driver.ts).
EXIT_OK = 0
EXIT_FATAL = 1
EXIT_DEADLINE = 2
EXIT_CONNECT_FAILED = 3
EXIT_WAIT_FAILED = 4

DriverEvent = dict[str, Any]
EventPredicate = Callable[[DriverEvent], bool]


class TsHarnessError(RuntimeError):
    """The TypeScript client could not be installed, built or run."""


class TsClientError(AssertionError):
    """The driven client did not produce the awaited event (timeout, fatal error or exit)."""


# ------------------------------------------------------------------ install and build


def node_executable() -> str:
    """Path of `node` (major >= 20), or TsHarnessError saying what is missing."""
    node = shutil.which("node")
    if node is None:
        raise TsHarnessError(
            "node is not on PATH; the TypeScript client tests need Node.js >= 20 and npm"
        )
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    match = re.match(r"v(\d+)\.", version)
    if match is None or int(match.group(1)) < MIN_NODE_MAJOR:
        raise TsHarnessError(f"node {version or '?'} is too old; Node.js >= 20 is needed")
    return node


def _npm_executable() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise TsHarnessError("npm is not on PATH; it is needed once to install tests/ts_client")
    return npm


def _digest(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(str(path.relative_to(TS_CLIENT_DIR)).encode())
        h.update(b"\0")
        h.update(path.read_bytes() if path.exists() else b"<missing>")
        h.update(b"\0")
    return h.hexdigest()


def _install_digest() -> str:
    return _digest([TS_CLIENT_DIR / "package.json", TS_CLIENT_DIR / "package-lock.json"])


def _build_digest() -> str:
    sources = sorted((TS_CLIENT_DIR / "src").rglob("*.ts"))
    return _digest([*(TS_CLIENT_DIR / name for name in _BUILD_INPUTS), *sources])


def _read_stamp(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _run(cmd: Sequence[str], what: str, timeout: float) -> None:
    try:
        result = subprocess.run(
            list(cmd),
            cwd=TS_CLIENT_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise TsHarnessError(f"{what} did not finish within {timeout:.0f} s: {cmd}") from exc
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-40:])
        raise TsHarnessError(f"{what} failed (exit {result.returncode}): {cmd}\n{tail}")


@contextmanager
def _build_lock() -> Iterator[None]:
    DIST_DIR.mkdir(parents=True, exist_ok=True)
    with _LOCK_FILE.open("a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def ensure_ts_client(*, install_timeout: float = 600.0, build_timeout: float = 120.0) -> Path:
    """Install (`npm ci`) and bundle tests/ts_client when needed; return the driver script.

    `npm ci` runs only when node_modules is missing or package(-lock).json changed since the
    last install; the esbuild bundle is rebuilt only when its inputs changed.
    """
    node = node_executable()
    with _build_lock():
        install_digest = _install_digest()
        if _read_stamp(_INSTALL_STAMP) != install_digest:
            _run([_npm_executable(), "ci", "--no-audit", "--no-fund"], "npm ci", install_timeout)
            _INSTALL_STAMP.write_text(install_digest + "\n")
        build_digest = _build_digest()
        outputs_present = DRIVER_SCRIPT.exists() and SMOKE_SCRIPT.exists()
        if not outputs_present or _read_stamp(_BUILD_STAMP) != build_digest:
            _run([node, "build.mjs"], "esbuild bundle (node build.mjs)", build_timeout)
            _BUILD_STAMP.write_text(build_digest + "\n")
    return DRIVER_SCRIPT


def typecheck_ts_client(timeout: float = 180.0) -> None:
    """Run `tsc --noEmit` over tests/ts_client/src (bindings, driver, smoke test)."""
    ensure_ts_client()
    tsc = TS_CLIENT_DIR / "node_modules" / "typescript" / "bin" / "tsc"
    _run([node_executable(), str(tsc), "--noEmit", "-p", "tsconfig.json"], "tsc", timeout)


# ------------------------------------------------------------------ the driven client


class TsChatClient:
    """The official TS client connected to a chat database, driven through chat_driver.mjs.

    The process starts in the constructor and connects right away. `send()` queues a command;
    events are collected by a reader thread and read with `wait_for()` or `events`.

    Example::

        with TsChatClient("ws://127.0.0.1:3000", "chat") as client:
            client.wait_connected()
            client.send({"op": "subscribe_all"})
            client.wait_for("subscription_applied")
            client.send({"op": "send_message", "text": "hi"})
            client.wait_for("message_insert", text="hi")
            client.wait_for("reducer_result", reducer="send_message", status="ok")
    """

    def __init__(
        self,
        uri: str,
        db: str = "chat",
        *,
        token: str | None = None,
        compression: str = "gzip",
        deadline_s: float = 60.0,
        connect_timeout_s: float = 10.0,
        light: bool = False,
        confirmed_reads: bool | None = None,
        sdk_log_level: str | None = None,
        tcp_precheck: bool = True,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        driver = ensure_ts_client()
        args = [
            node_executable(),
            "--enable-source-maps",
            str(driver),
            "--uri",
            uri,
            "--db",
            db,
            "--compression",
            compression,
            "--deadline-ms",
            str(int(deadline_s * 1000)),
            "--connect-timeout-ms",
            str(int(connect_timeout_s * 1000)),
        ]
        if token is not None:
            args += ["--token", token]
        if light:
            args.append("--light")
        if confirmed_reads is not None:
            args += ["--confirmed-reads", "true" if confirmed_reads else "false"]
        if sdk_log_level is not None:
            args += ["--sdk-log-level", sdk_log_level]
        if not tcp_precheck:
            args.append("--no-tcp-precheck")
        args += list(extra_args)

        self._events: list[DriverEvent] = []
        self._consumed: set[int] = set()
        self._cond = threading.Condition()
        self._stderr_lines: list[str] = []
        self._stdout_closed = False
        self._next_id = 0
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
            env=None if env is None else {**os.environ, **env},
        )
        self._stdout_thread = threading.Thread(
            target=self._read_stdout, name="ts-client-stdout", daemon=True
        )
        self._stderr_thread = threading.Thread(
            target=self._read_stderr, name="ts-client-stderr", daemon=True
        )
        self._stdout_thread.start()
        self._stderr_thread.start()

    # -------------------------------------------------------------- background readers

    def _read_stdout(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            text = line.strip()
            if not text:
                continue
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError:
                parsed = {"event": "non_json", "line": text}
            event: DriverEvent = (
                parsed if isinstance(parsed, dict) else {"event": "non_json", "line": text}
            )
            with self._cond:
                self._events.append(event)
                self._cond.notify_all()
        with self._cond:
            self._stdout_closed = True
            self._cond.notify_all()

    def _read_stderr(self) -> None:
        assert self._proc.stderr is not None
        for line in self._proc.stderr:
            with self._cond:
                self._stderr_lines.append(line.rstrip("\n"))

    # -------------------------------------------------------------- commands

    def send(self, cmd: Mapping[str, Any]) -> None:
        """Write one command (a JSON object with an "op") to the driver's stdin."""
        if "op" not in cmd:
            raise ValueError(f"a command needs an 'op': {cmd!r}")
        stdin = self._proc.stdin
        if stdin is None or stdin.closed:
            raise TsClientError(f"the driver's stdin is closed; cannot send {cmd!r}")
        try:
            stdin.write(json.dumps(cmd) + "\n")
            stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise TsClientError(
                f"the driver has exited; cannot send {cmd!r}{self._context()}"
            ) from exc

    def new_id(self) -> str:
        """A fresh command id: the driver copies a command's "id" into the events it causes."""
        self._next_id += 1
        return f"py{self._next_id}"

    def subscribe(self, queries: Sequence[str], timeout: float = 10.0) -> DriverEvent:
        """Subscribe to SQL queries and wait for subscription_applied (or fail on an error)."""
        cmd_id = self.new_id()
        self.send({"op": "subscribe", "queries": list(queries), "id": cmd_id})
        event = self.wait_for(
            lambda e: (
                e.get("id") == cmd_id
                and e.get("event") in ("subscription_applied", "subscription_error")
            ),
            timeout,
        )
        if event["event"] != "subscription_applied":
            raise TsClientError(f"subscription failed: {event}{self._context()}")
        return event

    def call_reducer(self, op: str, timeout: float = 10.0, **params: Any) -> DriverEvent:
        """Run a reducer op ("set_name" / "send_message") and return its reducer_result."""
        cmd_id = self.new_id()
        self.send({"op": op, **params, "id": cmd_id})
        return self.wait_for(
            lambda e: e.get("event") == "reducer_result" and e.get("id") == cmd_id, timeout
        )

    def dump(self, timeout: float = 10.0) -> DriverEvent:
        """The client cache: {"user": [...], "message": [...], "counts": {...}}."""
        cmd_id = self.new_id()
        self.send({"op": "dump", "id": cmd_id})
        return self.wait_for(lambda e: e.get("event") == "dump" and e.get("id") == cmd_id, timeout)

    # -------------------------------------------------------------- events

    @property
    def events(self) -> list[DriverEvent]:
        """A snapshot of every event received so far, in order."""
        with self._cond:
            return list(self._events)

    @property
    def stderr(self) -> str:
        """What the driver and the SDK logged so far."""
        with self._cond:
            return "\n".join(self._stderr_lines)

    @property
    def returncode(self) -> int | None:
        """The driver's exit code, or None while it runs."""
        return self._proc.poll()

    def wait_for(
        self,
        predicate: str | EventPredicate,
        timeout: float = 10.0,
        **fields: Any,
    ) -> DriverEvent:
        """Return the earliest not yet returned event that satisfies `predicate`.

        `predicate` is an event name (then `fields` must also be equal, e.g.
        `wait_for("message_insert", text="hi")`) or a function of the event. Each event is
        returned at most once, so waiting twice for the same kind needs two such events; the
        order of waits need not follow the order of arrival (row callbacks come before the
        reducer_result of the call that caused them). Raises TsClientError on timeout, or as
        soon as the driver reports `fatal` or exits.
        """
        match = _as_predicate(predicate, fields)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for index, event in enumerate(self._events):
                    if index in self._consumed:
                        continue
                    if match(event):
                        self._consumed.add(index)
                        return event
                    if event.get("event") == "fatal":
                        raise TsClientError(
                            f"the driver failed while waiting for {_describe(predicate, fields)}: "
                            f"{event}{self._context_locked()}"
                        )
                if self._stdout_closed:
                    raise TsClientError(
                        f"the driver exited while waiting for {_describe(predicate, fields)}"
                        f"{self._context_locked()}"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TsClientError(
                        f"no {_describe(predicate, fields)} within {timeout} s"
                        f"{self._context_locked()}"
                    )
                self._cond.wait(remaining)

    def wait_connected(self, timeout: float = 15.0) -> DriverEvent:
        """Wait for `connected` ({identity, token, connection_id}); fail on connect_error."""
        event = self.wait_for(lambda e: e.get("event") in ("connected", "connect_error"), timeout)
        if event["event"] != "connected":
            raise TsClientError(f"connection failed: {event}{self._context()}")
        return event

    # -------------------------------------------------------------- shutdown

    def close(self, timeout: float = 10.0) -> int:
        """Close stdin (the driver disconnects and exits), wait, kill if needed; the exit code."""
        stdin = self._proc.stdin
        if stdin is not None and not stdin.closed:
            with suppress(BrokenPipeError):
                stdin.close()
        try:
            code = self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            code = self._proc.wait(5)
        self._stdout_thread.join(5)
        self._stderr_thread.join(5)
        return code

    def __enter__(self) -> TsChatClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _context(self) -> str:
        with self._cond:
            return self._context_locked()

    def _context_locked(self) -> str:
        recent = "\n  ".join(json.dumps(e)[:400] for e in self._events[-15:])
        logs = "\n  ".join(self._stderr_lines[-15:])
        return f"\n recent events:\n  {recent or '(none)'}\n driver stderr:\n  {logs or '(none)'}"


def _as_predicate(predicate: str | EventPredicate, fields: Mapping[str, Any]) -> EventPredicate:
    if callable(predicate):
        if fields:
            raise TypeError("field filters only go with an event name")
        return predicate
    name = predicate

    def match(event: DriverEvent) -> bool:
        return event.get("event") == name and all(event.get(k) == v for k, v in fields.items())

    return match


def _describe(predicate: str | EventPredicate, fields: Mapping[str, Any]) -> str:
    if callable(predicate):
        return "event matching the predicate"
    extra = ", ".join(f"{k}={v!r}" for k, v in fields.items())
    return f"{predicate!r} event" + (f" with {extra}" if extra else "")


def run_offline_smoke(fixtures_dir: Path, timeout: float = 120.0) -> tuple[int, list[DriverEvent]]:
    """Run dist/smoke_offline.mjs; its exit code and the JSON lines it printed."""
    ensure_ts_client()
    result = subprocess.run(
        [
            node_executable(),
            "--enable-source-maps",
            str(SMOKE_SCRIPT),
            "--fixtures",
            str(fixtures_dir),
        ],
        cwd=TS_CLIENT_DIR,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines: list[DriverEvent] = []
    for raw in result.stdout.splitlines():
        if raw.strip():
            try:
                parsed = json.loads(raw)
            except json.JSONDecodeError:
                parsed = {"event": "non_json", "line": raw}
            lines.append(parsed if isinstance(parsed, dict) else {"event": "non_json", "line": raw})
    return result.returncode, lines


__all__ = [
    "DIST_DIR",
    "DRIVER_SCRIPT",
    "EXIT_CONNECT_FAILED",
    "EXIT_DEADLINE",
    "EXIT_FATAL",
    "EXIT_OK",
    "EXIT_WAIT_FAILED",
    "SMOKE_SCRIPT",
    "TS_CLIENT_DIR",
    "DriverEvent",
    "TsChatClient",
    "TsClientError",
    "TsHarnessError",
    "ensure_ts_client",
    "node_executable",
    "run_offline_smoke",
    "typecheck_ts_client",
]
