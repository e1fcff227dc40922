"""The SQL layer's one error type, and the guard that turns deep recursion into it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from spacetimedb_sdk.errors import SpacetimeDBError

__all__ = ["SqlError", "recursion_guard"]


class SqlError(SpacetimeDBError, ValueError):
    """A query or statement was rejected: syntax, unsupported construct, name or type error."""


@contextlib.contextmanager
def recursion_guard(where: str) -> Iterator[None]:
    """Report a ``RecursionError`` inside the block as a :class:`SqlError` naming ``where``."""
    # Deeply nested SQL (thousands of parentheses) exhausts Python's stack somewhere in sqlglot
    # or in our tree walks; report it the way the server reports its own nesting limit.
    try:
        yield
    except RecursionError:
        raise SqlError(f"Recursion limit exceeded, `{where}`") from None
