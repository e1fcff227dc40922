"""What one committed transaction changed: per table, the net inserted and deleted rows.

Rows are given as ``(row_bytes, value)`` pairs: the exact BSATN bytes (the row's identity, what
goes on the wire) and the decoded value in the module's form (instances of its classes; treat as
read-only). "Net" means a row inserted and deleted in the same transaction appears in neither
list, and a row deleted and re-inserted unchanged appears in neither. A primary-key update shows
up as one delete plus one insert with the same key.

Event tables report their rows in ``inserts`` with ``is_event=True`` and never in ``deletes``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Row", "TableDelta", "TxDelta"]

#: ``(BSATN bytes, decoded module value)``.
Row = tuple[bytes, Any]


@dataclass(frozen=True)
class TableDelta:
    """The net changes to one table (canonical name) in one transaction."""

    table: str
    inserts: tuple[Row, ...]
    deletes: tuple[Row, ...]
    is_event: bool = False

    @property
    def insert_bytes(self) -> list[bytes]:
        """Just the inserted rows' bytes."""
        return [b for b, _ in self.inserts]

    @property
    def delete_bytes(self) -> list[bytes]:
        """Just the deleted rows' bytes."""
        return [b for b, _ in self.deletes]


@dataclass(frozen=True)
class TxDelta:
    """All changes of one transaction.

    ``tables``: user tables with at least one change, by canonical name. ``system``: the same for
    system tables (``st_client``), kept apart because clients never subscribe to them.
    ``sequence_allocations``: sequence blocks reserved by the transaction, ``(table, column) →
    allocated`` (for durability).
    """

    tables: Mapping[str, TableDelta] = field(default_factory=dict)
    system: Mapping[str, TableDelta] = field(default_factory=dict)
    sequence_allocations: Mapping[tuple[str, int], int] = field(default_factory=dict)

    def __iter__(self) -> Iterator[TableDelta]:
        return iter(self.tables.values())

    def __bool__(self) -> bool:
        return bool(self.tables)

    def is_empty(self) -> bool:
        """True when no user table changed."""
        return not self.tables

    def table(self, name: str) -> TableDelta | None:
        """The delta of one table, or None if it did not change."""
        return self.tables.get(name)


EMPTY_DELTA = TxDelta()
