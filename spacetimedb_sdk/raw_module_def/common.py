"""The parts V9 and V10 share: index algorithms, unique constraints and row-level security."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "RawConstraintDataV9",
    "RawIndexAlgorithm",
    "RawIndexAlgorithmBTree",
    "RawIndexAlgorithmDirect",
    "RawIndexAlgorithmHash",
    "RawRowLevelSecurityDefV9",
    "RawUniqueConstraintDataV9",
]


@dataclass(frozen=True, slots=True)
class RawIndexAlgorithmBTree:
    """``RawIndexAlgorithm::BTree { columns }`` (ordered column list)."""

    columns: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RawIndexAlgorithmHash:
    """``RawIndexAlgorithm::Hash { columns }`` (ordered column list)."""

    columns: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RawIndexAlgorithmDirect:
    """``RawIndexAlgorithm::Direct { column }`` (a single small-integer or plain-enum column)."""

    column: int


RawIndexAlgorithm: TypeAlias = (
    "RawIndexAlgorithmBTree | RawIndexAlgorithmHash | RawIndexAlgorithmDirect"
)


@dataclass(frozen=True, slots=True)
class RawUniqueConstraintDataV9:
    """``RawUniqueConstraintDataV9``: the columns (a set) that must be unique together."""

    columns: tuple[int, ...]


#: ``RawConstraintDataV9`` has a single variant, ``Unique``; it is represented by its payload.
RawConstraintDataV9: TypeAlias = RawUniqueConstraintDataV9


@dataclass(frozen=True, slots=True)
class RawRowLevelSecurityDefV9:
    """A row-level-security rule (shared by V9 and V10)."""

    sql: str
