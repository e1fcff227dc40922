"""The rows one request may scan (``row_limit``), charged while a query is evaluated."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

from spacetimedb_sdk.local_server.sql.errors import SqlError

__all__ = ["RowBudget", "RowLimitExceededError"]


_T = TypeVar("_T")


class RowLimitExceededError(SqlError):
    """A query scanned more rows than the database's ``row_limit`` allows its caller."""


class RowBudget:
    """The rows one request may scan (``row_limit``); evaluation stops as soon as it is spent.

    Every row read from a table and every row combination a join produces costs one, so a huge
    join is cut off early instead of being built and then refused.
    """

    __slots__ = ("limit", "used")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def meter(self, rows: Iterable[_T]) -> Iterator[_T]:
        """``rows``, charging one per row taken (raises :class:`RowLimitExceededError`)."""
        limit = self.limit
        for row in rows:
            self.used += 1
            if self.used > limit:
                raise RowLimitExceededError(
                    f"The query scans more than the row_limit of {limit} rows"
                )
            yield row
