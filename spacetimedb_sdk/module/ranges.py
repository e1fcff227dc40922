"""Ranges for BTree index filters: ``ctx.db.person.age.filter(Range(18, 65))``.

An index ``filter`` accepts a plain value (equality), a :class:`Range`, a ``range`` of ints with
step 1 (``range(18, 65)`` is 18 ≤ x < 65) or a ``slice`` (``slice(18, None)`` is x ≥ 18). On a
multi-column index, pass a tuple: a prefix of equal values, whose last element may be a range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["UNBOUNDED", "Range", "as_range"]


class _Unbounded:
    def __repr__(self) -> str:
        return "UNBOUNDED"


#: Marks a missing bound.
UNBOUNDED: Any = _Unbounded()


@dataclass(frozen=True)
class Range:
    """Values between ``start`` and ``end``; by default start is inclusive, end exclusive."""

    start: Any = UNBOUNDED
    end: Any = UNBOUNDED
    start_inclusive: bool = True
    end_inclusive: bool = False

    @classmethod
    def closed(cls, start: Any, end: Any) -> Range:
        """``start ≤ x ≤ end``."""
        return cls(start, end, True, True)

    @classmethod
    def at_least(cls, start: Any) -> Range:
        """``x ≥ start``."""
        return cls(start, UNBOUNDED)

    @classmethod
    def greater_than(cls, start: Any) -> Range:
        """``x > start``."""
        return cls(start, UNBOUNDED, start_inclusive=False)

    @classmethod
    def below(cls, end: Any) -> Range:
        """``x < end``."""
        return cls(UNBOUNDED, end)

    @classmethod
    def at_most(cls, end: Any) -> Range:
        """``x ≤ end``."""
        return cls(UNBOUNDED, end, end_inclusive=True)


def as_range(value: Any) -> Range | None:
    """``value`` as a :class:`Range` if it denotes one (Range, int range, slice), else None."""
    if isinstance(value, Range):
        return value
    if isinstance(value, range):
        if value.step != 1:
            raise ValueError("index ranges must have step 1")
        return Range(value.start, value.stop)
    if isinstance(value, slice):
        if value.step is not None:
            raise ValueError("index slices cannot have a step")
        return Range(
            UNBOUNDED if value.start is None else value.start,
            UNBOUNDED if value.stop is None else value.stop,
        )
    return None
