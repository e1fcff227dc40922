"""``Timestamp`` (a point in time) and ``TimeDuration`` (a signed span), both in microseconds."""

from __future__ import annotations

import datetime as _dt
import time
from functools import total_ordering
from typing import Final, overload

__all__ = ["TimeDuration", "Timestamp"]

_EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_I64_MIN: Final = -(1 << 63)
_I64_MAX: Final = (1 << 63) - 1


def _check_i64(value: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} takes an int number of microseconds, got {type(value).__name__}")
    if not _I64_MIN <= value <= _I64_MAX:
        raise OverflowError(f"{what} out of the i64 microsecond range: {value}")
    return value


@total_ordering
class TimeDuration:
    """A signed duration with microsecond resolution (i64 on the wire)."""

    __slots__ = ("_micros",)

    def __init__(self, micros: int) -> None:
        self._micros = _check_i64(micros, "TimeDuration")

    @classmethod
    def from_timedelta(cls, delta: _dt.timedelta) -> TimeDuration:
        """Convert a ``datetime.timedelta`` (exact to the microsecond)."""
        return cls((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)

    @classmethod
    def from_seconds(cls, seconds: float) -> TimeDuration:
        """Build from (possibly fractional) seconds, rounded to the nearest microsecond."""
        return cls(round(seconds * 1_000_000))

    @property
    def micros(self) -> int:
        """The duration in microseconds."""
        return self._micros

    def total_seconds(self) -> float:
        """The duration in seconds."""
        return self._micros / 1_000_000

    def to_timedelta(self) -> _dt.timedelta:
        """Convert to ``datetime.timedelta``."""
        return _dt.timedelta(microseconds=self._micros)

    def __add__(self, other: TimeDuration) -> TimeDuration:
        if not isinstance(other, TimeDuration):
            return NotImplemented
        return TimeDuration(self._micros + other._micros)

    def __sub__(self, other: TimeDuration) -> TimeDuration:
        if not isinstance(other, TimeDuration):
            return NotImplemented
        return TimeDuration(self._micros - other._micros)

    def __neg__(self) -> TimeDuration:
        return TimeDuration(-self._micros)

    def __abs__(self) -> TimeDuration:
        return TimeDuration(abs(self._micros))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TimeDuration) and other._micros == self._micros

    def __lt__(self, other: TimeDuration) -> bool:
        if not isinstance(other, TimeDuration):
            return NotImplemented
        return self._micros < other._micros

    def __hash__(self) -> int:
        return hash((TimeDuration, self._micros))

    def __repr__(self) -> str:
        return f"TimeDuration(micros={self._micros})"

    def __str__(self) -> str:
        sign = "-" if self._micros < 0 else "+"
        whole, frac = divmod(abs(self._micros), 1_000_000)
        return f"{sign}{whole}.{frac:06d}s"


@total_ordering
class Timestamp:
    """A point in time: signed microseconds since 1970-01-01T00:00:00Z (i64 on the wire)."""

    __slots__ = ("_micros",)

    def __init__(self, micros_since_unix_epoch: int) -> None:
        self._micros = _check_i64(micros_since_unix_epoch, "Timestamp")

    @classmethod
    def now(cls) -> Timestamp:
        """The current time."""
        return cls(time.time_ns() // 1_000)

    @classmethod
    def from_datetime(cls, when: _dt.datetime) -> Timestamp:
        """Convert a timezone-aware ``datetime`` (naive datetimes are rejected as ambiguous)."""
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError("Timestamp.from_datetime needs a timezone-aware datetime")
        delta = when - _EPOCH
        return cls((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)

    @classmethod
    def from_iso(cls, text: str) -> Timestamp:
        """Parse an ISO-8601 string with an offset (``Z`` accepted)."""
        return cls.from_datetime(_dt.datetime.fromisoformat(text.replace("Z", "+00:00")))

    @property
    def micros_since_unix_epoch(self) -> int:
        """Microseconds since the Unix epoch."""
        return self._micros

    def to_datetime(self) -> _dt.datetime:
        """The UTC ``datetime`` (raises OverflowError outside datetime's year range)."""
        return _EPOCH + _dt.timedelta(microseconds=self._micros)

    def to_iso(self) -> str:
        """ISO-8601 in UTC with microseconds and a ``Z`` suffix."""
        return self.to_datetime().strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def since(self, earlier: Timestamp) -> TimeDuration:
        """The duration from ``earlier`` to this timestamp."""
        return TimeDuration(self._micros - earlier._micros)

    def __add__(self, other: TimeDuration) -> Timestamp:
        if not isinstance(other, TimeDuration):
            return NotImplemented
        return Timestamp(self._micros + other.micros)

    __radd__ = __add__

    @overload
    def __sub__(self, other: TimeDuration) -> Timestamp: ...

    @overload
    def __sub__(self, other: Timestamp) -> TimeDuration: ...

    def __sub__(self, other: TimeDuration | Timestamp) -> Timestamp | TimeDuration:
        if isinstance(other, TimeDuration):
            return Timestamp(self._micros - other.micros)
        if isinstance(other, Timestamp):
            return TimeDuration(self._micros - other._micros)
        return NotImplemented

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timestamp) and other._micros == self._micros

    def __lt__(self, other: Timestamp) -> bool:
        if not isinstance(other, Timestamp):
            return NotImplemented
        return self._micros < other._micros

    def __hash__(self) -> int:
        return hash((Timestamp, self._micros))

    def __repr__(self) -> str:
        return f"Timestamp(micros_since_unix_epoch={self._micros})"

    def __str__(self) -> str:
        try:
            return self.to_iso()
        except (OverflowError, ValueError):
            return f"Timestamp({self._micros}us)"
