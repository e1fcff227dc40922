"""Errors module code raises (``SenderError``) or may catch (the datastore's refusals)."""

from __future__ import annotations

from spacetimedb_sdk.errors import SpacetimeDBError

__all__ = [
    "NoTransactionError",
    "RowNotFoundError",
    "ScheduleDelayTooLongError",
    "SenderError",
    "UniqueConstraintViolation",
]


class SenderError(Exception):
    """Raise from a reducer to reject the call: the transaction is rolled back and the caller
    sees exactly ``str(error)`` as the reducer's error (a "user error", not a crash)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UniqueConstraintViolation(SpacetimeDBError):  # noqa: N818 (the Rust name)
    """An insert or update would duplicate a unique or primary-key value.

    The text is the Rust bindings' ``insertion error on table `<table>`:duplicate unique column``.
    Uncaught, it fails the reducer with an internal error, as in the official bindings.
    """

    def __init__(self, table: str) -> None:
        super().__init__(f"insertion error on table `{table}`:duplicate unique column")
        self.table = table


class RowNotFoundError(SpacetimeDBError):
    """``update`` found no row with the given primary-key value."""


class ScheduleDelayTooLongError(SpacetimeDBError):
    """A ``ScheduleAt`` lies 2^36 - 1 ms (about 2.18 years) or more in the future."""


class NoTransactionError(SpacetimeDBError):
    """Table access outside a transaction (e.g. in a procedure outside ``ctx.with_tx``)."""
