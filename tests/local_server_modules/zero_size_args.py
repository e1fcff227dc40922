"""A module whose reducer takes an array of a zero-size type (an empty product), for the test
that a four-byte length claim in its arguments is refused without building anything."""

from __future__ import annotations

from dataclasses import dataclass

from spacetimedb_sdk.module import ReducerContext, primary_key, reducer, table, u32, u64


@dataclass
class Nothing:
    """A product with no fields: it encodes to zero bytes."""


@table(public=True)
class Tally:
    """How many units each call received."""

    id: u64 = primary_key(auto_inc=True)
    units: u32


@reducer
def count_units(ctx: ReducerContext, units: list[Nothing]) -> None:
    """Record how many units arrived."""
    ctx.db.tally.insert(Tally(id=0, units=len(units)))
