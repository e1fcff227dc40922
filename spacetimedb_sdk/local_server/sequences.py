"""Auto-increment sequences with block reservation (docs/module-def.md#sequences).

A sequence hands out ``start, start + increment, ...``. Values are reserved in blocks of
:data:`BLOCK_SIZE`: before handing out a value beyond the reserved range the sequence reserves
the next block and records its end (``allocated``), which is made durable with the transaction.
After a restart numbering resumes at the persisted ``allocated`` value, so values are never
reused even if the last values handed out were never committed; gaps are normal.

Defaults for bounds the module leaves open: start 1, min 1, max ``i128::MAX``. Past ``max`` the
sequence wraps to ``min``. Generated values are written truncated to the column's width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["BLOCK_SIZE", "I128_MAX", "Sequence", "SequenceSpec", "truncate_to_column"]

BLOCK_SIZE: Final = 4096
I128_MAX: Final = (1 << 127) - 1

_WIDTHS: Final = {
    "I8": (8, True), "U8": (8, False), "I16": (16, True), "U16": (16, False),
    "I32": (32, True), "U32": (32, False), "I64": (64, True), "U64": (64, False),
    "I128": (128, True), "U128": (128, False), "I256": (256, True), "U256": (256, False),
}  # fmt: skip


@dataclass(frozen=True)
class SequenceSpec:
    """A sequence as declared: column position, bounds and step (``None`` = default)."""

    column: int
    start: int | None = None
    min_value: int | None = None
    max_value: int | None = None
    increment: int = 1


def truncate_to_column(value: int, type_name: str) -> int:
    """``value`` wrapped to the width of an integer column (as the host writes it)."""
    bits, signed = _WIDTHS[type_name]
    value &= (1 << bits) - 1
    if signed and value >= 1 << (bits - 1):
        value -= 1 << bits
    return value


class Sequence:
    """The live state of one sequence: the next value and the end of the reserved block."""

    __slots__ = ("allocated", "column", "increment", "max_value", "min_value", "next_value")

    def __init__(self, spec: SequenceSpec, allocated: int | None = None) -> None:
        self.column = spec.column
        self.increment = spec.increment or 1
        self.min_value = 1 if spec.min_value is None else spec.min_value
        self.max_value = I128_MAX if spec.max_value is None else spec.max_value
        start = self.min_value if spec.start is None else spec.start
        if allocated is None:
            self.next_value = start
            # Nothing reserved yet: the first value needs a block.
            self.allocated = start
        else:
            # Restart: continue at the end of the last durable block.
            self.next_value = allocated
            self.allocated = allocated

    def state(self) -> tuple[int, int]:
        """``(next_value, allocated)`` for undo."""
        return self.next_value, self.allocated

    def restore(self, state: tuple[int, int]) -> None:
        """Undo to a saved :meth:`state`."""
        self.next_value, self.allocated = state

    def generate(self) -> tuple[int, bool]:
        """The next value, and whether a new block was reserved (``allocated`` changed)."""
        value = self.next_value
        reserved = False
        if self._needs_block(value):
            self.allocated = value + self.increment * BLOCK_SIZE
            reserved = True
        nxt = value + self.increment
        if nxt > self.max_value or nxt < self.min_value:
            nxt = self.min_value if self.increment > 0 else self.max_value
        self.next_value = nxt
        return value, reserved

    def _needs_block(self, value: int) -> bool:
        if self.increment > 0:
            return value >= self.allocated
        return value <= self.allocated
