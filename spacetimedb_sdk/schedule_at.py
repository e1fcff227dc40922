"""``ScheduleAt``: when a scheduled reducer runs (an interval, or one point in time)."""

from __future__ import annotations

from typing import Final

from spacetimedb_sdk.timestamp import TimeDuration, Timestamp

__all__ = ["ScheduleAt"]


class ScheduleAt:
    """Either ``Interval(TimeDuration)`` (tag 0, repeating) or ``Time(Timestamp)`` (tag 1, once).

    Build with :meth:`interval` or :meth:`time`; ``value`` holds the payload.
    """

    __slots__ = ("_value",)
    INTERVAL: Final = 0
    TIME: Final = 1

    def __init__(self, value: TimeDuration | Timestamp) -> None:
        if not isinstance(value, (TimeDuration, Timestamp)):
            raise TypeError("ScheduleAt holds a TimeDuration (interval) or a Timestamp (time)")
        self._value = value

    @classmethod
    def interval(cls, every: TimeDuration) -> ScheduleAt:
        """Run repeatedly, every ``every``."""
        return cls(every)

    @classmethod
    def time(cls, at: Timestamp) -> ScheduleAt:
        """Run once, at ``at``."""
        return cls(at)

    @property
    def value(self) -> TimeDuration | Timestamp:
        """The payload: a TimeDuration for an interval, a Timestamp for a point in time."""
        return self._value

    @property
    def tag(self) -> int:
        """The BSATN tag: 0 for Interval, 1 for Time."""
        return self.TIME if isinstance(self._value, Timestamp) else self.INTERVAL

    @property
    def is_interval(self) -> bool:
        """True for ``Interval``."""
        return isinstance(self._value, TimeDuration)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScheduleAt) and other._value == self._value

    def __hash__(self) -> int:
        return hash((ScheduleAt, self._value))

    def __repr__(self) -> str:
        kind = "Interval" if self.is_interval else "Time"
        return f"ScheduleAt.{kind.lower()}({self._value!r})"
