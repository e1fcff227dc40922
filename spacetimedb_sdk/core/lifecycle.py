"""When a connection opens, waits, retries and gives up: a small sans-I/O state machine.

The drivers own sockets and timers but decide nothing: they report what happened (the socket
opened, failed to open, closed; a wait ended) and carry out the action they get back::

                 opened                 socket closed: auto-reconnect, was up, not closing
    OPENING ───────────────► UP ──────────────────────────────────────► WAITING
       │                     ▲  │ socket closed otherwise                 │   ▲
       │ failed / closed     │  └──────────────► CLOSED                   │   │ attempt failed,
       │ before set up       │                                waited     ▼   │ attempts left
       └─────────► CLOSED    └────────── opened ◄──────────────────── OPENING (attempt n)
                                                   (no attempts left, or closing: GiveUp -> CLOSED)

Actions: :class:`Open` (open a socket now), :class:`Wait` (tell the user, sleep, then call
:meth:`ConnectionLifecycle.waited`), :class:`Serve` (read the socket until it closes) and
:class:`GiveUp` (the connection is over; report it on the callback thread). Reporting -- callbacks, effects --
is the client's job; this module only decides.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from spacetimedb_sdk.core.errors import ConnectError, DisconnectedError
from spacetimedb_sdk.identity import Identity
from spacetimedb_sdk.redaction import sdk_logger

if TYPE_CHECKING:
    from spacetimedb_sdk.core.connection import ConnectionCore

__all__ = ["Action", "ConnectionLifecycle", "GiveUp", "Open", "Phase", "Serve", "Wait"]

_log = sdk_logger("spacetimedb_sdk.driver")


class Phase(enum.Enum):
    """Where the connection's life is."""

    OPENING = "opening"
    UP = "up"
    WAITING = "waiting"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Open:
    """Open a socket now, then report :meth:`ConnectionLifecycle.opened` or ``open_failed``."""

    attempt: int


@dataclass(frozen=True, slots=True)
class Wait:
    """Announce reconnect ``attempt`` (``on_reconnecting``), sleep ``delay`` seconds (a close
    request ends the sleep early), then report :meth:`ConnectionLifecycle.waited`."""

    attempt: int
    delay: float
    error: BaseException | None


@dataclass(frozen=True, slots=True)
class Serve:
    """The socket is in use: read it until it closes, then report the close."""


@dataclass(frozen=True, slots=True)
class GiveUp:
    """The connection is over: ``error`` is why (None when the client asked for the close).

    ``set_up`` is False when it never got as far as ``InitialConnection`` (a connect error).
    """

    error: BaseException | None
    set_up: bool = True


Action = Open | Wait | Serve | GiveUp


class ConnectionLifecycle:
    """The open / reconnect / give-up decisions of one connection.

    ``delays`` yields the wait before each reconnect attempt (None: never reconnect).
    """

    def __init__(
        self, core: ConnectionCore, delays: Callable[[], Iterable[float]] | None = None
    ) -> None:
        self._core = core
        self._delays = delays
        self.phase = Phase.OPENING
        #: True once ``disconnect()`` was asked for.
        self.closing = False
        #: True once the first session got its ``InitialConnection``.
        self.ever_connected = False
        #: The identity of the first session (a reconnect must get the same one).
        self.identity: Identity | None = None
        self._attempts: Iterator[tuple[int, float]] | None = None
        self._attempt = 0
        self._error: BaseException | None = None

    def request_close(self) -> bool:
        """``disconnect()`` was called; False when it already was."""
        if self.closing:
            return False
        self.closing = True
        return True

    def connected(self, identity: Identity, reconnected: bool) -> ConnectError | None:
        """``InitialConnection`` arrived; the error when a reconnect got another identity."""
        if reconnected:
            if self.identity is not None and identity != self.identity:
                return ConnectError(
                    f"the server gave a different identity on reconnect ({identity} "
                    f"instead of {self.identity}); giving up"
                )
            return None
        self.ever_connected = True
        self.identity = identity
        return None

    def opened(self) -> Serve | GiveUp:
        """A socket opened (and its subprotocol was accepted)."""
        if self._attempt and self.closing:
            self.phase = Phase.CLOSED
            return GiveUp(None)
        self.phase = Phase.UP
        return Serve()

    def socket_closed(self, error: BaseException | None) -> Wait | GiveUp:
        """The socket closed; ``error`` is why (None for a close the client asked for)."""
        if not self.ever_connected:
            self.phase = Phase.CLOSED
            return GiveUp(error, set_up=False)
        reconnect = self._delays is not None and not self.closing and not self._core.is_closed
        if not reconnect:
            self.phase = Phase.CLOSED
            return GiveUp(error)
        assert self._delays is not None
        self._attempts = enumerate(self._delays(), 1)
        self._error = error
        return self._next()

    def waited(self, stopped: bool) -> Open | GiveUp:
        """The wait of the last :class:`Wait` ended (``stopped``: a close request ended it)."""
        if stopped or self.closing:
            return self._give_up()
        try:
            self._core.begin_reconnect()
        except DisconnectedError:
            return self._give_up()
        self.phase = Phase.OPENING
        return Open(self._attempt)

    def open_failed(self, error: ConnectError) -> Wait | GiveUp:
        """Opening the socket of a reconnect attempt failed."""
        self._error = error
        _log.info("reconnect attempt %d failed: %s", self._attempt, error)
        return self._next()

    def _next(self) -> Wait | GiveUp:
        assert self._attempts is not None
        step = next(self._attempts, None)
        if step is None:
            return self._give_up()
        self._attempt, delay = step
        self.phase = Phase.WAITING
        return Wait(self._attempt, delay, self._error)

    def _give_up(self) -> GiveUp:
        self.phase = Phase.CLOSED
        return GiveUp(None if self.closing else self._error)
