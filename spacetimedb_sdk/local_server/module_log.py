"""Module logs: what a hosted module's code logs, kept per database and served by
``GET /v1/database/<db>/logs`` (see :func:`spacetimedb_sdk.local_server.http_routes`).

Module code logs with the standard :mod:`logging` module. While the host runs module code
(:func:`module_code`), every record that reaches the root logger from that thread (the server's
log level applies) is also kept in the database's :class:`ModuleLog`, as one JSON line in the
real server's format::

    {"level":"Info","ts":1764672000000000,"target":"chat","filename":"/srv/chat.py",
     "line_number":12,"function":"send_message","message":"hello"}

``level`` is ``Error``, ``Warn``, ``Info``, ``Debug`` or ``Trace``; ``ts`` is microseconds
since the Unix epoch; ``function`` is the reducer or procedure being run. A call that fails
(other than with ``SenderError``) adds an ``Error`` line naming the exception.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from typing import Final

__all__ = ["ModuleLog", "install_capture", "module_code"]

#: Lines kept per database (the oldest go first).
MAX_LINES: Final = 10_000


def _level_name(levelno: int) -> str:
    if levelno >= logging.ERROR:
        return "Error"
    if levelno >= logging.WARNING:
        return "Warn"
    if levelno >= logging.INFO:
        return "Info"
    if levelno >= logging.DEBUG:
        return "Debug"
    return "Trace"


class ModuleLog:
    """One database's module log: the last :data:`MAX_LINES` lines, and followers."""

    def __init__(self, max_lines: int = MAX_LINES) -> None:
        self._lines: collections.deque[str] = collections.deque(maxlen=max_lines)
        self._lock = threading.Lock()
        self._followers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[str | None]]] = set()

    def write(
        self,
        level: str,
        message: str,
        *,
        ts_micros: int,
        function: str | None,
        target: str | None = None,
        filename: str | None = None,
        line_number: int | None = None,
    ) -> None:
        """Append one record (any thread); followers get it too."""
        record: dict[str, object] = {"level": level, "ts": ts_micros}
        for key, value in (
            ("target", target),
            ("filename", filename),
            ("line_number", line_number),
            ("function", function),
        ):
            if value is not None:
                record[key] = value
        record["message"] = message
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            self._lines.append(line)
            followers = list(self._followers)
        for loop, queue in followers:
            with contextlib.suppress(RuntimeError):  # that loop is already closed
                loop.call_soon_threadsafe(queue.put_nowait, line)

    def tail(self, num_lines: int | None) -> list[str]:
        """The last ``num_lines`` lines (all when None)."""
        with self._lock:
            lines = list(self._lines)
        return lines if num_lines is None else lines[len(lines) - min(num_lines, len(lines)) :]

    def follow(self, num_lines: int | None) -> tuple[list[str], asyncio.Queue[str | None]]:
        """(On an event loop) the last ``num_lines`` lines (none when None, as the real server
        starts a follow without a count at the end) and a queue of every later line; stop with
        :meth:`unfollow`. :meth:`close_followers` puts None in every queue."""
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            self._followers.add(entry)
            lines = list(self._lines)
        if not num_lines:
            return [], queue
        return lines[len(lines) - min(num_lines, len(lines)) :], queue

    def unfollow(self, queue: asyncio.Queue[str | None]) -> None:
        """Stop feeding ``queue``."""
        with self._lock:
            self._followers = {f for f in self._followers if f[1] is not queue}

    def close_followers(self) -> None:
        """End every follow (the server is stopping)."""
        with self._lock:
            followers = list(self._followers)
            self._followers.clear()
        for loop, queue in followers:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, None)


_CURRENT = threading.local()


@contextlib.contextmanager
def module_code(log: ModuleLog, function: str | None) -> Iterator[None]:
    """Within the block, this thread's log records also go to ``log``, as ``function``'s."""
    previous = getattr(_CURRENT, "call", None)
    _CURRENT.call = (log, function)
    try:
        yield
    finally:
        _CURRENT.call = previous


class _CaptureHandler(logging.Handler):
    """On the root logger: copies records made inside :func:`module_code` to the module log."""

    def emit(self, record: logging.LogRecord) -> None:
        call = getattr(_CURRENT, "call", None)
        if call is None or record.name.startswith("spacetimedb_sdk."):
            return  # not module code, or the server's own lines about it
        log, function = call
        try:
            message = record.getMessage()
        except Exception:  # a bad format string in module code: keep what was given
            message = str(record.msg)
        log.write(
            _level_name(record.levelno),
            message,
            ts_micros=int(record.created * 1_000_000),
            function=function,
            target=record.name,
            filename=record.pathname,
            line_number=record.lineno,
        )


_HANDLER: Final = _CaptureHandler()
_INSTALL_LOCK = threading.Lock()


def install_capture() -> None:
    """Attach the capturing handler to the root logger (once per process)."""
    with _INSTALL_LOCK:
        root = logging.getLogger()
        if _HANDLER not in root.handlers:
            root.addHandler(_HANDLER)
